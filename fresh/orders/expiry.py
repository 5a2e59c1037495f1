"""Closing unpaid orders past their expiry: a background task in every process and `python -m fresh expire-orders`.

Each due order goes through the one close path (fresh.orders.closing.close_order), which stops its payment at the
gateway first. Built to run in many processes over many orders while the gateway fails for some of them:
- a per-order Redis lease (`lease:close:<order_id>`, SET NX PX) makes one process work on an order at a time, so
  processes do not repeat each other's gateway calls (the conditional status change keeps the close itself once);
- an order whose payment could not be stopped (gateway down) is given a per-order backoff in the database
  (`close_retry_at`, growing with `close_attempts`), which takes it out of the due list until then: a failing order
  never holds up the ones behind it;
- due orders are taken in batches and closed concurrently, at most `orders.expiry_concurrency` at a time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import secrets
from collections import Counter
from dataclasses import dataclass

import aiomysql
import redis.asyncio as aioredis

from fresh import db, logs, metrics
from fresh.background import every
from fresh.hooks import Context, Runtime
from fresh.orders.closing import CloseResult, close_order
from fresh.orders.status import OrderStatus

log = logging.getLogger("fresh.orders.expiry")
DETAIL = "超时未支付，自动关闭"


class Outcome(enum.Enum):
    CLOSED = "closed"
    PAID = "paid"  # paid at the last moment: recorded paid instead
    GONE = "gone"  # no longer unpaid when we got to it
    DEFERRED = "deferred"  # the gateway could not confirm the payment is stopped: backed off
    LEASED = "leased"  # another process is on it


@dataclass
class ExpiryRun:
    """What one expire_orders call did, per order id."""

    outcomes: dict[str, Outcome]

    def ids(self, outcome: Outcome) -> list[str]:
        return sorted(order_id for order_id, o in self.outcomes.items() if o is outcome)

    @property
    def closed(self) -> list[str]:
        return self.ids(Outcome.CLOSED)

    @property
    def worked(self) -> int:
        """Orders this process took the lease of."""
        return sum(1 for o in self.outcomes.values() if o is not Outcome.LEASED)

    def counts(self) -> Counter:
        return Counter(o.value for o in self.outcomes.values())


def lease_key(order_id: str) -> str:
    return f"lease:close:{order_id}"


async def due_orders(pool: aiomysql.Pool, *, limit: int) -> list[str]:
    """Unpaid orders past expires_at, oldest first, without those backing off after a gateway failure."""
    rows = await db.fetchall(
        pool,
        "SELECT order_id FROM order_info WHERE order_status=%s AND expires_at < UTC_TIMESTAMP(6)"
        " AND (close_retry_at IS NULL OR close_retry_at <= UTC_TIMESTAMP(6)) ORDER BY expires_at LIMIT %s",
        (int(OrderStatus.UNPAID), limit),
    )
    return [row["order_id"] for row in rows]


async def take_lease(redis: aioredis.Redis, order_id: str, seconds: float) -> bool:
    # Never released early: it expires by itself, so an order another process listed a moment ago is not taken
    # again while the first is still at the gateway (and a crashed process's orders come back after `seconds`).
    return bool(await redis.set(lease_key(order_id), secrets.token_hex(8), nx=True, px=max(1, int(seconds * 1000))))


async def back_off(pool: aiomysql.Pool, order_id: str, *, base: float, cap: float) -> None:
    """Leave an order alone for base * 2^attempts seconds (at most `cap`), as long as it is still unpaid."""
    await db.execute(
        pool,
        "UPDATE order_info SET close_attempts=close_attempts+1,"
        " close_retry_at=UTC_TIMESTAMP(6) + INTERVAL LEAST(%s, %s * POW(2, LEAST(close_attempts, 20))) SECOND"
        " WHERE order_id=%s AND order_status=%s",
        (cap, base, order_id, int(OrderStatus.UNPAID)),
    )


async def expire_one(ctx: Context, order_id: str) -> Outcome:
    cfg = ctx.cfg.orders
    # Long enough for one close: two gateway calls at their timeout, and the database work.
    if not await take_lease(ctx.redis, order_id, 2 * ctx.cfg.alipay.timeout + 30):
        return Outcome.LEASED
    try:
        result = await close_order(ctx, order_id, source="expiry", detail=DETAIL)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("closing expired order %s failed; backing off", order_id, exc_info=True)
        result = CloseResult.RETRY
    if result is CloseResult.RETRY:
        await back_off(ctx.db, order_id, base=cfg.expiry_backoff, cap=cfg.expiry_backoff_max)
        return Outcome.DEFERRED
    return {CloseResult.CLOSED: Outcome.CLOSED, CloseResult.PAID: Outcome.PAID}.get(result, Outcome.GONE)


async def expire_orders(ctx: Context, *, limit: int | None = None, concurrency: int | None = None) -> ExpiryRun:
    """Close the due orders, batch after batch while this process finds work; return what it did."""
    cfg = ctx.cfg.orders
    limit = limit or cfg.expiry_batch
    semaphore = asyncio.Semaphore(concurrency or cfg.expiry_concurrency)
    outcomes: dict[str, Outcome] = {}

    async def bounded(order_id: str) -> None:
        # Each order is a unit of work of its own: its lines (the gateway's answer, the close) carry its id.
        async with semaphore:
            with logs.unit_of_work(f"expire:{order_id}"):
                outcomes[order_id] = await expire_one(ctx, order_id)
            metrics.ORDERS_EXPIRED.labels(outcomes[order_id].value).inc()

    while True:
        # Orders another process holds stay due until it is done with them: list past them.
        wanted = limit + sum(1 for o in outcomes.values() if o is Outcome.LEASED)
        listed = await due_orders(ctx.db, limit=wanted)
        batch = [order_id for order_id in listed if order_id not in outcomes]
        # Processes listing the same batch take it in different orders, so their leases rarely collide.
        random.shuffle(batch)
        await asyncio.gather(*(bounded(order_id) for order_id in batch))
        # Stop after the last batch, or when other processes hold all of this one (they carry on).
        if len(listed) < wanted or all(outcomes[o] is Outcome.LEASED for o in batch):
            break
    run = ExpiryRun(outcomes)
    if run.worked:
        log.info("expiry: %s", dict(run.counts()))
    return run


async def expiry_loop(ctx: Context) -> None:
    """Background task: expire orders every orders.expiry_interval seconds until cancelled."""
    interval = max(1.0, float(ctx.cfg.orders.expiry_interval))
    await every(interval, lambda: expire_orders(ctx), what="expiry run", jitter=0.1)


async def cmd_expire_orders(runtime: Runtime, args) -> None:
    """`python -m fresh expire-orders`: one expiry run over every due order."""
    run = await expire_orders(runtime)
    counts = run.counts()
    print(f"closed {counts['closed']} expired order(s)"
          + "".join(f", {n} {name}" for name, n in sorted(counts.items()) if name != "closed"))
