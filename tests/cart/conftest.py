"""Cart fixtures: a few SKUs inserted directly (the catalog is built elsewhere) and cart inspection helpers."""

from __future__ import annotations

import pytest
from tornado.web import decode_signed_value

from fresh import db, sessions
from fresh.cart import cart

SKUS = [
    # key, name, price, unite, stock, status
    ("apple", "红富士苹果", "11.50", "500g", 100, 1),
    ("berry", "大兴大棚草莓", "16.80", "盒", 20, 1),
    ("kiwi", "奇异果", "25.80", "500g", 30, 1),
    ("off", "下架的虾", "40.00", "袋", 50, 0),
    ("empty", "售罄的蛋", "9.90", "盒", 0, 1),
]


@pytest.fixture
async def skus(pool) -> dict[str, int]:
    """name -> id of the test SKUs."""
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo, image) VALUES ('新鲜水果', 'fruit', '')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('水果', '')")
        goods_id = cur.lastrowid
        ids = {}
        for key, name, price, unite, stock, status in SKUS:
            await cur.execute(
                "INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock, sales, status)"
                " VALUES (%s, %s, %s, '', %s, %s, '/static/img/veg.svg', %s, 0, %s)",
                (type_id, goods_id, name, price, unite, stock, status))
            ids[key] = cur.lastrowid
    return ids


def session_of(client, settings) -> sessions.Session | None:
    """The session claims of a test client's signed `sid` cookie."""
    value = client.cookies.get("sid")
    if not value:
        return None
    return sessions.decode_cookie(decode_signed_value(settings.web.cookie_secret, "sid", value))


async def cart_of(redis, client, settings) -> dict[int, int]:
    """The cart of whoever the client is (user or guest), read straight from Redis."""
    return await cart.get_owner_cart(redis, session_of(client, settings))
