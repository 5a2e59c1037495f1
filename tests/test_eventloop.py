"""The event loop: the shop's processes and these tests run on uvloop; app.py serves and stops cleanly on it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from fresh import eventloop
from fresh.settings import ROOT
from tests.helpers import Client, free_port


async def test_tests_run_on_the_shops_loop():
    assert eventloop.loop_name() == "uvloop"  # installed from requirements.txt
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")


async def test_app_serves_and_stops_on_sigterm(settings):
    port = free_port()
    env = dict(os.environ, FRESH_MODE="test", FRESH_DB_NAME=settings.db.name, FRESH_REDIS_URL=settings.redis.url,
               FRESH_VAR_DIR=str(settings.var_path), FRESH_WEB_COOKIE_SECRET=settings.web.cookie_secret,
               FRESH_ALIPAY_APP_PRIVATE_KEY=str(settings.alipay.app_private_key),
               FRESH_ALIPAY_ALIPAY_PUBLIC_KEY=str(settings.alipay.alipay_public_key))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), "--port", str(port), cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        client = Client(f"http://127.0.0.1:{port}")
        for _ in range(100):
            try:
                r = await client.get("/readyz")
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert r.code == 200 and r.json()["redis"] == "ok"
        proc.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(proc.stdout.read(), 15)).decode()
        assert await asyncio.wait_for(proc.wait(), 15) == 0, output
        assert "shutting down" in output and "Traceback" not in output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
