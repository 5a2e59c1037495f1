"""The Redis the bootstrap starts (scripts/start-redis.sh) keeps carts and sessions across a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from fresh.cart.cart import add_to_cart, get_cart
from fresh.redis_client import create_redis
from fresh.sessions import create_session, load_session
from fresh.settings import ROOT, RedisSettings
from tests.helpers import free_port


def start(port: int, data) -> None:
    """Start it with the bootstrap's own command line and wait until it answers."""
    subprocess.run([str(ROOT / "scripts" / "start-redis.sh"), str(port), str(data)], check=True, timeout=30)
    deadline = time.monotonic() + 30
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True,
                         timeout=10).stdout.strip() != "PONG":
        assert time.monotonic() < deadline, (data / "redis.log").read_text()
        time.sleep(0.1)


def stop(data) -> None:
    """SIGTERM, as systemctl or service stop it, and wait for the process to end."""
    pid = int((data / "redis.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline, "redis-server did not stop"
        time.sleep(0.05)


async def test_a_cart_survives_a_redis_restart(tmp_path):
    port, data = free_port(), tmp_path / "redis"
    start(port, data)
    try:
        cfg = RedisSettings(url=f"redis://127.0.0.1:{port}/0")
        redis = create_redis(cfg)
        session = await create_session(redis, user_id=7, username="carter", is_staff=False, ttl=3600)
        await add_to_cart(redis, session=session, sku_id=3, count=2, stock=10, max_count=99, guest_ttl=3600)
        await redis.aclose()

        stop(data)
        assert (data / "appendonlydir").is_dir()  # the append-only file lives in the bootstrap's data directory
        start(port, data)

        redis = create_redis(cfg)
        assert await load_session(redis, session) == session
        assert await get_cart(redis, user_id=7) == {3: 2}
        await redis.aclose()
    finally:
        if (data / "redis.pid").exists():
            stop(data)
