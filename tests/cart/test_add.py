"""POST /cart/add: every res code with its HTTP status, atomicity under concurrency, guests."""

from __future__ import annotations

import asyncio

import pytest

from fresh import sessions
from fresh.cart import cart
from fresh.web import XSRF_RES
from tests.cart.conftest import cart_of, session_of
from tests.helpers import Client


async def add(client: Client, sku_id, count, **kw):
    data = {}
    if sku_id is not None:
        data["sku_id"] = sku_id
    if count is not None:
        data["count"] = count
    return await client.post("/cart/add", data, **kw)


async def test_add_ok_returns_total_count(user_client, skus, redis, user):
    r = await add(user_client, skus["apple"], 2)
    assert r.code == 200 and r.json() == {"res": cart.AddRes.OK, "message": "添加成功", "total_count": 2}
    r = await add(user_client, skus["berry"], 3)
    assert r.json()["total_count"] == 5
    r = await add(user_client, skus["apple"], 1)
    assert r.json()["total_count"] == 6
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 3, skus["berry"]: 3}
    # A user's cart does not expire.
    assert await redis.ttl(cart.cart_key(user["id"])) == -1


@pytest.mark.parametrize("sku,count,status,res", [
    (None, 1, 400, cart.AddRes.INCOMPLETE),
    ("apple", None, 400, cart.AddRes.INCOMPLETE),
    ("", "", 400, cart.AddRes.INCOMPLETE),
    ("apple", "  ", 400, cart.AddRes.INCOMPLETE),
    ("apple", "abc", 400, cart.AddRes.BAD_COUNT),
    ("apple", "1.5", 400, cart.AddRes.BAD_COUNT),
    ("apple", "1e2", 400, cart.AddRes.BAD_COUNT),
    ("apple", "-1", 400, cart.AddRes.BAD_COUNT),
    ("apple", "0", 400, cart.AddRes.BAD_COUNT),
    ("apple", "1000", 400, cart.AddRes.BAD_COUNT),
    ("apple", "99999999999999999999999", 400, cart.AddRes.BAD_COUNT),
    ("apple", "٣", 400, cart.AddRes.BAD_COUNT),
    ("apple", "1_0", 400, cart.AddRes.BAD_COUNT),
    ("nosuch", 1, 404, cart.AddRes.NO_SKU),
    ("abc", 1, 404, cart.AddRes.NO_SKU),
    ("-5", 1, 404, cart.AddRes.NO_SKU),
    ("off", 1, 404, cart.AddRes.NO_SKU),
    ("empty", 1, 409, cart.AddRes.NO_STOCK),
    ("berry", 21, 409, cart.AddRes.NO_STOCK),
])
async def test_add_refusals_leave_cart_unchanged(user_client, skus, redis, user, sku, count, status, res):
    await add(user_client, skus["apple"], 1)
    sku_id = skus.get(sku, 999999 if sku == "nosuch" else sku)
    r = await add(user_client, sku_id, count)
    assert r.code == status and r.json()["res"] == res and r.json()["errmsg"], r
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 1}


async def test_add_beyond_stock_in_steps(user_client, skus, redis, user):
    assert (await add(user_client, skus["berry"], 15)).code == 200
    r = await add(user_client, skus["berry"], 6)
    assert r.code == 409 and r.json()["res"] == cart.AddRes.NO_STOCK and r.json()["errmsg"] == "商品库存不足"
    assert (await add(user_client, skus["berry"], 5)).json()["total_count"] == 20
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["berry"]: 20}


async def test_add_beyond_max_count(user_client, skus, pool, redis, user):
    from fresh import db

    await db.execute(pool, "UPDATE goods_sku SET stock=5000 WHERE id=%s", (skus["apple"],))
    assert (await add(user_client, skus["apple"], 999)).code == 200
    r = await add(user_client, skus["apple"], 1)
    assert r.code == 400 and r.json()["res"] == cart.AddRes.BAD_COUNT
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 999}


async def test_add_without_xsrf_is_refused(user_client, skus, redis, user):
    r = await user_client.post("/cart/add", {"sku_id": skus["apple"], "count": 1}, xsrf=False)
    # Its own res code and message: res 0 would read as "not logged in" to the page.
    assert r.code == 403 and r.json() == {"res": XSRF_RES, "errmsg": "页面已过期，请刷新后重试"}
    # A token that does not match the cookie is no better.
    r = await user_client.post("/cart/add", {"sku_id": skus["apple"], "count": 1, "_xsrf": "forged"}, xsrf=False)
    assert r.code == 403
    assert await cart.get_cart(redis, user_id=user["id"]) == {}


async def test_get_is_not_allowed(user_client, skus):
    r = await user_client.get(f"/cart/add?sku_id={skus['apple']}&count=1")
    assert r.code == 405


async def test_fifty_concurrent_adds_lose_nothing(user_client, skus, redis, user):
    replies = await asyncio.gather(*(add(user_client, skus["apple"], 1) for _ in range(50)))
    assert [r.code for r in replies] == [200] * 50
    assert sorted(r.json()["total_count"] for r in replies) == list(range(1, 51))
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 50}


async def test_fifty_concurrent_adds_stop_at_stock(user_client, skus, redis, user):
    replies = await asyncio.gather(*(add(user_client, skus["kiwi"], 1) for _ in range(50)))
    codes = [r.code for r in replies]
    assert codes.count(200) == 30 and codes.count(409) == 20
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["kiwi"]: 30}


async def test_concurrent_adds_from_many_browsers_of_one_user(new_client, user, skus, redis):
    clients = [new_client() for _ in range(5)]
    for c in clients:
        await c.login(user["username"])
    replies = await asyncio.gather(*(add(clients[i % 5], skus["kiwi"], 2) for i in range(20)))
    assert [r.code for r in replies].count(200) == 15
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["kiwi"]: 30}


async def test_guest_gets_a_session_and_a_cart_with_ttl(client, skus, redis, settings):
    assert "sid" not in client.cookies
    r = await add(client, skus["apple"], 2)
    assert r.code == 200 and r.json()["total_count"] == 2
    guest = session_of(client, settings)
    assert guest.is_guest and await redis.exists(sessions.session_key(guest.sid))
    assert await cart_of(redis, client, settings) == {skus["apple"]: 2}
    ttl = await redis.ttl(cart.guest_cart_key(guest.sid))
    assert settings.cart.guest_ttl_days * 86400 - 60 < ttl <= settings.cart.guest_ttl_days * 86400
    r = await add(client, skus["berry"], 1)
    assert r.json()["total_count"] == 3 and session_of(client, settings).sid == guest.sid


async def test_refused_guest_add_starts_no_session(client, skus, redis):
    r = await add(client, skus["off"], 1)
    assert r.code == 404 and "sid" not in client.cookies
    assert await redis.dbsize() == 0


async def test_expired_guest_session_starts_a_new_guest_cart(client, skus, redis, settings):
    await add(client, skus["apple"], 2)
    old = session_of(client, settings)
    await redis.delete(sessions.session_key(old.sid))
    r = await add(client, skus["berry"], 1)
    assert r.code == 200 and r.json()["total_count"] == 1
    new = session_of(client, settings)
    assert new.sid != old.sid and new.is_guest
    assert await cart_of(redis, client, settings) == {skus["berry"]: 1}
    # The orphaned cart was not touched by the new add.
    assert await cart.get_owner_cart(redis, old) == {skus["apple"]: 2}
