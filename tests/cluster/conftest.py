"""The several-machines rehearsal under test: `python -m fresh.cluster`'s own `up`, on network-namespace hosts of
this test's own (random prefix, free private /24, files under a temporary directory), taken down after the package.

It needs root and `ip netns`. On this project's machines (root) a missing piece fails the tests; only an
unprivileged user, who cannot make network namespaces at all, skips them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient

from fresh import cluster, db, deploy
from fresh.accounts import users
from fresh.settings import AccountsSettings, DBSettings
from tests.helpers import DEFAULT_PASSWORD, Client, add_address

# Cheap password hashing: a few hundred logins on two shared cores.
CHEAP_ARGON2 = {"FRESH_ACCOUNTS_ARGON2_TIME_COST": "1", "FRESH_ACCOUNTS_ARGON2_MEMORY_KIB": "1024",
                "FRESH_ACCOUNTS_ARGON2_PARALLELISM": "1"}


@dataclass
class Rehearsal:
    c: cluster.Cluster
    http: AsyncHTTPClient  # one client with room for every shopper at once (the default holds 10)

    @property
    def url(self) -> str:
        return self.c.url.rstrip("/")

    def app_url(self, host: str, port: int = cluster.APP_PORTS[0]) -> str:
        return f"http://{self.c.addr(host)}:{port}"

    def client(self, base_url: str | None = None) -> Client:
        client = Client(base_url or self.url)
        client.http = self.http
        return client

    def layout(self, host: str) -> deploy.Layout:
        return cluster.host_layouts(self.c)[host]

    def log(self, host: str, name: str) -> str:
        path = self.layout(host).log_dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def app_pids(self) -> dict[str, str]:
        """Every app process's pid, as supervisor reports it."""
        return {f"{host}:{port}": deploy.supervisorctl(self.layout(host), "pid", f"dailyfresh:app-{port}").stdout
                for host in cluster.APP_HOSTS for port in cluster.APP_PORTS}


@pytest.fixture(autouse=True)
def clean():
    """The cluster has its own MariaDB and Redis: the shared test database is not used here."""
    yield


@pytest.fixture(scope="package")
def rehearsal(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the rehearsal needs root for network namespaces (ip netns); run make test as root")
    var = tmp_path_factory.mktemp("cluster") / "cluster"
    started = time.monotonic()
    c = cluster.up(var, extra=CHEAP_ARGON2, owner=os.getpid())  # a later run takes it down if this one is killed
    print(f"cluster up in {time.monotonic() - started:.0f}s: {c.prefix} {c.subnet}")
    http = AsyncHTTPClient(force_instance=True, max_clients=300)
    try:
        yield Rehearsal(c, http)
    finally:
        http.close()
        cluster.down(var)
        # Nothing of the run may be left: no namespace, no link, no process in them.
        assert not [ns for ns in cluster.sh("ip", "netns", "list").split() if ns.startswith(c.prefix)]
        assert c.bridge not in cluster.sh("ip", "link", "show")


async def shop_pool(rehearsal, host: str):
    c = rehearsal.c
    cfg = DBSettings(host=c.addr(host), port=cluster.MYSQL_PORT, user=cluster.DB_USER,
                     password=cluster.secrets_of(c)["db"], name=cluster.DB_NAME)
    return await db.create_pool(cfg)


@pytest.fixture(scope="package")
async def primary_pool(rehearsal):
    """The shop's account on db1, from the root namespace (the bridge's address is in the granted subnet)."""
    pool = await shop_pool(rehearsal, "db1")
    yield pool
    pool.close()
    await pool.wait_closed()


@pytest.fixture
async def replica_pool(rehearsal):
    """The same account on db2 (the grant came by replication), for one test: the replica is stopped in another."""
    pool = await shop_pool(rehearsal, "db2")
    yield pool
    pool.close()
    await pool.wait_closed()


ACCOUNTS = AccountsSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


async def make_shopper(rehearsal, pool, name: str, *, base_url: str | None = None) -> dict:
    """A registered, active user with a default address, logged in through `base_url` (lb by default)."""
    user_id = await users.register_user(pool, ACCOUNTS, username=name, password=DEFAULT_PASSWORD,
                                        email=f"{name}@example.com", is_active=True)
    addr_id = await add_address(pool, user_id)
    client = rehearsal.client(base_url)
    await client.login(name)
    return {"id": user_id, "addr_id": addr_id, "client": client, "username": name}


async def make_sku(pool, *, stock: int, price: str = "10.50", name: str = "草莓") -> int:
    """An on-sale SKU of the demo catalog's first type, inserted on the primary."""
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT id FROM goods_types ORDER BY id LIMIT 1")
        type_id = (await cur.fetchone())["id"]
        await cur.execute("INSERT INTO goods (name, detail) VALUES (%s, '<p>新鲜</p>')", (name,))
        goods_id = cur.lastrowid
        await cur.execute(
            "INSERT INTO goods_sku (type_id, goods_id, name, price, unite, image, stock, sales, status)"
            " VALUES (%s,%s,%s,%s,'500g','',%s,0,1)", (type_id, goods_id, name, Decimal(price), stock))
        return cur.lastrowid


async def wait_for(what: str, predicate, timeout: float = 30.0, interval: float = 0.2, *, report=None):
    """Poll an async predicate until it is true; fail with `what` after `timeout` seconds, followed by what
    `report()` (a blocking function returning text, e.g. the servers' state and logs) says then."""
    deadline = time.monotonic() + timeout
    while not (result := await predicate()):
        if time.monotonic() >= deadline:
            details = await asyncio.to_thread(report) if report else ""
            raise AssertionError(f"{what}: not within {timeout:.0f}s" + (f"\n{details}" if details else ""))
        await asyncio.sleep(interval)
    return result


def body(response) -> dict:
    try:
        return json.loads(response.body)
    except ValueError:
        return {}


def read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", "replace")
