"""Order pages: list filters, detail, 发货 (raced: once), the shopper's view of the shipment."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from fresh import db
from fresh.orders.status import OrderStatus
from tests.helpers import Client, count


async def make_order(pool, user_id: int, sku_id: int, *, status: int = OrderStatus.PAID, order_id: str = "") -> str:
    """An order row as the lifecycle leaves it (placed and, by default, paid)."""
    order_id = order_id or f"2026120309{sku_id:04d}{user_id:04d}{status}"
    async with db.cursor(pool) as cur:
        await cur.execute(
            "INSERT INTO order_info (order_id, user_id, receiver, addr, zip_code, phone, pay_method, total_count,"
            " total_price, transit_price, order_status, trade_no, expires_at, paid_at) VALUES (%s,%s,'张三',"
            "'北京市海淀区中关村大街1号','100080','13800138000',3,2,%s,%s,%s,%s,UTC_TIMESTAMP(6),"
            " IF(%s>=2, UTC_TIMESTAMP(6), NULL))",
            (order_id, user_id, Decimal("51.60"), Decimal("10.00"), int(status),
             "T" + order_id if status >= 2 else None, int(status)))
        await cur.execute("INSERT INTO order_goods (order_id, sku_id, count, price) VALUES (%s,%s,2,%s)",
                          (order_id, sku_id, Decimal("25.80")))
        await cur.execute("INSERT INTO order_events (order_id, from_status, to_status, source, detail)"
                          " VALUES (%s,NULL,1,'web','下单')", (order_id,))
    return order_id


async def test_detail_shows_items_address_payment_and_events(staff_client: Client, pool, user, shop_rows):
    order_id = await make_order(pool, user["id"], shop_rows["sku_id"])
    page = await staff_client.get(f"/admin/orders/{order_id}")
    assert page.code == 200, page
    for text in ("大兴草莓", "北京市海淀区中关村大街1号", "T" + order_id, "¥61.60", "待发货", "下单", 'id="f-carrier"'):
        assert text in page.text, text


async def test_unknown_order_is_404(staff_client: Client):
    assert (await staff_client.get("/admin/orders/nope123")).code == 404
    assert (await staff_client.post("/admin/orders/nope123/ship", {})).code == 404


async def test_list_filters(staff_client: Client, pool, user, shop_rows):
    paid = await make_order(pool, user["id"], shop_rows["sku_id"])
    unpaid = await make_order(pool, user["id"], shop_rows["sku_id"], status=OrderStatus.UNPAID)
    page = await staff_client.get("/admin/orders?status=2")
    assert paid in page.text and unpaid not in page.text and "共 1 条，1 页" in page.text
    page = await staff_client.get(f"/admin/orders?order_id={unpaid}")
    assert unpaid in page.text and paid not in page.text
    page = await staff_client.get("/admin/orders?user=nobody")
    assert paid not in page.text and "没有符合条件的订单" in page.text
    page = await staff_client.get("/admin/orders?start=2000-01-01&end=2000-01-02&status=abc")
    assert page.code == 200 and paid not in page.text


async def test_ship_raced_twice_ships_once_and_the_shopper_sees_the_tracking(staff_client: Client, base_url, pool,
                                                                             staff, user_client, user, shop_rows):
    order_id = await make_order(pool, user["id"], shop_rows["sku_id"])
    other = Client(base_url)
    await other.login(staff["username"])
    form = {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}
    answers = await asyncio.gather(staff_client.post(f"/admin/orders/{order_id}/ship", form),
                                   other.post(f"/admin/orders/{order_id}/ship", form))
    assert sorted(a.code for a in answers) == [302, 409], answers
    assert await count(pool, "order_events", "order_id=%s AND to_status=3 AND source='admin'", (order_id,)) == 1
    assert await count(pool, "order_shipments", "order_id=%s", (order_id,)) == 1
    assert await count(pool, "audit_log", "entity='order' AND action='ship'") == 1
    row = await db.fetchone(pool, "SELECT order_status FROM order_info WHERE order_id=%s", (order_id,))
    assert row["order_status"] == OrderStatus.SHIPPED
    detail = await staff_client.get(f"/admin/orders/{order_id}")
    assert "SF1234567890" in detail.text and "boss_01" in detail.text


async def test_ship_refuses_bad_tracking_and_unpaid_orders(staff_client: Client, pool, user, shop_rows):
    order_id = await make_order(pool, user["id"], shop_rows["sku_id"])
    bad = await staff_client.post(f"/admin/orders/{order_id}/ship", {"carrier": "", "tracking_no": "<script>"})
    assert bad.code == 400 and "运单号须为" in bad.text
    unpaid = await make_order(pool, user["id"], shop_rows["sku_id"], status=OrderStatus.UNPAID)
    refused = await staff_client.post(f"/admin/orders/{unpaid}/ship", {})
    assert refused.code == 409
    assert await count(pool, "order_events", "to_status=3") == 0


async def test_cancel_raced_twice_closes_once_and_returns_stock(staff_client: Client, base_url, pool, redis, settings,
                                                                staff, shop_rows):
    from tests.e2e.helpers import unpaid_alipay_order

    sku = shop_rows["sku_id"]
    _, order_id = await unpaid_alipay_order(pool, redis, settings, sku, username="buyer_01", count=2)
    assert (await db.fetchone(pool, "SELECT stock FROM goods_sku WHERE id=%s", (sku,)))["stock"] == 18
    other = Client(base_url)
    await other.login(staff["username"])
    answers = await asyncio.gather(staff_client.post(f"/admin/orders/{order_id}/cancel"),
                                   other.post(f"/admin/orders/{order_id}/cancel"))
    assert sorted(a.code for a in answers) == [302, 409], answers
    assert await count(pool, "order_events", "order_id=%s AND to_status=6 AND source='admin'", (order_id,)) == 1
    assert (await db.fetchone(pool, "SELECT stock FROM goods_sku WHERE id=%s", (sku,)))["stock"] == 20
    assert await count(pool, "audit_log", "entity='order' AND action='cancel'") == 1
    assert "已取消" in (await staff_client.get(f"/admin/orders/{order_id}")).text


async def test_cancel_refuses_a_paid_order(staff_client: Client, pool, user, shop_rows):
    order_id = await make_order(pool, user["id"], shop_rows["sku_id"])
    assert (await staff_client.post(f"/admin/orders/{order_id}/cancel")).code == 409
    assert (await db.fetchone(pool, "SELECT order_status FROM order_info WHERE order_id=%s",
                              (order_id,)))["order_status"] == OrderStatus.PAID
