"""Shared fixtures: a fresh test database and Redis database, the app on a free port, clients and users; the
fixture modules of tests/fixtures/ registered for every package.

Everything runs against the real MariaDB and Redis; a missing service fails the run, it never skips it.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from tornado.httpclient import AsyncHTTPClient

from fresh import db, eventloop, migrate
from fresh.catalog.cache import forget_local
from fresh.keys import ensure_dev_keys, local_gateway_settings
from fresh.payments.sandbox import make_sandbox_app
from fresh.redis_client import create_redis
from fresh.settings import load_settings
from fresh.web import listen_live, make_app, server_options
from tests.helpers import AppServer, Client, create_user

# Fixtures shared by several packages, each defined once (a test names them as parameters, never imports them).
pytest_plugins = [
    "tests.fixtures.orders",
    "tests.fixtures.payments",
    "tests.fixtures.catalog",
    "tests.fixtures.browser",
    "tests.fixtures.tally",
]

# Tests run on the event loop the shop's processes run on (uvloop unless FRESH_EVENT_LOOP=asyncio): pytest-asyncio
# makes its loops with the policy in force.
asyncio.set_event_loop_policy(eventloop.policy())

# Separate names let several test runs (or developers) share one machine without touching each other's data.
TEST_DB = os.environ.get("FRESH_TEST_DB", "dailyfresh_test")
TEST_REDIS_DB = int(os.environ.get("FRESH_TEST_REDIS_DB", "15"))

AsyncHTTPClient.configure(None, max_clients=256)


def make_settings(var_dir, port: int, **sections):
    overrides = dict(
        mode="test",
        var_dir=str(var_dir),
        web={"cookie_secret": "test-secret-" + "x" * 40, "base_url": f"http://127.0.0.1:{port}"},
        db={"name": TEST_DB, "pool_max": 40, "statement_timeout": 20.0, "query_timeout": 20.0,
            "acquire_timeout": 20.0},
        redis={"url": f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"},
        accounts={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1},
    )
    for key, value in sections.items():
        if isinstance(value, dict):
            overrides.setdefault(key, {}).update(value)
        else:
            overrides[key] = value
    return load_settings(path="/nonexistent", env={}, **overrides)


@pytest.fixture(scope="session")
async def app_server():
    """The session's shop's port (taken first: the settings name it); the `app` fixture serves on it."""
    server = AppServer()
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def gateway_server():
    server = AppServer()
    yield server
    await server.close()


@pytest.fixture(scope="session")
def settings(tmp_path_factory, app_server, gateway_server):
    """The shop's test settings: its own var dir with dev keys, Alipay pointed at the session's sandbox."""
    var = tmp_path_factory.mktemp("var")
    keys = var / "keys"
    ensure_dev_keys(keys)
    return make_settings(var, app_server.port, **local_gateway_settings(keys, gateway_server.port))


@pytest.fixture(scope="session")
async def session_gateway(settings, gateway_server):
    """The local Alipay sandbox the session's shop pays through (an outside party on its own port)."""
    gateway = make_sandbox_app(settings.sandbox)
    gateway_server.serve(gateway)
    yield gateway
    gateway.cancel_notifies()
    await gateway_server.close()


@pytest.fixture
def gateway(session_gateway):
    """The session sandbox with its test knobs reset for this test."""
    session_gateway.drop_notifies = False
    session_gateway.duplicate_notifies = False
    session_gateway.notify_delay = 0.0
    session_gateway.failing_trades.clear()
    session_gateway.calls.clear()
    return session_gateway


@pytest.fixture(scope="session")
async def pool(settings):
    await migrate.create_database(settings.db, drop=True)
    pool = await db.create_pool(settings.db)
    await migrate.migrate(pool)
    yield pool
    pool.close()
    await pool.wait_closed()


@pytest.fixture(scope="session")
async def redis(settings):
    client = create_redis(settings.redis)
    await client.ping()
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def clean(pool, redis, settings):
    """Each test starts from empty tables and an empty Redis database."""
    async with db.cursor(pool) as cur:
        await cur.execute(
            "SELECT table_name AS t FROM information_schema.tables WHERE table_schema=%s"
            " AND table_name <> 'schema_migrations'", (settings.db.name,))
        tables = [row["t"] for row in await cur.fetchall()]
        await cur.execute("SET FOREIGN_KEY_CHECKS=0")
        for table in tables:
            await cur.execute(f"DELETE FROM `{table}`")  # noqa: S608 -- table names listed by the server
        await cur.execute("SET FOREIGN_KEY_CHECKS=1")
    await redis.flushdb()
    forget_local(redis)  # the app's per-process catalog caches (fresh.catalog.cache) go with the data
    outbox = settings.var_path / "outbox"
    if outbox.is_dir():
        for path in outbox.iterdir():
            path.unlink()
    yield


@pytest.fixture(scope="session")
async def app(settings, pool, redis, app_server):
    # Of the background work only the live-status listener: tests run the watcher and the expiry themselves.
    application = make_app(settings, pool=pool, redis=redis)
    app_server.serve(application, background=[listen_live], **server_options(settings))
    yield application
    await app_server.close()


@pytest.fixture(scope="session")
def base_url(app, app_server) -> str:
    return app_server.url


@pytest.fixture
def client(base_url) -> Client:
    return Client(base_url)


@pytest.fixture
def new_client(base_url):
    return lambda: Client(base_url)


@pytest.fixture
async def user(pool, settings) -> dict:
    user_id = await create_user(pool, settings, "alice_01")
    return {"id": user_id, "username": "alice_01"}


@pytest.fixture
async def user_client(base_url, user) -> Client:
    c = Client(base_url)
    await c.login(user["username"])
    return c
