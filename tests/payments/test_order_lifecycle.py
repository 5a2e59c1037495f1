"""Orders and payments end to end (#13), over real HTTP against the sandbox gateway: the close path against an open
cashier, money paid after a close refunded, refunds as a state, payment methods, the notify's seller check."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from fresh import db
from fresh.errors import BadRequest, Conflict
from fresh.orders import closing
from fresh.orders.expiry import expire_orders
from fresh.orders.lifecycle import mark_cod_paid
from fresh.orders.place import CommitRes
from fresh.orders.status import ActionRes
from fresh.payments import refunds
from fresh.payments.pay import reconcile_order
from tests.fixtures.payments import order_row, pay_on_cashier, signed_notify
from tests.helpers import Client, count, create_user, wait_until

PAID_AMOUNT = Decimal("31.00")  # the `order` fixture: 2 × 10.50 + 10.00 transit


async def stock(pool, sku_id: int) -> int:
    return (await db.fetchone(pool, "SELECT stock FROM goods_sku WHERE id=%s", (sku_id,)))["stock"]


async def status_of(pool, order_id: str) -> int:
    return (await order_row(pool, order_id))["order_status"]


async def cancel(client: Client, order_id: str):
    return await client.post("/order/cancel", {"order_id": order_id}, ajax=True)


# --- the one close path against an open cashier ---------------------------------------------------------------

async def test_cancel_with_an_open_cashier_closes_the_trade_so_paying_fails(shop, order, pool, sandbox):
    order_id, client = order["order_id"], order["buyer"]["client"]
    browser, cashier = await pay_on_cashier(client, order_id)
    r = await cancel(client, order_id)
    assert (r.code, r.json()["res"]) == (200, ActionRes.DONE), r
    assert sandbox.trades[order_id].status == "TRADE_CLOSED"
    # 确认付款 on the cashier tab that stayed open: the gateway refuses, no money moves.
    done = await browser.confirm(cashier)
    assert done.code == 409 and "交易已关闭" in done.body.decode()
    assert sandbox.trades[order_id].gmt_payment is None
    assert await status_of(pool, order_id) == 6
    assert await stock(pool, order["sku"]) == 5


async def test_cancel_after_the_payment_won_the_race_leaves_the_order_paid(shop, order, pool, sandbox):
    order_id, client = order["order_id"], order["buyer"]["client"]
    sandbox.drop_notifies = True  # the payment is only known to the gateway when the buyer presses 取消订单
    browser, cashier = await pay_on_cashier(client, order_id)
    assert (await browser.confirm(cashier)).code == 302
    r = await cancel(client, order_id)
    assert (r.code, r.json()["res"]) == (409, ActionRes.NOT_ALLOWED) and "已支付" in r.json()["errmsg"]
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["trade_no"] == sandbox.trades[order_id].trade_no
    assert await stock(pool, order["sku"]) == 3  # never given back
    assert await count(pool, "order_refunds") == 0


async def test_cancel_while_the_gateway_is_down_changes_nothing(shop, order, pool, sandbox):
    order_id, client = order["order_id"], order["buyer"]["client"]
    await pay_on_cashier(client, order_id)
    sandbox.failing_trades.add(order_id)
    r = await cancel(client, order_id)
    assert r.code == 503 and r.json()["res"] == ActionRes.NOT_ALLOWED
    assert await status_of(pool, order_id) == 1 and await stock(pool, order["sku"]) == 3
    sandbox.failing_trades.clear()
    assert (await cancel(client, order_id)).code == 200
    assert await status_of(pool, order_id) == 6


async def test_admin_close_goes_through_the_same_path(shop, order, pool, sandbox):
    order_id = order["order_id"]
    await pay_on_cashier(order["buyer"]["client"], order_id)
    assert await closing.close_order(shop, order_id, source="admin", detail="客服取消") is closing.CloseResult.CLOSED
    assert sandbox.trades[order_id].status == "TRADE_CLOSED"
    assert await closing.close_order(shop, order_id, source="admin", detail="x") is closing.CloseResult.NOT_OPEN
    assert await count(pool, "order_events", "order_id=%s AND to_status=6 AND source='admin'", (order_id,)) == 1


# --- money paid after a close goes back by itself -------------------------------------------------------------

async def test_payment_forced_onto_a_closed_order_is_refunded_once(shop, order, pool, sandbox):
    order_id, client = order["order_id"], order["buyer"]["client"]
    await pay_on_cashier(client, order_id)
    assert (await cancel(client, order_id)).code == 200
    sandbox.force_pay(order_id)  # the money arrives anyway; its notify reaches the shop
    await wait_until(lambda: _count_refunds(pool, order_id))
    row = await order_row(pool, order_id)
    assert row["order_status"] == 6 and row["trade_no"] == sandbox.trades[order_id].trade_no
    assert await count(pool, "order_events", "order_id=%s AND detail LIKE %s", (order_id, "订单关闭后收到付款%")) == 1
    # The buyer, back from the cashier, is told the money goes back; the orders page shows it on its way.
    back = await client.get("/order/return/alipay?" + urlencode(sandbox.return_params(sandbox.trades[order_id])))
    assert back.code == 200 and "已取消" in back.text and "将原路退回" in back.text and "31.00" in back.text
    page = await client.get("/user/order/1")
    assert re.search(r'class="refund pending">退款中 31\.00元', page.text), page.text

    # The refund worker of any process sends it; a second sweep has nothing left to send.
    assert len(await refunds.refund_due(shop)) == 1
    assert await refunds.refund_due(shop) == []
    trade = sandbox.trades[order_id]
    assert list(trade.refunds.values()) == [PAID_AMOUNT]
    assert sandbox.calls[("alipay.trade.refund", order_id)] == 1
    row = await order_row(pool, order_id)
    assert row["order_status"] == 7 and row["refunded_amount"] == PAID_AMOUNT and row["refunded_at"] is not None
    assert await stock(pool, order["sku"]) == 5  # returned once, when it closed
    # The refund's own notify changes nothing more.
    await sandbox.wait_idle()
    assert (await order_row(pool, order_id))["refunded_amount"] == PAID_AMOUNT
    assert await count(pool, "order_events", "order_id=%s AND to_status=7", (order_id,)) == 1
    page = await client.get("/user/order/1")
    assert "已退款" in page.text and "31.00" in page.text and "退款中" not in page.text


async def _count_refunds(pool, order_id: str) -> bool:
    return await count(pool, "order_refunds", "order_id=%s", (order_id,)) == 1


async def test_refund_is_retried_with_backoff_until_the_gateway_confirms(shop, order, pool, sandbox):
    order_id, client = order["order_id"], order["buyer"]["client"]
    browser, cashier = await pay_on_cashier(client, order_id)
    await browser.confirm(cashier)
    await wait_until(lambda: _is_status(pool, order_id, 2))
    sandbox.failing_trades.add(order_id)
    assert await refunds.refund_order(shop, order_id, reason="缺货") is refunds.RefundStatus.PENDING
    request = await db.fetchone(pool, "SELECT attempts, next_try_at > UTC_TIMESTAMP(6) AS later, last_error"
                                      " FROM order_refunds WHERE order_id=%s", (order_id,))
    assert request["attempts"] == 1 and request["later"] == 1 and "20000" in request["last_error"]
    assert await refunds.refund_due(shop) == []  # backing off
    sandbox.failing_trades.clear()
    await db.execute(pool, "UPDATE order_refunds SET next_try_at=UTC_TIMESTAMP(6) WHERE order_id=%s", (order_id,))
    assert len(await refunds.refund_due(shop)) == 1
    row = await order_row(pool, order_id)
    assert row["order_status"] == 7 and row["refunded_amount"] == PAID_AMOUNT
    assert await stock(pool, order["sku"]) == 5  # not shipped: the goods go back to stock


async def _is_status(pool, order_id: str, status: int) -> bool:
    return await status_of(pool, order_id) == status


# --- refunds as a state ---------------------------------------------------------------------------------------

async def paid(order, pool, sandbox) -> str:
    order_id = order["order_id"]
    browser, cashier = await pay_on_cashier(order["buyer"]["client"], order_id)
    await browser.confirm(cashier)
    await wait_until(lambda: _is_status(pool, order_id, 2))
    await sandbox.wait_idle()
    return order_id


async def test_refund_notify_marks_refunded_and_returns_stock_once(shop, order, pool, sandbox):
    order_id = await paid(order, pool, sandbox)
    sandbox.refund_from_back_office(order_id, PAID_AMOUNT)  # made in Alipay's console, told by notify
    await wait_until(lambda: _is_status(pool, order_id, 7))
    await sandbox.wait_idle()
    row = await order_row(pool, order_id)
    assert row["refunded_amount"] == PAID_AMOUNT and row["refunded_at"] is not None
    assert await stock(pool, order["sku"]) == 5
    # trade.query finds the same refund: nothing changes a second time.
    assert await reconcile_order(shop, order_id) is False
    assert await stock(pool, order["sku"]) == 5
    assert await count(pool, "order_events", "order_id=%s AND to_status=7", (order_id,)) == 1


async def test_refund_found_by_trade_query(shop, order, pool, sandbox):
    order_id = await paid(order, pool, sandbox)
    sandbox.refund_from_back_office(order_id, PAID_AMOUNT, notify=False)  # its notify is lost
    assert await status_of(pool, order_id) == 2
    assert await reconcile_order(shop, order_id) is True
    row = await order_row(pool, order_id)
    assert row["order_status"] == 7 and row["refunded_amount"] == PAID_AMOUNT
    assert await reconcile_order(shop, order_id) is False
    assert await stock(pool, order["sku"]) == 5
    assert await count(pool, "order_events", "order_id=%s AND to_status=7", (order_id,)) == 1


async def test_partial_refunds_are_recorded_then_the_rest(shop, order, pool, sandbox):
    order_id = await paid(order, pool, sandbox)
    first = await refunds.refund_order(shop, order_id, amount=Decimal("10.00"), reason="少一盒",
                                       out_request_no="part-1")
    assert first is refunds.RefundStatus.CONFIRMED
    # The same request again (a form sent twice): no second refund.
    again = await refunds.refund_order(shop, order_id, amount=Decimal("10.00"), out_request_no="part-1")
    assert again is refunds.RefundStatus.CONFIRMED
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["refunded_amount"] == Decimal("10.00")
    assert await stock(pool, order["sku"]) == 3  # a partial refund keeps the goods sold
    assert await count(pool, "order_events", "order_id=%s AND detail LIKE %s", (order_id, "部分退款%")) == 1
    page = await order["buyer"]["client"].get("/user/order/1")
    assert "已退款 10.00元" in page.text and "待发货" in page.text

    with pytest.raises(BadRequest):
        await refunds.refund_order(shop, order_id, amount=Decimal("21.01"))
    assert await refunds.refund_order(shop, order_id) is refunds.RefundStatus.CONFIRMED  # the rest: 21.00
    row = await order_row(pool, order_id)
    assert row["order_status"] == 7 and row["refunded_amount"] == PAID_AMOUNT
    assert sorted(sandbox.trades[order_id].refunds.values()) == [Decimal("10.00"), Decimal("21.00")]
    assert await stock(pool, order["sku"]) == 5
    with pytest.raises(Conflict):
        await refunds.refund_order(shop, order_id, amount=Decimal("1.00"))


# --- payment methods ------------------------------------------------------------------------------------------

async def cod_order(shop, catalog, make_buyer):
    sku = await catalog(name="苹果", price="10.50", stock=5)
    buyer = await make_buyer("cod_buyer", {sku: 2}, shop.base_url)
    r = await buyer["client"].post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "1",
                                                     "sku_ids": str(sku), "idem_key": "idem-cod-0001"})
    assert r.code == 200, r
    return r.json()["order_id"], buyer, sku


async def test_cash_on_delivery_is_confirmed_at_once_and_never_expires(shop, catalog, make_buyer, pool):
    order_id, buyer, sku = await cod_order(shop, catalog, make_buyer)
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["paid_at"] is None
    await db.execute(pool, "UPDATE order_info SET expires_at=UTC_TIMESTAMP(6) - INTERVAL 1 HOUR WHERE order_id=%s",
                     (order_id,))
    assert (await expire_orders(shop)).outcomes == {}
    assert await status_of(pool, order_id) == 2 and await stock(pool, sku) == 3
    page = await buyer["client"].get("/user/order/1")
    assert "待发货" in page.text and "货到付款" in page.text and "取消订单" not in page.text
    # Paid on delivery: staff marks it.
    assert await mark_cod_paid(pool, order_id) is True
    assert await mark_cod_paid(pool, order_id) is False
    assert (await order_row(pool, order_id))["paid_at"] is not None


async def test_signed_trade_success_for_a_cod_order_is_refused(shop, catalog, make_buyer, pool, sandbox):
    order_id, _buyer, _sku = await cod_order(shop, catalog, make_buyer)
    form = signed_notify(sandbox, order_id)
    r = await Client(shop.base_url).post("/order/notify/alipay", form, xsrf=False)
    assert r.code == 400 and r.text == "fail"
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["trade_no"] is None and row["paid_at"] is None
    assert await count(pool, "order_events", "order_id=%s", (order_id,)) == 1


@pytest.mark.parametrize("pay_method", ["2", "4"])
async def test_methods_the_shop_cannot_take_are_refused(shop, catalog, make_buyer, pool, pay_method):
    sku = await catalog(stock=5)
    buyer = await make_buyer("wx_buyer", {sku: 1}, shop.base_url)
    r = await buyer["client"].post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": pay_method,
                                                     "sku_ids": str(sku)})
    assert (r.code, r.json()["res"]) == (400, CommitRes.BAD_PAY_METHOD) and "暂不支持" in r.json()["errmsg"]
    assert await count(pool, "order_info") == 0 and await stock(pool, sku) == 5


async def test_confirmation_page_defaults_to_alipay_and_shows_others_disabled(shop, catalog, make_buyer):
    sku = await catalog(stock=5)
    buyer = await make_buyer("page_buyer", {sku: 1}, shop.base_url)
    page = (await buyer["client"].post("/order/place", {"sku_ids": str(sku)})).text
    assert 'name="pay_method" value="3" checked' in page
    assert 'name="pay_method" value="1" checked' not in page
    for value in ("2", "4"):
        assert f'name="pay_method" value="{value}" disabled' in page
    assert "暂未开通" in page


# --- the notify's seller check --------------------------------------------------------------------------------

@pytest.mark.parametrize("seller", ["missing", "other"])
async def test_notify_without_or_with_another_seller_id_is_refused(shop, order, pool, sandbox, seller):
    order_id = order["order_id"]
    fields = {k: v for k, v in signed_notify(sandbox, order_id).items() if k not in ("sign", "sign_type")}
    if seller == "missing":
        del fields["seller_id"]
    else:
        fields["seller_id"] = "2088999999999999"
    r = await Client(shop.base_url).post("/order/notify/alipay", sandbox.signed_params(fields), xsrf=False)
    assert r.code == 400 and r.text == "fail"
    row = await order_row(pool, order_id)
    assert row["order_status"] == 1 and row["trade_no"] is None


async def test_a_refund_logs_its_sending_and_its_confirmation(shop, order, pool, sandbox, caplog):
    order_id = await paid(order, pool, sandbox)
    with caplog.at_level("INFO", logger="fresh"):
        await refunds.refund_order(shop, order_id, amount=Decimal("5.00"), out_request_no="logged-1")
    events = [(r.getMessage(), getattr(r, "fields", {})) for r in caplog.records
              if r.getMessage().startswith(("refund_sent", "refund_confirmed"))]
    assert [m.split()[0] for m, _ in events] == ["refund_sent", "refund_confirmed"], events
    assert all(order_id in m and "logged-1" in m for m, _ in events), events


# --- the back office's 退款 and 货到付款收款 (they call the functions above) ----------------------------------------

async def staff_on(shop) -> Client:
    user_id = await create_user(shop.db, shop.cfg, "boss_01", staff=True)
    assert user_id
    staff = Client(shop.base_url)
    await staff.login("boss_01")
    return staff


def request_no_of(page) -> str:
    match = re.search(r'name="request_no" value="([^"]+)"', page.text)
    assert match, "the refund form is missing"
    return match.group(1)


async def test_admin_refund_sent_twice_at_once_refunds_once(shop, order, pool, sandbox):
    order_id = await paid(order, pool, sandbox)
    staff = await staff_on(shop)
    page = await staff.get(f"/admin/orders/{order_id}")
    form = {"amount": "", "reason": "缺货", "request_no": request_no_of(page)}
    replies = await asyncio.gather(*(staff.post(f"/admin/orders/{order_id}/refund", form) for _ in range(2)))
    assert sorted(r.code for r in replies) == [302, 302], replies
    row = await order_row(pool, order_id)
    assert row["order_status"] == 7 and row["refunded_amount"] == PAID_AMOUNT
    assert sandbox.trades[order_id].refund_fee == PAID_AMOUNT and len(sandbox.trades[order_id].refunds) == 1
    assert await stock(pool, order["sku"]) == 5  # not shipped: the goods are back
    assert await count(pool, "audit_log", "action='refund' AND entity_id=%s", (order_id,)) == 2
    # Nothing is left to refund; another form is refused and changes nothing.
    page = await staff.get(f"/admin/orders/{order_id}")
    r = await staff.post(f"/admin/orders/{order_id}/refund", {"amount": "1.00", "request_no": "A-other"})
    assert r.code == 409, r
    assert len(sandbox.trades[order_id].refunds) == 1
    shopper_page = await order["buyer"]["client"].get("/user/order/1")
    assert "已退款" in shopper_page.text


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1e12", "31.01", "0.001"])
async def test_admin_refund_refuses_bad_amounts_and_unpaid_orders(shop, order, pool, sandbox, amount):
    staff = await staff_on(shop)
    order_id = order["order_id"]
    r = await staff.post(f"/admin/orders/{order_id}/refund", {"amount": "", "request_no": "A-unpaid"})
    assert r.code == 409, r  # an unpaid order has nothing to refund
    await paid(order, pool, sandbox)
    r = await staff.post(f"/admin/orders/{order_id}/refund", {"amount": amount, "request_no": "A-bad"})
    assert r.code == 400, r
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["refunded_amount"] == 0
    assert sandbox.trades[order_id].refunds == {}


async def test_admin_records_cash_on_delivery_paid_once(shop, catalog, make_buyer, pool):
    order_id, _buyer, _sku = await cod_order(shop, catalog, make_buyer)
    staff = await staff_on(shop)
    page = await staff.get(f"/admin/orders/{order_id}")
    assert "货到付款收款" in page.text
    replies = await asyncio.gather(*(staff.post(f"/admin/orders/{order_id}/cod-paid", {}) for _ in range(2)))
    assert sorted(r.code for r in replies) == [302, 409], replies
    assert (await order_row(pool, order_id))["paid_at"] is not None
    assert await count(pool, "order_events", "order_id=%s AND detail LIKE %s", (order_id, "货到付款，已收款%")) == 1
    assert await count(pool, "audit_log", "action='cod_paid' AND entity_id=%s", (order_id,)) == 1
    assert "/cod-paid" not in (await staff.get(f"/admin/orders/{order_id}")).text
