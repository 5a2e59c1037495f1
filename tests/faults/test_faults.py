"""Faults: a stalled or killed MariaDB connection, a killed and restarted Redis, a pool whose connections were
dropped. The shop answers 503 with a Chinese message, leaves no partial order, and recovers by itself."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from fresh import db
from fresh.cart.cart import cart_key
from fresh.orders.place import CommitRes
from tests.faults.conftest import FAULTS_DB, wait_until
from tests.helpers import Client, add_address, create_user

UNAVAILABLE = "服务暂时不可用"


async def _sku(pool, *, stock: int) -> int:
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo) VALUES ('新鲜水果', 'fruit')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('草莓', '<p>甜</p>')")
        goods_id = cur.lastrowid
        await cur.execute("INSERT INTO goods_sku (type_id, goods_id, name, price, unite, image, stock, sales, status)"
                          " VALUES (%s,%s,'草莓',%s,'500g','',%s,0,1)", (type_id, goods_id, Decimal("9.90"), stock))
        return cur.lastrowid


async def _app_connections(admin_pool) -> list[int]:
    rows = await db.fetchall(admin_pool, "SELECT id FROM information_schema.processlist WHERE db=%s"
                                         " AND id <> CONNECTION_ID()", (FAULTS_DB,))
    return [row["id"] for row in rows]


async def test_stalled_mariadb_answers_503_within_the_query_timeout_then_recovers(private_mariadb, faults_db,
                                                                                  make_shop):
    shop = await make_shop(db_port=private_mariadb.port,
                           db_overrides={"query_timeout": 2.0, "acquire_timeout": 1.0, "lock_wait_timeout": 1})
    await create_user(shop.pool, shop.cfg, "stalled_1")
    client = Client(shop.base_url)
    await client.login("stalled_1")
    assert (await client.get("/user/address")).code == 200
    private_mariadb.stall()
    try:
        # Without the client-side timeout this waits for the stall (the client gives up after 60 s: 599).
        stalled = await client.get("/user/address")
        ajax = await client.get("/user/address", ajax=True)
    finally:
        private_mariadb.resume()
    assert stalled.code == 503 and UNAVAILABLE in stalled.text
    assert ajax.code == 503 and UNAVAILABLE in ajax.json()["errmsg"]
    # The stalled connections were dropped, not returned: the pool serves again once the server answers.
    pages = await asyncio.gather(*(client.get("/user/address") for _ in range(5)))
    assert [p.code for p in pages] == [200] * 5
    assert shop.pool.size <= shop.cfg.db.pool_max


async def test_connection_killed_mid_order_leaves_no_partial_order(private_mariadb, faults_db, make_shop):
    shop = await make_shop(db_port=private_mariadb.port, redis_overrides={},
                           db_overrides={"query_timeout": 15.0, "lock_wait_timeout": 10})
    sku = await _sku(shop.pool, stock=10)
    user_id = await create_user(shop.pool, shop.cfg, "killed_1")
    addr_id = await add_address(shop.pool, user_id)
    await shop.redis.hset(cart_key(user_id), str(sku), "3")
    client = Client(shop.base_url)
    await client.login("killed_1")
    form = {"addr_id": str(addr_id), "pay_method": "1", "sku_ids": str(sku)}

    async with db.connection(faults_db) as holder, holder.cursor() as cur:
        # Hold the SKU row so the order's transaction stops inside, after its first statements.
        await cur.execute("BEGIN")
        await cur.execute("SELECT stock FROM goods_sku WHERE id=%s FOR UPDATE", (sku,))
        commit = asyncio.ensure_future(client.post("/order/commit", form, ajax=True))

        async def waiting() -> int | None:
            rows = await db.fetchall(faults_db, "SELECT id FROM information_schema.processlist WHERE db=%s AND"
                                                " id <> CONNECTION_ID() AND info LIKE %s", (FAULTS_DB, "%goods_sku%"))
            ids = [row["id"] for row in rows if row["id"] != holder.thread_id()]
            return ids[0] if ids else None

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (victim := await waiting()) is None:
            assert loop.time() < deadline and not commit.done(), "the order never reached the locked row"
            await asyncio.sleep(0.02)
        await db.execute(faults_db, "KILL %s", (victim,))
        await cur.execute("ROLLBACK")
    r = await commit
    assert r.code == 503 and "请稍后重试" in r.json()["errmsg"], r
    for table in ("order_info", "order_goods"):
        assert (await db.fetchone(faults_db, f"SELECT COUNT(*) AS n FROM {table}"))["n"] == 0  # noqa: S608 -- table names from a constant tuple
    row = await db.fetchone(faults_db, "SELECT stock, sales FROM goods_sku WHERE id=%s", (sku,))
    assert (row["stock"], row["sales"]) == (10, 0)
    assert await shop.redis.hget(cart_key(user_id), str(sku)) == "3"
    # The same order goes through once asked again.
    again = await client.post("/order/commit", form, ajax=True)
    assert again.code == 200 and again.json()["res"] == CommitRes.CREATED, again
    assert (await db.fetchone(faults_db, "SELECT stock FROM goods_sku WHERE id=%s", (sku,)))["stock"] == 7


async def test_pool_recovers_from_dropped_connections(private_mariadb, faults_db, make_shop):
    shop = await make_shop(db_port=private_mariadb.port)
    await create_user(shop.pool, shop.cfg, "dropped_1")
    client = Client(shop.base_url)
    await client.login("dropped_1")
    warm = await asyncio.gather(*(client.get("/user/address") for _ in range(8)))
    assert {p.code for p in warm} == {200}
    victims = await _app_connections(faults_db)
    assert victims
    for victim in victims:
        await db.execute(faults_db, "KILL %s", (victim,))
    answers = [await client.get("/user/address") for _ in range(len(victims) + 3)]
    # A request may meet a connection killed under it (503, never a 500); the pool drops it and the next works.
    assert all(a.code in (200, 503) for a in answers) and answers[-1].code == 200
    assert [p.code for p in await asyncio.gather(*(client.get("/user/address") for _ in range(8)))] == [200] * 8
    assert shop.pool.size <= shop.cfg.db.pool_max


async def test_redis_killed_answers_503_then_recovers_when_restarted(private_redis, make_shop, pool, settings):
    shop = await make_shop(redis_url=private_redis.url, redis_overrides={"timeout": 1.0})
    await create_user(pool, settings, "redisless")
    client = Client(shop.base_url)
    await client.login("redisless")
    assert (await client.get("/user")).code == 200
    private_redis.kill()
    page = await client.get("/user")
    assert page.code == 503 and UNAVAILABLE in page.text
    ajax = await client.post("/cart/add", {"sku_id": "1", "count": "1"}, ajax=True)
    assert ajax.code == 503 and UNAVAILABLE in ajax.json()["errmsg"]
    private_redis.start()

    # PrivateRedis.start does not wait for the port, and the login page needs no Redis: only a page that reads the
    # session tells when the shop has its Redis back.
    async def answers() -> bool:
        return (await client.get("/user")).code != 503

    await wait_until(answers, "the shop on the restarted Redis", timeout=15)
    # The sessions went with the old Redis: the visitor is anonymous again, and can log in again.
    assert (await client.get("/user")).code == 302
    await client.login("redisless")
    assert (await client.get("/user")).code == 200
    added = await client.post("/cart/add", {"sku_id": "999999", "count": "1"}, ajax=True)
    assert added.code == 404 and "errmsg" in added.json()  # answered by the cart's own Redis path
