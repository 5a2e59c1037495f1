"""Every admin URL, GET and POST, for an anonymous visitor, a shopper and a staff user."""

from __future__ import annotations

import pytest

from tests.helpers import Client

# (path, methods staff may use); ids that exist are filled in from the shop_rows fixture.
URLS = [
    ("/admin", "GET"), ("/admin/goods", "GET"), ("/admin/goods/new", "GET"), ("/admin/goods/{sku}", "GET"),
    ("/admin/goods/{sku}/stock", "GET"), ("/admin/spu", "GET"), ("/admin/spu/new", "GET"),
    ("/admin/spu/{spu}", "GET"), ("/admin/content/categories", "GET"), ("/admin/content/banners", "GET"),
    ("/admin/content/promotions", "GET"), ("/admin/content/type_goods", "GET"),
    ("/admin/content/categories/new", "GET"), ("/admin/content/categories/{type}", "GET"),
    ("/admin/orders", "GET"), ("/admin/users", "GET"), ("/admin/audit", "GET"),
    ("/admin/goods/sale", "POST"), ("/admin/goods/{sku}/pictures", "POST"),
    ("/admin/goods/{sku}/pictures/1", "POST"), ("/admin/content/categories/{type}/move", "POST"),
    ("/admin/content/banners/1/delete", "POST"), ("/admin/orders/none/ship", "POST"),
    ("/admin/orders/none/cancel", "POST"),
    ("/admin/users/1/active", "POST"), ("/admin/users/1/staff", "POST"),
]


def fill(path: str, rows: dict) -> str:
    return path.format(sku=rows["sku_id"], spu=rows["spu_id"], type=rows["type_id"])


@pytest.mark.parametrize("path,allowed", URLS)
async def test_anonymous_is_sent_to_login_or_refused(client: Client, shop_rows, path, allowed):
    path = fill(path, shop_rows)
    got = await client.get(path)
    assert got.code == 302 and got.location.startswith("/user/login?next=")
    posted = await client.post(path, {})
    assert posted.code == 401, posted  # a POST cannot be redirected to the login page


@pytest.mark.parametrize("path,allowed", URLS)
async def test_shopper_gets_403(user_client: Client, shop_rows, pool, path, allowed):
    path = fill(path, shop_rows)
    before = await _snapshot(pool)
    assert (await user_client.get(path)).code == 403
    assert (await user_client.post(path, {"action": "off", "sku_id": str(shop_rows["sku_id"]),
                                          "value": "0", "direction": "up"})).code == 403
    assert await _snapshot(pool) == before


@pytest.mark.parametrize("path,allowed", URLS)
async def test_staff_gets_the_page(staff_client: Client, shop_rows, path, allowed):
    path = fill(path, shop_rows)
    got = await staff_client.get(path)
    if allowed == "GET":
        assert got.code == 200, got
        assert "管理后台" in got.text and "#37ab40" not in got.text  # the colour lives in the stylesheet
    else:
        assert got.code == 405, got  # a POST-only URL


async def test_login_comes_back_to_the_admin(client: Client, staff):
    got = await client.get("/admin/goods?sale=off")
    assert got.location == "/user/login?next=%2Fadmin%2Fgoods%3Fsale%3Doff"
    back = await client.post("/user/login?next=%2Fadmin%2Fgoods%3Fsale%3Doff",
                             {"username": staff["username"], "pwd": "password123"})
    assert back.code == 302 and back.location == "/admin/goods?sale=off"
    assert (await client.get(back.location)).code == 200


async def test_without_xsrf_a_staff_post_is_refused(staff_client: Client, shop_rows, pool):
    got = await staff_client.post("/admin/goods/sale", {"action": "off", "sku_id": shop_rows["sku_id"]}, xsrf=False)
    assert got.code == 403
    row = await _snapshot(pool)
    assert row["status"] == 1


async def _snapshot(pool):
    from fresh import db
    return await db.fetchone(pool, "SELECT COUNT(*) AS skus, MIN(status) AS status,"
                             " (SELECT COUNT(*) FROM audit_log) AS audits FROM goods_sku")
