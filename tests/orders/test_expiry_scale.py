"""The expiry at scale: two processes (`python -m fresh expire-orders`) over 1,000 due Alipay orders while the
sandbox gateway fails for a tenth of them."""

from __future__ import annotations

import asyncio
import sys

from fresh import db
from fresh.settings import ROOT
from tests.helpers import create_user, process_env

ORDERS = 1000


async def insert_due_orders(pool, user_id: int, sku_id: int, n: int) -> list[str]:
    """n unpaid Alipay orders of one unit each, payment started, expired a minute ago (one statement per table,
    from MariaDB's sequence engine)."""
    prefix = "20260101000000"
    async with db.cursor(pool) as cur:
        await cur.execute(
            "INSERT INTO order_info (order_id, user_id, receiver, addr, zip_code, phone, pay_method, total_count,"
            " total_price, transit_price, pay_started_at, expires_at)"
            " SELECT CONCAT(%s, LPAD(seq, 6, '0')), %s, '张三', '北京', '100080', '13800138000', 3, 1, 10, 10,"
            " UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE FROM seq_0_to_%s",
            (prefix, user_id, n - 1))
        await cur.execute(
            "INSERT INTO order_goods (order_id, sku_id, count, price)"
            " SELECT CONCAT(%s, LPAD(seq, 6, '0')), %s, 1, 10 FROM seq_0_to_%s", (prefix, sku_id, n - 1))
    return [f"{prefix}{i:06d}" for i in range(n)]


async def test_two_processes_close_each_due_order_once_while_the_gateway_fails_for_some(pool, settings, gateway,
                                                                                          catalog):
    user_id = await create_user(pool, settings, "expiry_01")
    sku = await catalog(stock=0, sales=ORDERS)
    ids = await insert_due_orders(pool, user_id, sku, ORDERS)
    failing = set(ids[::10])
    gateway.failing_trades.update(failing)
    env = process_env(settings)
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fresh", "expire-orders", cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT) for _ in range(2)]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 240)
    for process, (out, _) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out.decode()[-2000:]

    closes = await db.fetchall(pool, "SELECT order_id, COUNT(*) AS n FROM order_events WHERE to_status=6"
                                     " GROUP BY order_id")
    assert {r["order_id"] for r in closes} == set(ids) - failing  # the failing tenth held nobody up
    assert {r["n"] for r in closes} == {1}
    # Nothing repeated across the processes: one trade.close per order at the gateway.
    calls = {order_id: gateway.calls[("alipay.trade.close", order_id)] for order_id in ids}
    assert {order_id: n for order_id, n in calls.items() if n != 1} == {}
    # The failing tenth is backing off: tried once, a retry time set (the backoff itself: tests/orders/test_lifecycle).
    held = await db.fetchall(pool, "SELECT order_id, close_attempts, close_retry_at FROM order_info"
                                   " WHERE order_status=1")
    assert {r["order_id"] for r in held} == failing
    assert {r["close_attempts"] for r in held} == {1} and all(r["close_retry_at"] for r in held)
    row = await db.fetchone(pool, "SELECT stock, sales FROM goods_sku WHERE id=%s", (sku,))
    assert (row["stock"], row["sales"]) == (ORDERS - len(failing), len(failing))
