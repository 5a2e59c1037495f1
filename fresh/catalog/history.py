"""Browsing history: `history_<user_id>`, a Redis list of recently viewed SKU ids, newest first."""

from __future__ import annotations

import redis.asyncio as aioredis

from fresh.catalog import goods


def history_key(user_id: int) -> str:
    return f"history_{user_id}"


async def record_view(redis: aioredis.Redis, *, user_id: int, sku_id: int, size: int) -> None:
    """Move `sku_id` to the front of the user's history, keeping `size` entries."""
    key = history_key(user_id)
    # One MULTI: two tabs viewing at once cannot leave a duplicate or an overlong list behind.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lrem(key, 0, sku_id)
        pipe.lpush(key, sku_id)
        pipe.ltrim(key, 0, size - 1)
        await pipe.execute()


async def get_history_ids(redis: aioredis.Redis, *, user_id: int, size: int) -> list[int]:
    return [int(v) for v in await redis.lrange(history_key(user_id), 0, size - 1) if v.isdigit()]


async def recent_skus(pool, redis: aioredis.Redis, *, user_id: int, size: int) -> list[dict]:
    """The user's recently viewed on-sale SKUs, newest first."""
    ids = await get_history_ids(redis, user_id=user_id, size=size)
    rows = await goods.get_skus(pool, ids)
    return [
        {"id": rows[i]["id"], "name": rows[i]["name"], "price": rows[i]["price"], "unite": rows[i]["unite"],
         "image_url": goods.image_url(rows[i]["image"])}
        for i in ids if i in rows
    ]


async def user_history(app, user_id: int) -> list[dict]:
    """The `user_history` hook (fresh.hooks) of the user center."""
    return await recent_skus(app.db, app.redis, user_id=user_id, size=app.cfg.catalog.history_size)
