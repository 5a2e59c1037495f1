"""POST /cart/update and /cart/delete: codes, totals, xsrf, owners and ended sessions."""

from __future__ import annotations

import pytest

from fresh.cart import cart
from fresh.web import XSRF_RES
from tests.cart.conftest import cart_of
from tests.helpers import Client, create_user


async def fill(client: Client, skus, **counts) -> None:
    for key, n in counts.items():
        r = await client.post("/cart/add", {"sku_id": skus[key], "count": n})
        assert r.code == 200, r


async def test_update_sets_count_and_returns_total(user_client, skus, redis, user):
    await fill(user_client, skus, apple=2, berry=3)
    r = await user_client.post("/cart/update", {"sku_id": skus["apple"], "count": 7})
    assert r.code == 200 and r.json() == {"res": cart.AddRes.OK, "message": "更新成功", "total_count": 10}
    r = await user_client.post("/cart/update", {"sku_id": skus["berry"], "count": 1})
    assert r.json()["total_count"] == 8
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 7, skus["berry"]: 1}


@pytest.mark.parametrize("sku,count,status,res", [
    (None, 3, 400, cart.AddRes.INCOMPLETE),
    ("apple", None, 400, cart.AddRes.INCOMPLETE),
    ("apple", "x", 400, cart.AddRes.BAD_COUNT),
    ("apple", "-3", 400, cart.AddRes.BAD_COUNT),
    ("apple", "0", 400, cart.AddRes.BAD_COUNT),
    ("apple", "1000", 400, cart.AddRes.BAD_COUNT),
    ("apple", "3.0", 400, cart.AddRes.BAD_COUNT),
    ("apple", "123456789012345678901234567890", 400, cart.AddRes.BAD_COUNT),
    ("nosuch", 3, 404, cart.AddRes.NO_SKU),
    ("xyz", 3, 404, cart.AddRes.NO_SKU),
    ("off", 1, 404, cart.AddRes.NO_SKU),
    ("kiwi", 1, 404, cart.AddRes.NO_SKU),   # on sale but not in this cart: update never creates a line
    ("berry", 21, 409, cart.AddRes.NO_STOCK),
])
async def test_update_refusals_leave_cart_unchanged(user_client, skus, redis, user, sku, count, status, res):
    await fill(user_client, skus, apple=2, berry=3)
    data = {}
    if sku is not None:
        data["sku_id"] = skus.get(sku, 999999 if sku == "nosuch" else sku)
    if count is not None:
        data["count"] = count
    r = await user_client.post("/cart/update", data)
    assert r.code == status and r.json()["res"] == res and r.json()["errmsg"], r
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2, skus["berry"]: 3}


async def test_delete_removes_and_returns_total(user_client, skus, redis, user):
    await fill(user_client, skus, apple=2, berry=3)
    r = await user_client.post("/cart/delete", {"sku_id": skus["apple"]})
    assert r.code == 200 and r.json() == {"res": cart.DeleteRes.OK, "message": "删除成功", "total_count": 3}
    r = await user_client.post("/cart/delete", {"sku_id": skus["apple"]})
    assert r.code == 404 and r.json()["res"] == cart.DeleteRes.NO_SKU and r.json()["total_count"] == 3
    r = await user_client.post("/cart/delete", {"sku_id": skus["berry"]})
    assert r.json()["total_count"] == 0
    assert await cart.get_cart(redis, user_id=user["id"]) == {}


@pytest.mark.parametrize("sku_id,status,res", [
    *[(bad, 400, cart.DeleteRes.BAD_ID) for bad in (None, "", "abc", "-1", "0", "1.5", "99999999999999999999")],
    ("999999", 404, cart.DeleteRes.NO_SKU),
])
async def test_delete_refusals_leave_cart_unchanged(user_client, skus, redis, user, sku_id, status, res):
    await fill(user_client, skus, apple=2)
    r = await user_client.post("/cart/delete", {} if sku_id is None else {"sku_id": sku_id})
    assert r.code == status and r.json()["res"] == res, r
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2}


async def test_off_sale_line_can_still_be_deleted(user_client, skus, redis, user, pool):
    from fresh import db

    await fill(user_client, skus, apple=2, berry=1)
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=%s", (skus["berry"],))
    r = await user_client.post("/cart/delete", {"sku_id": skus["berry"]})
    assert r.code == 200 and r.json()["total_count"] == 2


