"""The payment watcher: a background coroutine in every process that asks Alipay about orders being paid.

It is the safety net for lost notifies. Orders in 待支付 whose payment was started are queried with a backoff that
grows with their age, until they expire. A Redis lease (`SET lease:pay:<order_id> NX PX <delay>`) held for the
backoff delay makes exactly one process query a given order in each window, however many processes run.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import aiomysql
import redis.asyncio as aioredis

from fresh import db, logs, metrics
from fresh.background import every
from fresh.orders.status import PAY_ALIPAY, OrderStatus
from fresh.payments import alipay
from fresh.payments.pay import get_client, record_if_paid

log = logging.getLogger("fresh.payments.watcher")
BATCH = 500
# Keep asking a little past the deadline: a payment made in the last second may need one more query.
GRACE_SECONDS = 120


def lease_key(order_id: str) -> str:
    return f"lease:pay:{order_id}"


def backoff(age_seconds: float, interval: float, max_backoff: float) -> float:
    """Seconds until the next query: `interval` at first, a quarter of the order's age later, capped."""
    return max(interval, min(max_backoff, age_seconds / 4))


async def orders_being_paid(pool: aiomysql.Pool, *, limit: int = BATCH) -> list[dict]:
    return await db.fetchall(
        pool,
        "SELECT order_id, TIMESTAMPDIFF(MICROSECOND, pay_started_at, UTC_TIMESTAMP(6)) / 1e6 AS age"
        " FROM order_info WHERE order_status=%s AND pay_started_at IS NOT NULL AND pay_method=%s"
        " AND expires_at > UTC_TIMESTAMP(6) - INTERVAL %s SECOND ORDER BY pay_started_at LIMIT %s",
        (int(OrderStatus.UNPAID), PAY_ALIPAY, GRACE_SECONDS, limit),
    )


async def take_lease(redis: aioredis.Redis, order_id: str, seconds: float) -> bool:
    return bool(await redis.set(lease_key(order_id), secrets.token_hex(8), nx=True, px=max(1, int(seconds * 1000))))


async def check_order(app, order_id: str) -> None:
    with logs.unit_of_work(f"watch:{order_id}"):
        try:
            answer = await get_client(app).query(order_id)
        except alipay.AlipayError as exc:
            metrics.WATCHER_QUERIES.labels("error").inc()
            log.warning("trade.query for %s failed: %s", order_id, exc)
            return
        paid = await record_if_paid(app.db, app.redis, answer, source="watcher")
        metrics.WATCHER_QUERIES.labels("paid" if paid else "waiting").inc()


async def watch_once(app, *, concurrency: int = 20) -> list[str]:
    """One sweep: query each order whose lease this process won; return the ids it queried."""
    cfg = app.cfg.alipay
    mine = []
    rows = await orders_being_paid(app.db)
    metrics.WATCHER_BACKLOG.set(len(rows))
    for row in rows:
        if await take_lease(app.redis, row["order_id"], backoff(float(row["age"] or 0), cfg.watch_interval,
                                                               cfg.watch_max_backoff)):
            mine.append(row["order_id"])
    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(order_id: str) -> None:
        async with semaphore:
            await check_order(app, order_id)

    await asyncio.gather(*(bounded(o) for o in mine))
    return mine


async def watch_payments(app) -> None:
    """BACKGROUND task: sweep every `alipay.watch_interval` seconds until cancelled."""
    await every(max(0.2, float(app.cfg.alipay.watch_interval)), lambda: watch_once(app), what="payment watcher sweep")
