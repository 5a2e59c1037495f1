"""A private MariaDB pair for the read pool's tests: a primary (binary log, server_id 1) and a read-only replica
(server_id 2) replicating from it by GTID, both on free ports, and the shop served against them with `db.replica`
naming the replica. Each server logs its statements to mysql.general_log, so a test can tell which server answered.

A missing mariadbd or mariadb-install-db fails these tests (never skips them)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from fresh import db, migrate, replica
from fresh.catalog.cache import forget_local
from fresh.redis_client import create_redis
from fresh.web import make_app, server_options
from tests.clock import ManualClock
from tests.conftest import make_settings
from tests.helpers import AppServer
from tests.private_mariadb import PrivateMariaDB

SHOP_DB = "fresh_replica"
SHOP_PASSWORD = "shop-pw-7Qe"
REPL_PASSWORD = "repl-pw-3Zk"
# Both servers: accounts by address (no name resolution), and every statement in mysql.general_log.
COMMON = ("--skip-name-resolve", "--general-log=1", "--log-output=TABLE")


class Pair:
    def __init__(self, primary: PrivateMariaDB, replica: PrivateMariaDB):
        self.primary, self.replica = primary, replica

    def sync(self) -> None:
        """Wait until the replica has applied everything the primary has logged so far."""
        position = self.primary.root_sql("SELECT @@gtid_binlog_pos").strip()
        waited = self.replica.root_sql(f"SELECT MASTER_GTID_WAIT('{position}', 60)").strip()
        assert waited == "0", f"the replica did not reach {position}: {self.replica_status()}"

    def replica_status(self) -> str:
        return self.replica.root_sql("SHOW SLAVE STATUS\\G")

    def start_replication(self) -> None:
        self.replica.root_sql(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.primary.port}, MASTER_USER='repl',"
            f" MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE")


def shop_queries(server: PrivateMariaDB) -> list[str]:
    """The statements the shop's account sent to `server` since forget_queries(), one line each."""
    out = server.root_sql("SELECT REPLACE(REPLACE(CONVERT(argument USING utf8mb4), '\\n', ' '), '\\t', ' ')"
                          " FROM mysql.general_log WHERE user_host LIKE 'dailyfresh[%' AND command_type='Query'")
    return [line for line in out.splitlines() if line and not line.startswith("SET SESSION")]


def forget_queries(*servers: PrivateMariaDB) -> None:
    for server in servers:
        server.root_sql("TRUNCATE TABLE mysql.general_log")


@pytest.fixture(scope="module")
def mariadb_pair():
    base = Path(tempfile.mkdtemp(prefix="fresh-pair-"))
    (base / "p").mkdir()
    (base / "r").mkdir()
    primary = PrivateMariaDB(base / "p", *COMMON, "--log-bin=fresh-bin", "--server-id=1")
    # read_only: the shop's account cannot write there (replication itself and root can).
    second = PrivateMariaDB(base / "r", *COMMON, "--skip-log-bin", "--server-id=2", "--read-only=1")
    try:
        for server in (primary, second):
            server.install()
            server.start()
        pair = Pair(primary, second)
        primary.root_sql(f"CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{REPL_PASSWORD}';"
                         " GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'")
        pair.start_replication()
        # Made on the primary after replication began: the replica gets the account and the schema through it.
        primary.root_sql(f"CREATE USER 'dailyfresh'@'127.0.0.1' IDENTIFIED BY '{SHOP_PASSWORD}';"
                         f" GRANT ALL ON `{SHOP_DB}`.* TO 'dailyfresh'@'127.0.0.1';"
                         # For db.replica_max_lag: reading the replica's Seconds_Behind_Master.
                         " GRANT SLAVE MONITOR ON *.* TO 'dailyfresh'@'127.0.0.1'")
        yield pair
    finally:
        for server in (second, primary):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


class Shop:
    """The app served against the pair, with its pools, Redis client, settings and the clock its read pool uses."""

    def __init__(self, cfg, pool, reads, redis, app, base_url, clock):
        self.cfg, self.pool, self.reads, self.redis, self.app = cfg, pool, reads, redis, app
        self.base_url, self.clock = base_url, clock


@pytest.fixture(scope="module")
async def replica_shop(mariadb_pair, tmp_path_factory):
    server = AppServer()
    cfg = make_settings(
        tmp_path_factory.mktemp("replica-shop"), server.port,
        db={"host": "127.0.0.1", "port": mariadb_pair.primary.port, "name": SHOP_DB, "user": "dailyfresh",
            "password": SHOP_PASSWORD, "pool_max": 10, "query_timeout": 20.0, "acquire_timeout": 10.0,
            # User, password and database left to the primary's.
            "replica": f"mysql://127.0.0.1:{mariadb_pair.replica.port}", "replica_timeout": 1.0,
            "replica_retry": 30.0})
    await migrate.create_database(cfg.db, drop=True)
    pool = await db.create_pool(cfg.db)
    await migrate.migrate(pool)
    await asyncio.to_thread(mariadb_pair.sync)
    clock = ManualClock()
    reads = await replica.open_reads(cfg.db, pool, clock=clock)
    redis = create_redis(cfg.redis)
    app = make_app(cfg, pool=pool, redis=redis, reads=reads)
    server.serve(app, **server_options(cfg))
    try:
        yield Shop(cfg, pool, reads, redis, app, server.url, clock)
    finally:
        await server.close()
        await replica.close_reads(reads, pool)
        pool.close()
        await pool.wait_closed()
        await redis.aclose()


@pytest.fixture
async def shop(replica_shop, mariadb_pair):
    """The shop against the pair, its primary emptied (and the replica with it), its caches and read pool fresh."""
    await asyncio.to_thread(mariadb_pair.replica.root_sql, "START SLAVE")
    async with db.cursor(replica_shop.pool) as cur:
        await cur.execute("SELECT table_name AS t FROM information_schema.tables WHERE table_schema=%s"
                          " AND table_name <> 'schema_migrations'", (SHOP_DB,))
        tables = [row["t"] for row in await cur.fetchall()]
        await cur.execute("SET FOREIGN_KEY_CHECKS=0")
        for table in tables:
            await cur.execute(f"DELETE FROM `{table}`")  # noqa: S608 -- table names listed by the server
        await cur.execute("SET FOREIGN_KEY_CHECKS=1")
    forget_local(replica_shop.redis)
    replica_shop.reads.answered()
    await asyncio.to_thread(mariadb_pair.sync)
    yield replica_shop
