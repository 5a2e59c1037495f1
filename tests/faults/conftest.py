"""Private servers to break: a mariadbd and a redis-server of the test's own, on free ports, in temporary
directories. The shared MariaDB and Redis are never stopped, stalled or killed; these are, and only by their PIDs.
A missing mariadbd or redis-server binary fails these tests (never skips them)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from fresh import db, migrate
from fresh.redis_client import create_redis
from fresh.web import make_app, server_options
from tests.conftest import make_settings
from tests.helpers import AppServer, end_process, free_port
from tests.private_redis import PrivateRedis

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db") or "mariadb-install-db"
FAULTS_DB = "dailyfresh_faults"


async def wait_until(check, what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if await check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not come up within {timeout} s")
        await asyncio.sleep(0.1)


class PrivateMariaDB:
    """mariadbd on a free port with its own data directory; stall() and resume() send SIGSTOP/SIGCONT."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def install(self) -> None:
        subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={self.folder / 'data'}",
                        "--auth-root-authentication-method=normal", "--skip-test-db", f"--user={_user()}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def start(self) -> None:
        with open(self.folder / "err.log", "ab") as log:
            self._start(log)

    def _start(self, log) -> None:
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.folder / 'data'}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.folder / 'sock'}", f"--pid-file={self.folder / 'pid'}",
             f"--user={_user()}", "--skip-log-bin", "--innodb-buffer-pool-size=32M", "--skip-name-resolve",
             "--max-connections=200"],
            stdout=subprocess.DEVNULL, stderr=log)

    def stall(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()  # a stalled server cannot act on SIGTERM
        end_process(self.proc, 30)


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(scope="session")
async def private_mariadb(tmp_path_factory, settings):
    server = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"))
    await asyncio.get_running_loop().run_in_executor(None, server.install)
    server.start()
    cfg = _db_settings(settings, server.port)
    try:
        async def answers():
            probe = await db.create_pool(cfg, database="", minsize=1, maxsize=1)
            probe.close()
            await probe.wait_closed()
            return True

        await wait_until(answers, "the private mariadbd")
        await migrate.create_database(cfg, drop=True)
        pool = await db.create_pool(cfg)
        try:
            await migrate.migrate(pool)
        finally:
            pool.close()
            await pool.wait_closed()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    client = create_redis(make_settings(tmp_path, 1, redis={"url": server.url}).redis)
    try:
        await wait_until(client.ping, "the private redis-server")
        yield server
    finally:
        await client.aclose()
        server.stop()


def _db_settings(settings, port: int, **overrides):
    import dataclasses

    # The private server's root (normal authentication, no password), not the shop's account of the shared server.
    return dataclasses.replace(settings.db, port=port, name=FAULTS_DB, user="root", password="", **overrides)


class Shop:
    """An app with its own pool and Redis client, served on a free port."""

    def __init__(self, cfg, pool, redis, server: AppServer):
        self.cfg, self.pool, self.redis, self.server = cfg, pool, redis, server
        self.app = server.app
        self.base_url = server.url


@pytest.fixture
async def make_shop(tmp_path, settings):
    """A factory: make_shop(db_port=..., redis_url=..., db={...}) -> Shop (closed at teardown)."""
    shops: list[Shop] = []

    async def make(*, db_port: int | None = None, redis_url: str | None = None, db_overrides=None,
                   redis_overrides=None) -> Shop:
        server = AppServer()
        db_section = {"pool_max": 10, **(db_overrides or {})}
        if db_port is not None:  # the private server, as its root (see _db_settings)
            db_section.update(port=db_port, name=FAULTS_DB, user="root", password="")
        cfg = make_settings(tmp_path / f"shop{len(shops)}", server.port, db=db_section,
                            redis={"url": redis_url or settings.redis.url, **(redis_overrides or {})})
        pool = await db.create_pool(cfg.db)
        redis = create_redis(cfg.redis)
        # A larger backlog than bind_unused_port's 128: the bursts here are larger (web.backlog, as app.py listens).
        server.serve(make_app(cfg, pool=pool, redis=redis), backlog=cfg.web.backlog, **server_options(cfg))
        shop = Shop(cfg, pool, redis, server)
        shops.append(shop)
        return shop

    yield make
    for shop in shops:
        await shop.server.close()
        shop.pool.close()
        await shop.pool.wait_closed()
        await shop.redis.aclose()


async def _empty(pool) -> None:
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT table_name AS t FROM information_schema.tables WHERE table_schema=%s"
                          " AND table_name <> 'schema_migrations'", (FAULTS_DB,))
        tables = [row["t"] for row in await cur.fetchall()]
        await cur.execute("SET FOREIGN_KEY_CHECKS=0")
        for table in tables:
            await cur.execute(f"DELETE FROM `{table}`")  # noqa: S608 -- table names listed by the server
        await cur.execute("SET FOREIGN_KEY_CHECKS=1")


@pytest.fixture
async def faults_db(private_mariadb, make_shop):
    """(shop factory bound to the private MariaDB, an administrative pool on it), the faults database emptied."""
    admin = await db.create_pool(_admin_settings(private_mariadb.port), minsize=1, maxsize=4)
    await _empty(admin)
    yield admin
    admin.close()
    await admin.wait_closed()


def _admin_settings(port: int):
    from fresh.settings import DBSettings

    return DBSettings(port=port, user="root", name=FAULTS_DB, query_timeout=30.0, acquire_timeout=10.0)
