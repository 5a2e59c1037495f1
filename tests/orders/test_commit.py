"""POST /order/place and /order/commit: the happy path, idempotency and every bad input."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from fresh import db
from fresh.cart.cart import cart_key
from fresh.orders.place import CommitRes
from tests.fixtures.orders import commit_form, sku_row
from tests.helpers import add_address, count, create_user


async def nothing_stored(pool) -> bool:
    return all([await count(pool, t) == 0 for t in ("order_info", "order_goods", "order_events")])


async def test_commit_creates_order_with_db_prices(pool, redis, base_url, catalog, make_buyer):
    a = await catalog("草莓", price="10.50", stock=5)
    b = await catalog("苹果", price="3.20", stock=5)
    other = await catalog("香蕉", price="1.00", stock=5)
    buyer = await make_buyer("alice_01", {a: 2, b: 1, other: 4}, base_url)
    r = await buyer["client"].post("/order/commit", commit_form(buyer, [b, a], idem_key="k" * 16), ajax=True)
    assert r.code == 200, r
    body = r.json()
    assert body["res"] == CommitRes.CREATED
    order_id = body["order_id"]
    assert order_id.startswith(tuple("20")) and str(buyer["id"]) in order_id and len(order_id) >= 14 + 16
    order = await db.fetchone(pool, "SELECT * FROM order_info WHERE order_id=%s", (order_id,))
    assert order["total_count"] == 3
    assert order["total_price"] == Decimal("24.20")
    assert order["transit_price"] == Decimal("10.00")
    assert order["order_status"] == 1 and order["pay_method"] == 3
    assert order["receiver"] == "张三" and order["user_id"] == buyer["id"]
    assert order["expires_at"] > order["created_at"]
    lines = await db.fetchall(pool, "SELECT sku_id, count, price FROM order_goods WHERE order_id=%s ORDER BY sku_id",
                              (order_id,))
    assert [(x["sku_id"], x["count"], x["price"]) for x in lines] == [(a, 2, Decimal("10.50")),
                                                                      (b, 1, Decimal("3.20"))]
    assert (await sku_row(pool, a))["stock"] == 3 and (await sku_row(pool, a))["sales"] == 2
    assert (await sku_row(pool, b))["stock"] == 4
    # Only the bought SKUs leave the cart.
    assert await redis.hgetall(cart_key(buyer["id"])) == {str(other): "4"}
    assert await count(pool, "order_events", "order_id=%s AND to_status=1", (order_id,)) == 1


async def test_same_idem_key_twice_returns_first_order(pool, base_url, catalog, make_buyer):
    a = await catalog(stock=5)
    buyer = await make_buyer("alice_01", {a: 1}, base_url)
    form = commit_form(buyer, [a], idem_key="same-key-123456")
    first = await buyer["client"].post("/order/commit", form, ajax=True)
    second = await buyer["client"].post("/order/commit", form, ajax=True)
    assert first.json()["res"] == CommitRes.CREATED and second.json()["res"] == CommitRes.CREATED
    assert first.json()["order_id"] == second.json()["order_id"]
    assert await count(pool, "order_info") == 1
    assert (await sku_row(pool, a))["stock"] == 4


async def test_racing_commits_with_one_idem_key_make_one_order(pool, redis, base_url, catalog, make_buyer):
    a = await catalog(stock=50)
    buyer = await make_buyer("alice_01", {a: 1}, base_url)
    for round_no in range(5):
        await redis.hset(cart_key(buyer["id"]), str(a), "1")
        form = commit_form(buyer, [a], idem_key=f"race-key-{round_no:04d}")
        replies = await asyncio.gather(*(buyer["client"].post("/order/commit", form, ajax=True) for _ in range(8)))
        assert {r.code for r in replies} == {200}, replies
        assert len({r.json()["order_id"] for r in replies}) == 1
    assert await count(pool, "order_info") == 5
    assert (await sku_row(pool, a))["stock"] == 45


async def test_without_idem_key_each_commit_is_an_order(pool, redis, base_url, catalog, make_buyer):
    a = await catalog(stock=5)
    buyer = await make_buyer("alice_01", {a: 1}, base_url)
    created = await buyer["client"].post("/order/commit", commit_form(buyer, [a]), ajax=True)
    assert created.json()["res"] == CommitRes.CREATED
    await redis.hset(cart_key(buyer["id"]), str(a), "1")
    created = await buyer["client"].post("/order/commit", commit_form(buyer, [a]), ajax=True)
    assert created.json()["res"] == CommitRes.CREATED
    assert await count(pool, "order_info") == 2


async def test_repeated_sku_ids_fields_are_accepted(pool, base_url, catalog, make_buyer):
    a, b = await catalog(stock=5), await catalog("苹果", stock=5)
    buyer = await make_buyer("alice_01", {a: 1, b: 2}, base_url)
    form = [("addr_id", str(buyer["addr_id"])), ("pay_method", "1"), ("sku_ids", str(a)), ("sku_ids", str(b))]
    r = await buyer["client"].post("/order/commit", form, ajax=True)
    assert r.json()["res"] == CommitRes.CREATED
    assert await count(pool, "order_goods") == 2


async def test_not_logged_in_is_401(pool, client, catalog):
    a = await catalog()
    r = await client.post("/order/commit", {"addr_id": "1", "pay_method": "1", "sku_ids": str(a)}, ajax=True)
    assert r.code == 401 and r.json()["res"] == CommitRes.NOT_LOGGED_IN
    assert await nothing_stored(pool)


BAD_INPUTS = [
    # (name, form changes, expected res, expected HTTP status)
    ("missing addr", {"addr_id": None}, CommitRes.INCOMPLETE, 400),
    ("missing pay_method", {"pay_method": None}, CommitRes.INCOMPLETE, 400),
    ("missing sku_ids", {"sku_ids": None}, CommitRes.INCOMPLETE, 400),
    ("empty sku_ids", {"sku_ids": " , "}, CommitRes.INCOMPLETE, 400),
    ("pay_method 0", {"pay_method": "0"}, CommitRes.BAD_PAY_METHOD, 400),
    ("pay_method 5", {"pay_method": "5"}, CommitRes.BAD_PAY_METHOD, 400),
    ("pay_method text", {"pay_method": "alipay"}, CommitRes.BAD_PAY_METHOD, 400),
    ("pay_method float", {"pay_method": "1.0"}, CommitRes.BAD_PAY_METHOD, 400),
    ("addr text", {"addr_id": "abc"}, CommitRes.BAD_ADDRESS, 400),
    ("addr huge", {"addr_id": "99999999999999999999999"}, CommitRes.BAD_ADDRESS, 400),
    ("addr unknown", {"addr_id": "999999"}, CommitRes.BAD_ADDRESS, 400),
    ("addr negative", {"addr_id": "-1"}, CommitRes.BAD_ADDRESS, 400),
    ("other's addr", {"addr_id": "OTHER"}, CommitRes.BAD_ADDRESS, 400),
    ("sku unknown", {"sku_ids": "999999"}, CommitRes.NO_SUCH_SKU, 404),
    ("sku text", {"sku_ids": "abc"}, CommitRes.NO_SUCH_SKU, 404),
    ("sku huge", {"sku_ids": "123456789012345678901234567890"}, CommitRes.NO_SUCH_SKU, 404),
    ("sku negative", {"sku_ids": "-3"}, CommitRes.NO_SUCH_SKU, 404),
    ("sku off sale", {"sku_ids": "OFF"}, CommitRes.NO_SUCH_SKU, 404),
    ("sku not in cart", {"sku_ids": "NOTINCART"}, CommitRes.NO_SUCH_SKU, 404),
    ("bad idem_key", {"idem_key": "<script>"}, CommitRes.INCOMPLETE, 400),
    ("too many skus", {"sku_ids": ",".join(str(i) for i in range(1, 60))}, CommitRes.INCOMPLETE, 400),
]


@pytest.mark.parametrize(("name", "changes", "res", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
async def test_bad_input_answers_its_code_and_stores_nothing(pool, settings, base_url, catalog, make_buyer,
                                                             name, changes, res, code):
    a = await catalog(stock=5)
    off = await catalog("下架", stock=5, status=0)
    not_in_cart = await catalog("不在购物车", stock=5)
    buyer = await make_buyer("alice_01", {a: 1, off: 1}, base_url)
    other_id = await create_user(pool, settings, "bob_0001")
    other_addr = await add_address(pool, other_id)
    form = commit_form(buyer, [a], idem_key="good-key-1234")
    for key, value in changes.items():
        if value is None:
            form.pop(key)
        else:
            form[key] = (value.replace("OTHER", str(other_addr)).replace("NOTINCART", str(not_in_cart))
                         .replace("OFF", str(off)))
    r = await buyer["client"].post("/order/commit", form, ajax=True)
    assert (r.code, r.json()["res"]) == (code, res), r
    assert r.json()["errmsg"]
    assert await nothing_stored(pool)
    assert (await sku_row(pool, a))["stock"] == 5


async def test_out_of_stock_names_the_sku(pool, base_url, catalog, make_buyer):
    a = await catalog("草莓", stock=5)
    b = await catalog("荔枝", stock=1)
    buyer = await make_buyer("alice_01", {a: 2, b: 3}, base_url)
    r = await buyer["client"].post("/order/commit", commit_form(buyer, [a, b]), ajax=True)
    assert r.code == 409
    assert r.json()["res"] == CommitRes.NO_STOCK and "荔枝" in r.json()["errmsg"] and r.json()["sku_id"] == b
    assert await nothing_stored(pool)
    assert (await sku_row(pool, a))["stock"] == 5 and (await sku_row(pool, b))["stock"] == 1


async def test_place_page_shows_items_totals_and_idem_key(pool, base_url, catalog, make_buyer):
    a = await catalog("草莓", price="11.50", stock=5)
    b = await catalog("苹果", price="3.00", stock=5)
    buyer = await make_buyer("alice_01", {a: 2, b: 1}, base_url)
    await add_address(pool, buyer["id"], default=False, receiver="李四")
    r = await buyer["client"].post("/order/place", [("sku_ids", str(a)), ("sku_ids", str(b))])
    assert r.code == 200, r
    page = r.text
    for text in ("提交订单", "确认收货地址", "支付方式", "商品列表", "总金额结算", "货到付款", "微信支付", "支付宝",
                 "银联支付", "草莓", "23.00元", "26.00", "10.00", "36.00", "李四", 'name="idem_key"'):
        assert text in page, text
    assert f'value="{a},{b}"' in page
    assert page.count("checked") == 2  # the default address and the first pay method


@pytest.mark.parametrize("sku_ids", [[], ["abc"], ["999999"], ["NOTINCART"]])
async def test_place_page_with_bad_skus_sends_back_to_cart(pool, base_url, catalog, make_buyer, sku_ids):
    a = await catalog(stock=5)
    b = await catalog("苹果", stock=5)
    buyer = await make_buyer("alice_01", {a: 1}, base_url)
    r = await buyer["client"].post("/order/place", [("sku_ids", s.replace("NOTINCART", str(b))) for s in sku_ids])
    assert r.code == 400
    assert "返回购物车" in r.text


async def test_place_page_sends_guests_to_login(client, catalog):
    a = await catalog()
    r = await client.post("/order/place", {"sku_ids": str(a)})
    assert r.code == 302 and r.location.startswith("/user/login?next=")
