"""The shop's side of payments over real HTTP: pay, the sandbox cashier, notify, watcher, websocket, expiry."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from fresh import db
from fresh.orders.expiry import expire_orders
from fresh.payments.pay import CheckRes, get_client, prepare_client
from fresh.payments.watcher import watch_once
from tests.conftest import make_settings
from tests.fixtures.payments import (
    next_status,
    open_socket,
    order_row,
    pay_on_cashier,
    signed_notify,
    start_shop,
    stop_shop,
    unsigned,
)
from tests.helpers import Client, count


async def test_pay_confirm_websocket_hears_paid(shop, order, pool):
    order_id, client = order["order_id"], order["buyer"]["client"]
    ws = await open_socket(shop.base_url, client, order_id)
    first = await next_status(ws)
    assert first["status"] == 1 and first["status_name"] == "待支付" and not first["paid"]

    browser, cashier = await pay_on_cashier(client, order_id)
    done = await browser.confirm(cashier)
    assert done.code == 302 and "/order/return/alipay?" in done.headers["Location"]

    update = await next_status(ws)
    assert update["paid"] and update["status"] == 2 and update["status_name"] == "待发货"
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["trade_no"] and row["paid_at"] is not None
    assert await count(pool, "order_events", "order_id=%s AND from_status=1 AND to_status=2", (order_id,)) == 1
    ws.close()

    # The signed return lands on a page showing the paid order.
    location = done.headers["Location"]
    page = await client.get(location[len(shop.base_url):])
    assert page.code == 200 and "支付成功" in page.text and order_id in page.text
    check = await client.post("/order/check", {"order_id": order_id}, ajax=True)
    assert check.json()["res"] == CheckRes.PAID and check.json()["status"] == 2


async def test_dropped_notify_is_found_by_the_watcher(shop, order, pool, sandbox):
    sandbox.drop_notifies = True
    order_id = order["order_id"]
    browser, cashier = await pay_on_cashier(order["buyer"]["client"], order_id)
    await browser.confirm(cashier)
    assert (await order_row(pool, order_id))["order_status"] == 1
    assert await watch_once(shop) == [order_id]
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["trade_no"]
    assert await count(pool, "order_events", "order_id=%s AND to_status=2 AND source='watcher'", (order_id,)) == 1


async def test_duplicate_notifies_make_one_event(shop, order, pool, sandbox):
    sandbox.duplicate_notifies = True
    order_id = order["order_id"]
    browser, cashier = await pay_on_cashier(order["buyer"]["client"], order_id)
    await browser.confirm(cashier)
    await sandbox.wait_idle()
    ok = [e for e in sandbox.notify_log if e.get("ok")]
    assert len(ok) == 2  # both copies were answered `success`
    assert await count(pool, "order_events", "order_id=%s AND to_status=2", (order_id,)) == 1


@pytest.mark.parametrize("case", ["forged", "app_id", "amount", "unknown", "unsigned"])
async def test_bad_notifies_are_rejected_and_change_nothing(shop, order, pool, sandbox, case):
    order_id = order["order_id"]
    if case == "forged":
        form = signed_notify(sandbox, order_id, trade_no="2026112522001499999999999999")
    elif case == "app_id":
        form = sandbox.signed_params({**unsigned(signed_notify(sandbox, order_id)), "app_id": "2021999999999999"})
    elif case == "amount":
        form = sandbox.signed_params({**unsigned(signed_notify(sandbox, order_id)), "total_amount": "0.01"})
    elif case == "unknown":
        form = sandbox.signed_params({**unsigned(signed_notify(sandbox, order_id)), "out_trade_no": "nope123"})
    else:
        form = unsigned(signed_notify(sandbox, order_id))
    r = await Client(shop.base_url).post("/order/notify/alipay", form, xsrf=False)
    assert r.code == (404 if case == "unknown" else 400) and r.text == "fail", r
    row = await order_row(pool, order_id)
    assert row["order_status"] == 1 and row["trade_no"] is None
    assert await count(pool, "order_events", "order_id=%s", (order_id,)) == 1  # just "created"


async def test_valid_notify_records_once_and_answers_success(shop, order, pool, sandbox):
    order_id = order["order_id"]
    form = signed_notify(sandbox, order_id)
    for _ in range(3):
        r = await Client(shop.base_url).post("/order/notify/alipay", form, xsrf=False)
        assert r.code == 200 and r.text == "success"
    assert (await order_row(pool, order_id))["order_status"] == 2
    assert await count(pool, "order_events", "order_id=%s AND to_status=2", (order_id,)) == 1


async def test_other_users_and_anonymous_sockets_are_refused(shop, order, make_buyer):
    intruder = await make_buyer("intruder1", {}, shop.base_url)
    cases = [(intruder["client"], order["order_id"], 4403), (Client(shop.base_url), order["order_id"], 4401),
             (order["buyer"]["client"], "nosuchorder", 4404)]
    for client, order_id, code in cases:
        ws = await open_socket(shop.base_url, client, order_id)
        try:
            assert await ws.read_message() is None and ws.close_code == code
        finally:
            ws.close()


async def test_socket_on_one_instance_hears_payment_recorded_by_another(shop, order, pool, redis, tmp_path, keys_dir,
                                                                       sandbox):
    other = await start_shop(pool, redis, tmp_path / "b", keys_dir, sandbox)
    try:
        ws = await open_socket(shop.base_url, order["buyer"]["client"], order["order_id"])
        assert (await next_status(ws))["status"] == 1
        # Instance B records the payment (its notify endpoint).
        r = await Client(other.base_url).post("/order/notify/alipay", signed_notify(sandbox, order["order_id"]),
                                              xsrf=False)
        assert r.text == "success"
        assert (await next_status(ws))["status"] == 2
        ws.close()
    finally:
        await stop_shop(other)


async def test_two_watchers_query_each_order_once(catalog, make_buyer, pool, redis, tmp_path, keys_dir,
                                                  sandbox):
    # Leases as long as a minute: "nobody queries again within the lease" must not depend on the machine's speed.
    shop = await start_shop(pool, redis, tmp_path / "a", keys_dir, sandbox, watch_interval=60)
    other = await start_shop(pool, redis, tmp_path / "b", keys_dir, sandbox, watch_interval=60)
    try:
        sku = await catalog(stock=50)
        ids = []
        for i in range(6):
            buyer = await make_buyer(f"watch_{i:02d}", {sku: 1}, shop.base_url)
            r = await buyer["client"].post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "3",
                                                             "sku_ids": str(sku), "idem_key": f"idem-watch-{i:04d}"})
            order_id = r.json()["order_id"]
            assert (await buyer["client"].post("/order/pay", {"order_id": order_id}, ajax=True)).code == 200
            ids.append(order_id)
        a, b = await asyncio.gather(watch_once(shop), watch_once(other))
        assert sorted(a + b) == sorted(ids) and not set(a) & set(b)
        # Within the lease window nobody queries them again.
        assert await watch_once(shop) == [] and await watch_once(other) == []
    finally:
        await stop_shop(other)
        await stop_shop(shop)


@pytest.mark.parametrize("case", ["missing", "unknown", "others", "not_alipay", "anonymous"])
async def test_pay_refusals(shop, order, catalog, make_buyer, pool, case):
    client = order["buyer"]["client"]
    form = {"order_id": order["order_id"]}
    expected = {"missing": (400, 1), "unknown": (404, 2), "others": (404, 2), "not_alipay": (409, 2),
                "anonymous": (401, 0)}[case]
    if case == "missing":
        form = {}
    elif case == "unknown":
        form = {"order_id": "20260101000000x"}
    elif case == "others":
        client = (await make_buyer("other_01", {}, shop.base_url))["client"]
    elif case == "not_alipay":
        sku = await catalog(name="苹果", stock=3)
        buyer = await make_buyer("cod_buyer", {sku: 1}, shop.base_url)
        r = await buyer["client"].post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "1",
                                                         "sku_ids": str(sku), "idem_key": "idem-cod-0001"})
        client, form = buyer["client"], {"order_id": r.json()["order_id"]}
    elif case == "anonymous":
        client = Client(shop.base_url)
    r = await client.post("/order/pay", form, ajax=True)
    assert (r.code, r.json()["res"]) == expected
    assert (await order_row(pool, order["order_id"]))["pay_started_at"] is None


async def test_expiry_closes_the_alipay_trade_first(shop, order, pool, sandbox):
    order_id = order["order_id"]
    await pay_on_cashier(order["buyer"]["client"], order_id)  # the cashier opened: WAIT_BUYER_PAY
    await db.execute(pool, "UPDATE order_info SET expires_at=UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE order_id=%s",
                     (order_id,))
    assert (await expire_orders(shop)).closed == [order_id]
    assert sandbox.trades[order_id].status == "TRADE_CLOSED"
    assert (await order_row(pool, order_id))["order_status"] == 6


async def test_paid_at_the_last_second_is_paid_not_closed(shop, order, pool, sandbox):
    order_id = order["order_id"]
    sandbox.drop_notifies = True
    browser, cashier = await pay_on_cashier(order["buyer"]["client"], order_id)
    await browser.confirm(cashier)
    await db.execute(pool, "UPDATE order_info SET expires_at=UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE order_id=%s",
                     (order_id,))
    assert (await expire_orders(shop)).closed == []
    row = await order_row(pool, order_id)
    assert row["order_status"] == 2 and row["trade_no"]
    stock = await db.fetchone(pool, "SELECT stock FROM goods_sku WHERE id=%s", (order["sku"],))
    assert stock["stock"] == 3  # 5 - 2, never given back


async def test_forged_return_is_refused(shop, order):
    query = urlencode({"out_trade_no": order["order_id"], "total_amount": "31.00", "sign": "AAAA",
                       "sign_type": "RSA2"})
    r = await order["buyer"]["client"].get(f"/order/return/alipay?{query}")
    assert r.code == 400


def test_amount_is_goods_plus_transit():
    from fresh.payments.pay import order_amount

    assert order_amount({"total_price": Decimal("21.00"), "transit_price": Decimal("10.00")}) == Decimal("31.00")


async def test_client_is_built_ahead_at_start_up(shop):
    shop._alipay_client = None
    await prepare_client(shop)
    assert shop._alipay_client is not None and get_client(shop) is shop._alipay_client


async def test_client_that_cannot_be_built_is_reported_at_start_up(pool, redis, tmp_path, keys_dir, sandbox,
                                                                   caplog):
    app = await start_shop(pool, redis, tmp_path / "b", keys_dir, sandbox)
    try:
        app.cfg = make_settings(tmp_path / "c", 1, alipay=dict(app_private_key=str(tmp_path / "missing.pem")))
        await prepare_client(app)  # does not raise: the process serves everything else
        assert getattr(app, "_alipay_client", None) is None
        assert "could not be built" in caplog.text
    finally:
        await stop_shop(app)