@pytest.mark.parametrize("path", ["/cart/update", "/cart/delete"])
async def test_no_xsrf_is_403_and_nothing_changes(user_client, skus, redis, user, path):
    await fill(user_client, skus, apple=2)
    r = await user_client.post(path, {"sku_id": skus["apple"], "count": 5}, xsrf=False)
    assert r.code == 403 and r.json()["res"] == XSRF_RES
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2}


async def test_guest_without_session_has_nothing_to_change(client, skus, redis):
    r = await client.post("/cart/update", {"sku_id": skus["apple"], "count": 2})
    assert r.code == 404 and r.json()["res"] == cart.AddRes.NO_SKU
    r = await client.post("/cart/delete", {"sku_id": skus["apple"]})
    assert r.code == 404 and r.json()["res"] == cart.DeleteRes.NO_SKU
    assert "sid" not in client.cookies and await redis.dbsize() == 0


async def test_guest_update_and_delete(client, skus, redis, settings):
    await fill(client, skus, apple=2, berry=3)
    r = await client.post("/cart/update", {"sku_id": skus["apple"], "count": 5})
    assert r.json()["total_count"] == 8
    r = await client.post("/cart/delete", {"sku_id": skus["berry"]})
    assert r.json()["total_count"] == 5
    assert await cart_of(redis, client, settings) == {skus["apple"]: 5}


async def test_user_a_never_touches_user_b(new_client, pool, settings, skus, redis):
    a_id = await create_user(pool, settings, "alice_01")
    b_id = await create_user(pool, settings, "bobby_02")
    a, b = new_client(), new_client()
    await a.login("alice_01")
    await b.login("bobby_02")
    await fill(a, skus, apple=2, berry=1)
    await fill(b, skus, kiwi=4)
    # B works only on B's cart: A's lines are invisible to B.
    r = await b.post("/cart/update", {"sku_id": skus["apple"], "count": 9})
    assert r.code == 404
    r = await b.post("/cart/delete", {"sku_id": skus["berry"]})
    assert r.code == 404 and r.json()["total_count"] == 4
    r = await b.post("/cart/add", {"sku_id": skus["apple"], "count": 1})
    assert r.json()["total_count"] == 5
    # Extra fields naming another user are ignored.
    r = await b.post("/cart/add", {"sku_id": skus["apple"], "count": 1, "user_id": a_id})
    assert r.json()["total_count"] == 6
    assert await cart.get_cart(redis, user_id=a_id) == {skus["apple"]: 2, skus["berry"]: 1}
    assert await cart.get_cart(redis, user_id=b_id) == {skus["kiwi"]: 4, skus["apple"]: 2}
    page = await b.get("/cart")
    assert "大兴大棚草莓" not in page.text and "奇异果" in page.text


@pytest.mark.parametrize("path,data", [
    ("/cart/add", {"count": 1}),
    ("/cart/update", {"count": 5}),
    ("/cart/delete", {}),
])
async def test_logged_out_cookie_cannot_change_the_cart(user_client, new_client, skus, redis, user, path, data):
    await fill(user_client, skus, apple=2)
    stolen = dict(user_client.cookies)
    await user_client.post("/user/logout")
    thief = new_client()
    thief.cookies, thief.xsrf = dict(stolen), user_client.xsrf
    r = await thief.post(path, {"sku_id": skus["apple"], **data})
    assert r.code == 401 and r.json()["res"] == 0, r
    assert "sid" not in thief.cookies  # the dead cookie is cleared
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2}


async def test_cookie_of_a_session_rotated_by_another_login_is_dead(user_client, new_client, skus, redis, user):
    """A guest cookie replayed after its session logged in cannot reach the user's cart (nor the old guest's)."""
    guest = new_client()
    await fill(guest, skus, apple=1)
    before = dict(guest.cookies)
    await guest.login(user["username"])
    replay = new_client()
    replay.cookies, replay.xsrf = before, guest.xsrf
    r = await replay.post("/cart/update", {"sku_id": skus["apple"], "count": 9})
    assert r.code == 401
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 1}
