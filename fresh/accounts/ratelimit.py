"""Login throttling: more than N failures in a window for one username and IP are refused (HTTP 429)."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis


def failures_key(username: str, ip: str) -> str:
    # Hash the pair: usernames are user input and must not shape the key space.
    digest = hashlib.sha256(f"{username.lower()}\0{ip}".encode()).hexdigest()[:32]
    return f"login_fail:{digest}"


async def is_locked(redis: aioredis.Redis, *, username: str, ip: str, max_failures: int) -> bool:
    return int(await redis.get(failures_key(username, ip)) or 0) >= max_failures


async def record_failure(redis: aioredis.Redis, *, username: str, ip: str, window: int) -> int:
    key = failures_key(username, ip)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        # The window starts at the first failure and is not extended by later ones.
        pipe.expire(key, window, nx=True)
        count, _ = await pipe.execute()
    return int(count)


async def clear_failures(redis: aioredis.Redis, *, username: str, ip: str) -> None:
    await redis.delete(failures_key(username, ip))
