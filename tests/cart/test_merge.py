"""The guest cart is merged into the user's at login: counts added, capped at stock, exactly once."""

from __future__ import annotations

import asyncio

from fresh import db
from fresh.cart import cart
from tests.cart.conftest import session_of


async def test_guest_cart_merged_at_login(new_client, user, skus, redis, settings, pool):
    me = new_client()
    await me.login(user["username"])
    await me.post("/cart/add", {"sku_id": skus["apple"], "count": 1})
    await me.post("/cart/add", {"sku_id": skus["berry"], "count": 10})
    await me.post("/user/logout")

    guest = new_client()
    for key, n in (("apple", 3), ("berry", 15), ("kiwi", 2), ("off", 1)):
        await db.execute(pool, "UPDATE goods_sku SET status=1 WHERE id=%s", (skus["off"],))
        r = await guest.post("/cart/add", {"sku_id": skus[key], "count": n})
        assert r.code == 200, r
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=%s", (skus["off"],))
    old = session_of(guest, settings)
    await guest.login(user["username"])
    # apple 1+3; berry 10+15 capped at stock 20; kiwi new; the off-sale SKU is dropped.
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 4, skus["berry"]: 20, skus["kiwi"]: 2}
    assert not await redis.exists(cart.guest_cart_key(old.sid))
    # Logging in again (new session, no guest cart any more) changes nothing.
    await guest.post("/user/logout")
    await guest.login(user["username"])
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 4, skus["berry"]: 20, skus["kiwi"]: 2}


async def test_two_concurrent_logins_from_one_guest_session_merge_once(new_client, user, skus, redis, settings):
    guest = new_client()
    await guest.post("/cart/add", {"sku_id": skus["apple"], "count": 3})
    await guest.post("/cart/add", {"sku_id": skus["kiwi"], "count": 2})
    twin = new_client()
    twin.cookies = dict(guest.cookies)
    twin.xsrf = guest.xsrf
    await asyncio.gather(guest.login(user["username"]), twin.login(user["username"]))
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 3, skus["kiwi"]: 2}


async def test_merge_function_is_atomic_under_many_callers(user, skus, redis, settings, pool):
    from fresh.sessions import create_session

    guest = await create_session(redis, user_id=0, username="", is_staff=False, ttl=600)
    await redis.hset(cart.guest_cart_key(guest.sid), mapping={skus["apple"]: 2, skus["berry"]: 1})
    new = await create_session(redis, user_id=user["id"], username=user["username"], is_staff=False, ttl=600)
    results = await asyncio.gather(*(
        cart.merge_at_login(pool, redis, old=guest, new=new, max_count=999) for _ in range(20)))
    assert sorted(results) == [0] * 19 + [2]
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2, skus["berry"]: 1}


async def test_login_without_guest_cart_keeps_user_cart(user_client, new_client, user, skus, redis):
    await user_client.post("/cart/add", {"sku_id": skus["apple"], "count": 2})
    other = new_client()
    await other.login(user["username"])
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2}
