"""Orders fixtures: catalog rows inserted with SQL, buyers with an address and a cart, one app per stock strategy."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from fresh import db
from fresh.cart.cart import cart_key
from fresh.web import make_app
from tests.conftest import make_settings
from tests.helpers import Client, add_address, create_user

STRATEGIES = ("atomic", "pessimistic", "optimistic")


@pytest.fixture
async def catalog(pool):
    """A factory inserting an on-sale SKU (with its type and SPU) and returning its id."""
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo) VALUES ('新鲜水果', 'fruit')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('草莓', '<p>甜</p>')")
        goods_id = cur.lastrowid

    async def make(name: str = "草莓", *, price: str = "10.50", stock: int = 10, status: int = 1,
                   sales: int = 0) -> int:
        async with db.cursor(pool) as cur:
            await cur.execute(
                "INSERT INTO goods_sku (type_id, goods_id, name, price, unite, image, stock, sales, status)"
                " VALUES (%s,%s,%s,%s,'500g','',%s,%s,%s)",
                (type_id, goods_id, name, Decimal(price), stock, sales, status),
            )
            return cur.lastrowid

    return make


async def sku_row(pool, sku_id: int) -> dict:
    return await db.fetchone(pool, "SELECT stock, sales, price FROM goods_sku WHERE id=%s", (sku_id,))


@pytest.fixture
def make_buyer(pool, redis, settings):
    """A factory: a user with a default address and the given cart, plus a logged-in client of `base_url`."""

    async def make(name: str, cart: dict[int, int], base_url: str, *, login: bool = True) -> dict:
        user_id = await create_user(pool, settings, name)
        addr_id = await add_address(pool, user_id)
        if cart:
            await redis.hset(cart_key(user_id), mapping={str(k): str(v) for k, v in cart.items()})
        client = Client(base_url)
        if login:
            await client.login(name)
        return {"id": user_id, "addr_id": addr_id, "client": client, "username": name}

    return make


async def make_buyers(make_buyer, n: int, cart: dict[int, int], base_url: str, prefix: str = "buyer") -> list[dict]:
    return list(await asyncio.gather(*(make_buyer(f"{prefix}_{i:03d}", cart, base_url) for i in range(n))))


def commit_form(buyer: dict, sku_ids, *, pay_method: str = "3", idem_key: str | None = None) -> dict:
    form = {"addr_id": str(buyer["addr_id"]), "pay_method": pay_method,
            "sku_ids": ",".join(str(i) for i in sku_ids)}
    if idem_key:
        form["idem_key"] = idem_key
    return form


@pytest.fixture(scope="session", params=STRATEGIES)
async def shop(request, pool, redis, tmp_path_factory):
    """(base_url, settings) of an app using one stock strategy, served on its own port."""
    sock, port = bind_unused_port()
    cfg = make_settings(tmp_path_factory.mktemp(f"var-{request.param}"), port,
                        orders={"stock_strategy": request.param})
    app = make_app(cfg, pool=pool, redis=redis)
    server = HTTPServer(app)
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{port}", cfg
    server.stop()
    await server.close_all_connections()
    app.close()
