"""Fixtures of the security suite: the session's app behind a second server that trusts X-Real-IP (so one test
can speak from many addresses), and servers with short connection timeouts."""

from __future__ import annotations

import dataclasses

import pytest

from fresh.web import server_options
from tests.helpers import AppServer, Client


@pytest.fixture(scope="session")
async def proxied_url(app, settings):
    """The session's application on another port, trusting X-Real-IP as it does behind nginx."""
    async with AppServer() as server:
        server.serve(app, owned=False, **dict(server_options(settings), xheaders=True))
        yield server.url


class FromIP(Client):
    """A client whose requests claim to come from `ip` (through the X-Real-IP-trusting server)."""

    def __init__(self, base_url: str, ip: str):
        super().__init__(base_url)
        self.ip = ip

    async def request(self, method, path, data=None, *, headers=None, **kw):
        return await super().request(method, path, data, headers={"X-Real-IP": self.ip, **(headers or {})}, **kw)


@pytest.fixture
def from_ip(proxied_url):
    return lambda ip: FromIP(proxied_url, ip)


@pytest.fixture
async def impatient_port(app, settings):
    """The session's application behind a server that gives idle connections and bodies one second."""
    cfg = dataclasses.replace(settings, web=dataclasses.replace(settings.web, idle_connection_timeout=1.0,
                                                                body_timeout=1.0))
    async with AppServer() as server:
        server.serve(app, owned=False, **server_options(cfg))
        yield server.port


# --- the world the attacks run in ---------------------------------------------------------------------------

A_MARK = "甲的收件人"      # A's receiver name: must never show on a page that is not A's
A_ADDR = "甲的秘密地址1号"


@dataclasses.dataclass
class World:
    anon: Client
    a: Client
    b: Client
    staff: Client
    a_id: int
    b_id: int
    a_addr: int
    b_addr: int
    a_order: str
    a_paid_order: str
    sku: int

    def client(self, who: str) -> Client:
        return getattr(self, who)


@pytest.fixture
async def world(base_url, pool, redis, settings) -> World:
    """Shoppers A and B (each with an address; A with an unpaid and a paid order), a staff user, one SKU."""
    from fresh import db
    from fresh.cart.cart import cart_key
    from fresh.orders.place import place_order
    from tests.helpers import add_address, create_user

    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo) VALUES ('新鲜水果', 'fruit')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('草莓', '<p>甜</p>')")
        goods_id = cur.lastrowid
        await cur.execute("INSERT INTO goods_sku (type_id, goods_id, name, price, unite, image, stock, sales, status)"
                          " VALUES (%s,%s,'草莓','10.50','500g','',100,0,1)", (type_id, goods_id))
        sku = cur.lastrowid
    a_id = await create_user(pool, settings, "shopper_a")
    b_id = await create_user(pool, settings, "shopper_b")
    await create_user(pool, settings, "staff_01", staff=True)
    a_addr = await add_address(pool, a_id, receiver=A_MARK)
    await db.execute(pool, "UPDATE addresses SET addr=%s WHERE id=%s", (A_ADDR, a_addr))
    b_addr = await add_address(pool, b_id, receiver="乙")
    orders = []
    for _ in range(2):
        await redis.hset(cart_key(a_id), str(sku), "1")
        orders.append(await place_order(pool, redis, settings.orders, user_id=a_id, addr_id=a_addr, pay_method=3,
                                        sku_ids=[sku], idem_key=None))
    # The second is paid (status 2: waiting to be shipped), so confirm and comment paths have something to act on.
    await db.execute(pool, "UPDATE order_info SET order_status=2 WHERE order_id=%s", (orders[1],))
    clients = {}
    for who, name in (("a", "shopper_a"), ("b", "shopper_b"), ("staff", "staff_01")):
        clients[who] = Client(base_url)
        await clients[who].login(name)
    return World(anon=Client(base_url), a_id=a_id, b_id=b_id, a_addr=a_addr, b_addr=b_addr, a_order=orders[0],
                 a_paid_order=orders[1], sku=sku, **clients)


class Snapshot:
    """What MariaDB and Redis hold, to compare around a refused request. Throttle counters are left out (counting
    a refused attempt is their job), and so are caches (`cache:*`, filled by reads whatever their answer)."""

    VOLATILE = (b"throttle:", b"cache:")

    def __init__(self, pool, redis, db_name: str):
        self.pool, self.redis, self.db_name = pool, redis, db_name
        self.tables: list[str] = []

    async def take(self) -> tuple:
        from fresh import db

        if not self.tables:
            rows = await db.fetchall(self.pool, "SELECT table_name AS t FROM information_schema.tables"
                                                " WHERE table_schema=%s AND table_name <> 'schema_migrations'",
                                     (self.db_name,))
            self.tables = sorted(row["t"] for row in rows)
        # Table names come from information_schema, never from input.
        sums = await db.fetchall(self.pool, "CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in self.tables))
        keys = sorted(k for k in [key async for key in self.redis.scan_iter(count=1000)]
                      if not k.startswith(self.VOLATILE))
        values = []
        if keys:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.dump(key)
                values = await pipe.execute()
        return tuple((r["Table"], r["Checksum"]) for r in sums), tuple(zip(keys, values, strict=True))


@pytest.fixture(scope="session")
async def raw_redis(settings):
    """The test Redis database without reply decoding (DUMP values are binary)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.redis.url, decode_responses=False)
    yield client
    await client.aclose()


@pytest.fixture
def snapshot(pool, raw_redis, settings) -> Snapshot:
    return Snapshot(pool, raw_redis, settings.db.name)
