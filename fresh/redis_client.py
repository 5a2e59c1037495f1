"""The redis.asyncio client. The URL carries the database number, so tests never touch the shop's data."""

from __future__ import annotations

import redis.asyncio as aioredis

from fresh.settings import RedisSettings


def create_redis(cfg: RedisSettings) -> aioredis.Redis:
    """Build the client (no I/O until the first command)."""
    return aioredis.Redis.from_url(
        cfg.url,
        decode_responses=True,
        socket_timeout=cfg.timeout,
        socket_connect_timeout=cfg.timeout,
        max_connections=cfg.max_connections,
        health_check_interval=30,
    )
