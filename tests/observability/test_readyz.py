"""/healthz (liveness, no I/O) and /readyz (MariaDB, Redis, draining), against a private redis-server that the
test stops and starts again (the shared Redis is never touched)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from fresh import db
from fresh.redis_client import create_redis
from fresh.web import make_app
from tests.conftest import make_settings
from tests.helpers import AppServer, Client, free_port


async def test_healthz_answers_without_touching_the_services(client):
    r = await client.get("/healthz")
    assert r.code == 200 and r.json() == {"status": "ok"}


async def test_readyz_is_503_while_draining(app, client):
    assert (await client.get("/readyz")).json() == {"status": "ok", "mariadb": "ok", "redis": "ok"}
    app.draining = True
    try:
        r = await client.get("/readyz")
        assert r.code == 503 and r.json() == {"status": "draining"}
        assert (await client.get("/healthz")).code == 200  # still alive: it finishes what it has
    finally:
        app.draining = False
    assert (await client.get("/readyz")).code == 200


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence."""

    def __init__(self, port: int):
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        raise AssertionError("the private redis-server did not start")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)
        self.process = None


@pytest.fixture
async def private_redis():
    server = PrivateRedis(free_port())
    await server.start()
    yield server
    await server.stop()


async def test_readyz_is_503_while_redis_is_unreachable_and_200_again_after(pool, tmp_path, private_redis):
    server = AppServer()
    cfg = make_settings(tmp_path, server.port,
                        redis={"url": f"redis://127.0.0.1:{private_redis.port}/0", "timeout": 0.5})
    redis = create_redis(cfg.redis)
    server.serve(make_app(cfg, pool=pool, redis=redis))
    client = Client(server.url)
    try:
        assert (await client.get("/readyz")).code == 200
        await private_redis.stop()
        r = await client.get("/readyz")
        assert r.code == 503 and r.json()["mariadb"] == "ok" and r.json()["redis"].startswith("error")
        assert (await client.get("/healthz")).code == 200
        assert (await client.get("/metrics")).code == 200
        await private_redis.start()
        r = await client.get("/readyz")
        assert r.code == 200 and r.json() == {"status": "ok", "mariadb": "ok", "redis": "ok"}
    finally:
        await server.close()
        await redis.aclose()


async def test_readyz_is_503_while_mariadb_is_unreachable(redis, tmp_path):
    # A pool pointed at a port where no MariaDB listens (it connects lazily); the shared server is never touched.
    server = AppServer()
    cfg = make_settings(tmp_path, server.port, db={"port": free_port(), "pool_min": 0, "connect_timeout": 0.5})
    pool = await db.create_pool(cfg.db)
    server.serve(make_app(cfg, pool=pool, redis=redis))
    try:
        r = await Client(server.url).get("/readyz")
        assert r.code == 503 and r.json()["redis"] == "ok" and r.json()["mariadb"].startswith("error")
        assert (await Client(server.url).get("/healthz")).code == 200
    finally:
        await server.close()
        pool.close()
        await pool.wait_closed()
