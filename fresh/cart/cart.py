"""The cart: one Redis hash per owner, sku_id -> count.

`cart_<user_id>` for users (as the original), `cart_guest_<session_id>` for guests (merged into the user's at login).
An owner is a Session (fresh.sessions): a user session owns `cart_<user_id>`, a guest session its own guest cart.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from fresh.sessions import Session


def cart_key(user_id: int) -> str:
    return f"cart_{user_id}"


def guest_cart_key(sid: str) -> str:
    return f"cart_guest_{sid}"


def owner_key(session: Session) -> str:
    return guest_cart_key(session.sid) if session.is_guest else cart_key(session.user_id)


async def get_cart(redis: aioredis.Redis, *, user_id: int) -> dict[int, int]:
    """The whole cart of a user as {sku_id: count}."""
    raw = await redis.hgetall(cart_key(user_id))
    return {int(k): int(v) for k, v in raw.items() if k.isdigit() and v.lstrip("-").isdigit()}


async def get_counts(redis: aioredis.Redis, *, user_id: int, sku_ids) -> dict[int, int]:
    """Counts of the given SKUs in the user's cart; SKUs not in the cart are absent."""
    ids = [int(i) for i in sku_ids]
    if not ids:
        return {}
    values = await redis.hmget(cart_key(user_id), ids)
    return {i: int(v) for i, v in zip(ids, values, strict=True) if v is not None and v.isdigit() and int(v) > 0}


async def remove_skus(redis: aioredis.Redis, *, user_id: int, sku_ids) -> None:
    """Drop SKUs from the user's cart (after an order containing them was committed)."""
    ids = [int(i) for i in sku_ids]
    if ids:
        await redis.hdel(cart_key(user_id), *ids)
