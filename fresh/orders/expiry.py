"""Closing unpaid orders past their expiry: a background task in every process and `python -m fresh expire-orders`.

Safe to run anywhere at once: the conditional status change lets exactly one closer return an order's stock.
Before closing, every `order_expiring` hook is asked (payments closes the Alipay trade there); a hook answering False
keeps the order open for now (e.g. the buyer paid at the last second and the notify is on its way).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomysql
import redis.asyncio as aioredis

from fresh import db
from fresh.orders.lifecycle import close_unpaid
from fresh.orders.status import ORDER_COLUMNS, OrderStatus
from fresh.settings import Settings

log = logging.getLogger("fresh.orders.expiry")
BATCH = 200


@dataclass
class ExpiryContext:
    """What a hook gets outside the web app (the CLI): the same attributes as the Application it gets inside."""

    cfg: Settings
    db: aiomysql.Pool
    redis: aioredis.Redis
    hooks: dict[str, list[Callable]] = field(default_factory=dict)

    def hook(self, name: str) -> list[Callable]:
        return self.hooks.get(name, [])


def collect_hooks() -> dict[str, list[Callable]]:
    """Every package's HOOKS, as make_app merges them (for running the expiry outside the web app)."""
    from fresh.web import PACKAGES

    hooks: dict[str, list[Callable]] = {}
    for name in PACKAGES:
        for hook_name, fn in getattr(importlib.import_module(f"fresh.{name}"), "HOOKS", {}).items():
            hooks.setdefault(hook_name, []).append(fn)
    return hooks


async def due_orders(pool: aiomysql.Pool, *, limit: int = BATCH) -> list[dict]:
    return await db.fetchall(
        pool,
        f"SELECT {ORDER_COLUMNS} FROM order_info WHERE order_status=%s AND expires_at < UTC_TIMESTAMP(6)"
        " ORDER BY expires_at LIMIT %s",
        (int(OrderStatus.UNPAID), limit),
    )


async def _may_close(ctx, hooks: list[Callable], order: dict) -> bool:
    for hook in hooks:
        try:
            if not await hook(ctx, order):
                return False
        except Exception:
            log.warning("order_expiring hook %s failed for %s; keeping it open", getattr(hook, "__qualname__", hook),
                        order["order_id"], exc_info=True)
            return False
    return True


async def expire_orders(pool: aiomysql.Pool, redis: aioredis.Redis, hooks: dict[str, list[Callable]], *,
                        ctx=None, limit: int = BATCH) -> list[str]:
    """Close the unpaid orders past expires_at (stock and sales back); return the ids this call closed."""
    closed = []
    for order in await due_orders(pool, limit=limit):
        if not await _may_close(ctx, hooks.get("order_expiring", []), order):
            continue
        async with db.transaction(pool) as cur:
            done = await close_unpaid(cur, order["order_id"], source="expiry", detail="超时未支付，自动关闭")
        if done:
            closed.append(order["order_id"])
            for hook in hooks.get("order_closed", []):
                try:
                    await hook(ctx, {**order, "order_status": int(OrderStatus.CLOSED)})
                except Exception:
                    log.warning("order_closed hook failed for %s", order["order_id"], exc_info=True)
    if closed:
        log.info("closed %d expired order(s)", len(closed))
    return closed


async def expiry_loop(app) -> None:
    """BACKGROUND task: expire orders every orders.expiry_interval seconds until cancelled."""
    interval = max(1.0, float(app.cfg.orders.expiry_interval))
    # Processes started together would otherwise all wake at once.
    await asyncio.sleep(random.uniform(0, interval))
    while True:
        try:
            await expire_orders(app.db, app.redis, app.hooks, ctx=app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("expiry run failed; next try in %.0fs", interval, exc_info=True)
        await asyncio.sleep(interval * random.uniform(0.9, 1.1))


async def cmd_expire_orders(cfg: Settings, args) -> None:
    """`python -m fresh expire-orders`: one expiry run with every package's hooks."""
    from fresh.redis_client import create_redis

    pool = await db.create_pool(cfg.db)
    redis = create_redis(cfg.redis)
    try:
        hooks = collect_hooks()
        ctx = ExpiryContext(cfg=cfg, db=pool, redis=redis, hooks=hooks)
        total = []
        while True:
            closed = await expire_orders(pool, redis, hooks, ctx=ctx)
            total.extend(closed)
            if len(closed) < BATCH:
                break
        print(f"closed {len(total)} expired order(s)")
    finally:
        pool.close()
        await pool.wait_closed()
        await redis.aclose()
