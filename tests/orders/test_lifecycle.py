"""After the order: the orders page, cancel, expiry (racing, hooks, CLI), ship, confirm receipt, comments."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal

import pymysql
import pytest

from fresh import db
from fresh.errors import Conflict, NotFound
from fresh.hooks import Hooks, Runtime
from fresh.orders import closing, expiry, lifecycle, place, status
from fresh.orders.closing import PaymentStop
from fresh.orders.status import ActionRes
from fresh.settings import ROOT
from tests.fixtures.orders import commit_form, sku_row
from tests.helpers import count


async def new_order(pool, redis, settings, buyer, cart: dict[int, int], *, pay_method: int = 3) -> str:
    from fresh.cart.cart import cart_key

    await redis.hset(cart_key(buyer["id"]), mapping={str(k): str(v) for k, v in cart.items()})
    return await place.place_order(pool, redis, settings.orders, user_id=buyer["id"], addr_id=buyer["addr_id"],
                                   pay_method=pay_method, sku_ids=sorted(cart), idem_key=None)


def runtime(pool, redis, settings, hooks: Hooks | None = None) -> Runtime:
    return Runtime(cfg=settings, db=pool, redis=redis, hooks=hooks or Hooks())


async def set_status(pool, order_id: str, to: int) -> None:
    await db.execute(pool, "UPDATE order_info SET order_status=%s WHERE order_id=%s", (to, order_id))


async def expire_now(pool, order_id: str) -> None:
    await db.execute(pool, "UPDATE order_info SET expires_at=UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
                           " WHERE order_id=%s", (order_id,))


async def test_orders_page_lists_newest_first_with_amounts(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog("草莓", price="11.50", stock=20)
    buyer = await make_buyer("alice_01", {}, base_url)
    first = await new_order(pool, redis, settings, buyer, {a: 1}, pay_method=3)
    second = await new_order(pool, redis, settings, buyer, {a: 2}, pay_method=1)
    await set_status(pool, first, 3)
    r = await buyer["client"].get("/user/order/1")
    assert r.code == 200, r
    page = r.text
    assert page.index(second) < page.index(first)
    assert "33.00元" in page and "21.50元" in page  # total_price + transit_price with 2 decimals
    # The second, 货到付款, is confirmed at once (待发货): nothing to pay or cancel; the first is shipped.
    assert "待发货" in page and "待收货" in page and "确认收货" in page and "取消订单" not in page
    # 去付款 only for unpaid Alipay orders.
    assert "pay-btn" not in page
    await set_status(pool, first, 1)
    page = (await buyer["client"].get("/user/order/1")).text
    assert f'class="oper-btn pay-btn" data-order-id="{first}"' in page


async def test_orders_page_paginates_and_needs_login(pool, redis, settings, base_url, client, catalog, make_buyer):
    a = await catalog(stock=50)
    buyer = await make_buyer("alice_01", {}, base_url)
    ids = [await new_order(pool, redis, settings, buyer, {a: 1}) for _ in range(7)]
    page1 = (await buyer["client"].get("/user/order/1")).text
    page2 = (await buyer["client"].get("/user/order/2")).text
    assert sum(i in page1 for i in ids) == 5 and sum(i in page2 for i in ids) == 2
    assert "下一页" in page1 and "上一页" in page2
    beyond = await buyer["client"].get("/user/order/99")
    assert (beyond.code, beyond.location) == (302, "/user/order/2")  # the last page, at its own URL
    r = await client.get("/user/order/1")
    assert r.code == 302 and r.location.startswith("/user/login")


async def test_cancel_returns_stock_once_and_only_for_the_owner(pool, redis, settings, base_url, catalog,
                                                                make_buyer):
    a = await catalog(stock=10, sales=5)
    b = await catalog("苹果", stock=10)
    owner = await make_buyer("alice_01", {}, base_url)
    other = await make_buyer("bob_0001", {}, base_url)
    order_id = await new_order(pool, redis, settings, owner, {a: 3, b: 1})
    assert (await sku_row(pool, a))["stock"] == 7
    r = await other["client"].post("/order/cancel", {"order_id": order_id}, ajax=True)
    assert (r.code, r.json()["res"]) == (404, ActionRes.NO_ORDER)
    r = await owner["client"].post("/order/cancel", {"order_id": "nonsense!"}, ajax=True)
    assert (r.code, r.json()["res"]) == (404, ActionRes.NO_ORDER)
    r = await owner["client"].post("/order/cancel", {}, ajax=True)
    assert (r.code, r.json()["res"]) == (400, ActionRes.BAD_INPUT)
    replies = await asyncio.gather(*(owner["client"].post("/order/cancel", {"order_id": order_id}, ajax=True)
                                     for _ in range(5)))
    assert sorted(r.json()["res"] for r in replies) == [ActionRes.NOT_ALLOWED] * 4 + [ActionRes.DONE]
    assert {r.code for r in replies} == {200, 409}
    row = await sku_row(pool, a)
    assert row["stock"] == 10 and row["sales"] == 5
    assert (await sku_row(pool, b))["stock"] == 10
    assert await count(pool, "order_events", "order_id=%s AND to_status=6 AND source='web'", (order_id,)) == 1


async def test_cancel_refused_once_paid(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=10)
    owner = await make_buyer("alice_01", {}, base_url)
    order_id = await new_order(pool, redis, settings, owner, {a: 1})
    await set_status(pool, order_id, 2)
    r = await owner["client"].post("/order/cancel", {"order_id": order_id}, ajax=True)
    assert (r.code, r.json()["res"]) == (409, ActionRes.NOT_ALLOWED)
    assert (await sku_row(pool, a))["stock"] == 9


async def test_transition_is_conditional_and_recorded(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=10)
    owner = await make_buyer("alice_01", {}, base_url, login=False)
    order_id = await new_order(pool, redis, settings, owner, {a: 1})

    async def pay() -> bool:
        async with db.transaction(pool) as cur:
            return await status.transition(cur, order_id=order_id, from_status=1, to_status=2, source="notify",
                                           detail="alipay", trade_no="2024T1", paid_at=status.NOW)

    assert sorted(await asyncio.gather(*(pay() for _ in range(6)))) == [False] * 5 + [True]
    order = await status.get_order(pool, order_id, user_id=owner["id"])
    assert order["order_status"] == 2 and order["trade_no"] == "2024T1" and order["paid_at"] is not None
    events = await status.order_events(pool, order_id)
    assert [(e["from_status"], e["to_status"], e["source"]) for e in events] == [(None, 1, "web"), (1, 2, "notify")]
    with pytest.raises(NotFound):
        await status.get_order(pool, order_id, user_id=owner["id"] + 1)
    with pytest.raises(ValueError):
        async with db.transaction(pool) as cur:
            await status.transition(cur, order_id=order_id, from_status=2, to_status=3, source="web",
                                    order_status=1)


async def test_locked_transition_applies_with_its_event_or_stops_the_batch(pool, redis, settings, base_url, catalog,
                                                                           make_buyer):
    a = await catalog(stock=10)
    owner = await make_buyer("alice_01", {}, base_url, login=False)
    order_id = await new_order(pool, redis, settings, owner, {a: 1})
    move = dict(order_id=order_id, source="notify", detail="alipay", trade_no="2024T2", paid_at=status.NOW)
    # Not in the expected status: the guard SIGNALs, so neither the event nor the COMMIT runs.
    with pytest.raises(pymysql.err.OperationalError) as raised:
        async with db.batched_transaction(pool) as tx:
            await tx.run(status.locked_transition(from_status=2, to_status=3, **move), commit=True)
    assert raised.value.args[0] == status.ER_TRANSITION_MISSED
    assert (await status.get_order(pool, order_id))["order_status"] == 1
    assert len(await status.order_events(pool, order_id)) == 1
    async with db.batched_transaction(pool) as tx:
        await tx.run([("SELECT order_id FROM order_info WHERE order_id=%s FOR UPDATE", (order_id,))])
        await tx.run(status.locked_transition(from_status=1, to_status=2, **move), commit=True)
    order = await status.get_order(pool, order_id)
    assert order["order_status"] == 2 and order["trade_no"] == "2024T2" and order["paid_at"] is not None
    events = await status.order_events(pool, order_id)
    assert [(e["from_status"], e["to_status"], e["source"]) for e in events] == [(None, 1, "web"), (1, 2, "notify")]


async def test_mark_pay_started(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=10)
    owner = await make_buyer("alice_01", {}, base_url, login=False)
    order_id = await new_order(pool, redis, settings, owner, {a: 1})
    assert await status.mark_pay_started(pool, order_id, owner["id"] + 1) is False
    assert await status.mark_pay_started(pool, order_id, owner["id"]) is True
    assert (await status.get_order(pool, order_id))["pay_started_at"] is not None


async def test_expiry_returns_stock_exactly_once_with_racing_expirers(pool, redis, settings, base_url, catalog,
                                                                      make_buyer):
    a = await catalog(stock=20, sales=2)
    b = await catalog("苹果", stock=20)
    buyer = await make_buyer("alice_01", {}, base_url, login=False)
    expired = [await new_order(pool, redis, settings, buyer, {a: 2, b: 1}) for _ in range(4)]
    fresh_order = await new_order(pool, redis, settings, buyer, {a: 1})
    for order_id in expired:
        await expire_now(pool, order_id)
    # Four processes' worth of expiry (own Redis leases, no hooks: nothing to stop at a gateway).
    results = await asyncio.gather(*(expiry.expire_orders(runtime(pool, redis, settings)) for _ in range(4)))
    assert sorted(i for run in results for i in run.closed) == sorted(expired)
    assert (await sku_row(pool, a))["stock"] == 19 and (await sku_row(pool, a))["sales"] == 3
    assert (await sku_row(pool, b))["stock"] == 20
    assert await count(pool, "order_info", "order_status=6") == 4
    assert await count(pool, "order_events", "to_status=6 AND source='expiry'") == 4
    assert (await status.get_order(pool, fresh_order))["order_status"] == 1
    assert (await expiry.expire_orders(runtime(pool, redis, settings))).closed == []


async def test_expiry_stops_the_payment_first(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=20)
    buyer = await make_buyer("alice_01", {}, base_url, login=False)
    keep = await new_order(pool, redis, settings, buyer, {a: 1})
    close = await new_order(pool, redis, settings, buyer, {a: 1})
    broken = await new_order(pool, redis, settings, buyer, {a: 1})
    for order_id in (keep, close, broken):
        await expire_now(pool, order_id)
    asked = []

    async def stop_payment(ctx, order) -> PaymentStop:
        asked.append(order["order_id"])
        if order["order_id"] == broken:
            raise RuntimeError("gateway down")
        return PaymentStop.STOPPED if order["order_id"] == close else PaymentStop.UNKNOWN

    run = await expiry.expire_orders(runtime(pool, redis, settings, Hooks(stop_payment=stop_payment)))
    assert run.closed == [close] and sorted(asked) == sorted([keep, close, broken])
    assert run.ids(expiry.Outcome.DEFERRED) == sorted([keep, broken])
    assert (await sku_row(pool, a))["stock"] == 18
    # The two the gateway could not settle back off: the next sweep leaves them alone.
    rows = await db.fetchall(pool, "SELECT close_attempts, close_retry_at > UTC_TIMESTAMP(6) AS later FROM order_info"
                                   " WHERE order_id IN (%s, %s)", (keep, broken))
    assert [(r["close_attempts"], r["later"]) for r in rows] == [(1, 1), (1, 1)]
    assert (await expiry.expire_orders(runtime(pool, redis, settings, Hooks(stop_payment=stop_payment)))).worked == 0


async def test_expiry_racing_a_payment(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=5)
    buyer = await make_buyer("alice_01", {}, base_url, login=False)
    order_id = await new_order(pool, redis, settings, buyer, {a: 1})
    await expire_now(pool, order_id)

    async def pay_meanwhile(ctx, order) -> PaymentStop:
        async with db.transaction(pool) as cur:
            await status.transition(cur, order_id=order["order_id"], from_status=1, to_status=2, source="notify")
        return PaymentStop.STOPPED

    run = await expiry.expire_orders(runtime(pool, redis, settings, Hooks(stop_payment=pay_meanwhile)))
    assert run.closed == [] and run.ids(expiry.Outcome.GONE) == [order_id]
    assert (await status.get_order(pool, order_id))["order_status"] == 2
    assert (await sku_row(pool, a))["stock"] == 4


async def test_expire_orders_command(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=5)
    buyer = await make_buyer("alice_01", {}, base_url, login=False)
    order_id = await new_order(pool, redis, settings, buyer, {a: 2})
    await expire_now(pool, order_id)
    env = {**os.environ, "FRESH_DB_NAME": settings.db.name, "FRESH_REDIS_URL": settings.redis.url,
           "FRESH_MODE": "test", "FRESH_VAR_DIR": str(settings.var_path), "FRESH_CONFIG": "/nonexistent"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fresh", "expire-orders", cwd=str(ROOT), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    assert "closed 1 expired order(s)" in out.decode()
    assert (await status.get_order(pool, order_id))["order_status"] == 6
    assert (await sku_row(pool, a))["stock"] == 5


async def test_ship_confirm_comment(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog("草莓", stock=5)
    b = await catalog("苹果", stock=5)
    owner = await make_buyer("alice_01", {}, base_url)
    other = await make_buyer("bob_0001", {}, base_url)
    order_id = await new_order(pool, redis, settings, owner, {a: 1, b: 2})
    assert await lifecycle.ship_order(pool, order_id) is False  # not paid yet
    await set_status(pool, order_id, 2)
    assert await lifecycle.ship_order(pool, order_id) is True
    assert await lifecycle.ship_order(pool, order_id) is False
    r = await other["client"].post("/order/confirm", {"order_id": order_id}, ajax=True)
    assert r.code == 404
    # Comments only in 待评价.
    assert (await owner["client"].get(f"/order/comment/{order_id}")).code == 409
    r = await owner["client"].post("/order/confirm", {"order_id": order_id}, ajax=True)
    assert (r.code, r.json()["res"]) == (200, ActionRes.DONE)
    assert (await owner["client"].post("/order/confirm", {"order_id": order_id}, ajax=True)).code == 409
    assert (await other["client"].get(f"/order/comment/{order_id}")).code == 404
    assert (await other["client"].post(f"/order/comment/{order_id}", {f"content_{a}": "x"})).code == 404
    page = await owner["client"].get(f"/order/comment/{order_id}")
    assert page.code == 200 and "草莓" in page.text and f'name="content_{b}"' in page.text
    r = await owner["client"].post(f"/order/comment/{order_id}", {f"content_{a}": "很甜"})
    assert r.code == 400 and "请为每件商品填写评价" in r.text
    assert (await status.get_order(pool, order_id))["order_status"] == 4
    r = await owner["client"].post(f"/order/comment/{order_id}", {f"content_{a}": "很甜", f"content_{b}": "x" * 201})
    assert r.code == 400
    r = await owner["client"].post(f"/order/comment/{order_id}", {f"content_{a}": "很甜", f"content_{b}": "脆"})
    assert r.code == 302 and r.location == "/user/order/1"
    lines = await db.fetchall(pool, "SELECT sku_id, comment FROM order_goods WHERE order_id=%s ORDER BY sku_id",
                              (order_id,))
    assert [x["comment"] for x in lines] == ["很甜", "脆"]
    assert (await status.get_order(pool, order_id))["order_status"] == 5
    r = await owner["client"].post(f"/order/comment/{order_id}", {f"content_{a}": "改", f"content_{b}": "改"})
    assert r.code == 409
    assert [x["comment"] for x in await db.fetchall(
        pool, "SELECT comment FROM order_goods WHERE order_id=%s ORDER BY sku_id", (order_id,))] == ["很甜", "脆"]
    events = [(e["from_status"], e["to_status"]) for e in await status.order_events(pool, order_id)]
    assert events == [(None, 1), (2, 3), (3, 4), (4, 5)]


async def test_domain_errors(pool, redis, settings, base_url, catalog, make_buyer):
    a = await catalog(stock=5)
    owner = await make_buyer("alice_01", {}, base_url, login=False)
    order_id = await new_order(pool, redis, settings, owner, {a: 1})
    with pytest.raises(NotFound):
        await closing.cancel_order(runtime(pool, redis, settings), user_id=owner["id"] + 1, order_id=order_id)
    with pytest.raises(Conflict):
        await lifecycle.confirm_received(pool, user_id=owner["id"], order_id=order_id)
    assert (await status.get_order(pool, order_id))["total_price"] == Decimal("10.50")


async def test_commit_json_then_orders_page(pool, base_url, catalog, make_buyer):
    a = await catalog(stock=5)
    buyer = await make_buyer("alice_01", {a: 1}, base_url)
    r = await buyer["client"].post("/order/commit", commit_form(buyer, [a]), ajax=True)
    assert r.json()["order_id"] in (await buyer["client"].get("/user/order/1")).text
