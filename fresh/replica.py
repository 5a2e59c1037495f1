"""The read pool: reads that may lag go to a MariaDB replica while it answers, and to the primary otherwise.

Which reads: the catalog pages and search (fresh.catalog.handlers.CatalogHandler) and the back office's reports
(the dashboard and the audit log), which take `Application.reads`. Everything that decides money or stock (the
cart's stock cap, order placement and commit, payments, expiry, refunds, every admin write and the reads before
it) keeps the primary's pool, `Application.db`. Without `db.replica`, `reads` is the primary's pool itself: one pool,
and nothing here runs.

Replication is asynchronous, so a replica answers with data that may be a moment old (its Seconds_Behind_Master):
a catalog page may show a price, a stock figure or an on-sale flag that much behind a write. That is accepted for
those pages; what a shopper is charged and whether the stock is there is decided on the primary.

A replica that cannot be reached, refuses, errs or takes longer than `db.replica_timeout` for a statement costs
the read that met it only the wait: the read runs again on the primary. The replica is then left alone for
`db.replica_retry` seconds, after which one read tries it again (the others keep to the primary until that one
has an answer). Each change of state is logged (events `replica_down`, `replica_up`), and reads that went to the
primary instead are counted in fresh_db_replica_fallbacks.

With `db.replica_max_lag`, a background task of each process reads the replica's Seconds_Behind_Master every few
seconds (watch_lag): while it is above the limit, or unknown because replication stopped, the reads keep to the
primary (events `replica_lagging`, `replica_caught_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable

import aiomysql
import pymysql

from fresh import db, logs, metrics
from fresh.background import every
from fresh.hooks import Background, Context
from fresh.settings import DBSettings, replica_settings

log = logging.getLogger("fresh.replica")

# What a replica may do wrong that the primary can make up for: no connection, a lost or stalled one, a server
# error (shutting down, a statement timeout, a table its replication has not created yet).
FAILURES = (TimeoutError, OSError, asyncio.IncompleteReadError, pymysql.err.OperationalError,
            pymysql.err.InterfaceError, pymysql.err.InternalError, pymysql.err.ProgrammingError)

ER_ACCESS_DENIED = 1045
ER_SPECIFIC_ACCESS_DENIED = 1227

# Only reads go through the read pool. A write sent to it by mistake would fail on a read-only replica and then run
# on the primary, unnoticed: refused here instead, whichever server would have run it.
_READ = re.compile(r"\s*\(?\s*(SELECT|SHOW)\b", re.IGNORECASE)


class ReplicaReads:
    """The read pool with a replica: `db.cursor(reads)`, `db.fetchone(reads, ...)` and `db.fetchall(reads, ...)`
    run on the replica while it is healthy, on `primary` otherwise. Closing it closes the replica's pool only."""

    def __init__(self, primary: aiomysql.Pool, replica: aiomysql.Pool, *, timeout: float, retry: float,
                 max_lag: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.primary = primary
        self.replica = replica
        self.timeout = timeout
        self.retry = retry
        self.max_lag = max_lag
        self.clock = clock
        # 0: healthy. Otherwise the clock's time after which one read may try the replica again.
        self.down_until = 0.0
        # Set by check_lag(): the replica is further behind than max_lag (or does not say how far).
        self.lagging = False
        self._lag_unreadable = False
        metrics.DB_REPLICA_UP.set(1)

    @property
    def healthy(self) -> bool:
        return not self.down_until

    def _claim_replica(self) -> bool:
        """Whether this read goes to the replica: always while healthy; after a failure, the first read once
        `retry` seconds have passed (it pushes the time on, so the reads meanwhile stay on the primary)."""
        if self.lagging:
            return False
        if not self.down_until:
            return True
        now = self.clock()
        if now < self.down_until:
            return False
        self.down_until = now + self.retry
        return True

    def answered(self) -> None:
        if self.down_until:
            self.down_until = 0.0
            metrics.DB_REPLICA_UP.set(1)
            logs.event(log, "replica_up")

    def failed(self, exc: BaseException, stage: str) -> None:
        """The replica failed a read at `stage` (connect, query): leave it alone for `retry` seconds."""
        metrics.DB_REPLICA_FALLBACKS.labels(stage).inc()
        was_healthy = not self.down_until
        self.down_until = self.clock() + self.retry
        metrics.DB_REPLICA_UP.set(0)
        if was_healthy:
            logs.event(log, "replica_down", level=logging.WARNING, stage=stage, error=type(exc).__name__,
                       detail=str(exc)[:200], retry_in=self.retry)

    @contextlib.asynccontextmanager
    async def read_cursor(self) -> AsyncIterator[ReadCursor]:
        """A cursor for a block of reads (what db.cursor() gives for this pool)."""
        conn = None
        if self._claim_replica():
            # Every replica connection busy: a wait that runs out says the replica is loaded, not down.
            busy = self.replica.freesize == 0 and self.replica.size >= self.replica.maxsize
            try:
                conn = await asyncio.wait_for(self.replica.acquire(), self.timeout)
            except FAILURES as exc:
                if busy and isinstance(exc, TimeoutError):
                    metrics.DB_REPLICA_FALLBACKS.labels("busy").inc()
                else:
                    self.failed(exc, "connect")
        else:
            metrics.DB_REPLICA_FALLBACKS.labels("lag" if self.lagging else "down").inc()
        async with contextlib.AsyncExitStack() as stack:
            cur = ReadCursor(self, conn, stack)
            try:
                if conn is None:
                    await cur.use_primary()
                yield cur
            finally:
                cur.release()

    async def check_lag(self) -> None:
        """Read how far the replica is behind and keep the reads off it while that is over `max_lag` seconds or
        unknown (its replication stopped, or no replication at all). A replica that does not answer is the read
        path's to notice; one that refuses the account (no SLAVE MONITOR) is logged once and counts as keeping up."""
        try:
            rows = await db.fetchall(self.replica, "SHOW ALL SLAVES STATUS")
        except pymysql.err.OperationalError as exc:
            if not (exc.args and exc.args[0] in (ER_SPECIFIC_ACCESS_DENIED, ER_ACCESS_DENIED)):
                return
            if not self._lag_unreadable:
                log.warning("db.replica_max_lag: the replica refuses SHOW ALL SLAVES STATUS to this account (it "
                            "needs SLAVE MONITOR); its lag is not checked")
            self._lag_unreadable = True
            self.lagging = False
            return
        except (db.DatabaseUnavailable, *FAILURES):
            return
        lags = [row.get("Seconds_Behind_Master") for row in rows]
        behind = None if not lags or None in lags else max(lags)
        lagging = behind is None or behind > self.max_lag
        if lagging != self.lagging:
            self.lagging = lagging
            if lagging:
                logs.event(log, "replica_lagging", level=logging.WARNING,
                           seconds_behind="unknown" if behind is None else behind, max_lag=self.max_lag)
            else:
                logs.event(log, "replica_caught_up", seconds_behind=behind)
        metrics.DB_REPLICA_UP.set(0 if lagging or self.down_until else 1)

    async def watch_lag(self) -> None:
        """Check the lag every few seconds until cancelled (a background task of the process)."""
        await every(min(max(self.max_lag / 2, 1.0), 5.0), self.check_lag, what="replica lag check")

    def close(self) -> None:
        self.replica.close()

    async def wait_closed(self) -> None:
        await self.replica.wait_closed()


class ReadCursor:
    """The cursor of one block of reads: each statement on the replica connection it was given, and from the first
    that fails on (or from the start, without one) on a primary connection. The pool runs in autocommit, so every
    read stands alone and running it again on the other server changes nothing."""

    def __init__(self, reads: ReplicaReads, conn: aiomysql.Connection | None, stack: contextlib.AsyncExitStack):
        self.reads = reads
        self.conn = conn
        self.stack = stack
        self.cur: aiomysql.DictCursor | None = None
        self.on_primary = False
        # A replica connection whose statement failed or was interrupted may be half-read: closed, not reused.
        self.spoilt = False

    async def use_primary(self) -> None:
        self.cur = await self.stack.enter_async_context(db.cursor(self.reads.primary))
        self.on_primary = True

    async def execute(self, query: str, args=None) -> int:
        if not _READ.match(query):
            raise ValueError("the read pool runs reads only; writes take the primary's pool")
        if not self.on_primary:
            self.spoilt = True
            try:
                async with asyncio.timeout(self.reads.timeout):
                    if self.cur is None:
                        self.cur = await self.conn.cursor()
                    rows = await self.cur.execute(query, args)
            except FAILURES as exc:
                self.reads.failed(exc, "query")
                await self.use_primary()
            else:
                self.spoilt = False
                self.reads.answered()
                return rows
        return await self.cur.execute(query, args)

    async def fetchone(self) -> dict | None:
        return await self.cur.fetchone()

    async def fetchall(self) -> list[dict]:
        return await self.cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount

    def release(self) -> None:
        if self.conn is None:
            return
        if self.spoilt:
            self.conn.close()
        self.reads.replica.release(self.conn)
        self.conn = None


async def open_reads(cfg: DBSettings, primary: aiomysql.Pool, *,
                     clock: Callable[[], float] = time.monotonic) -> ReplicaReads | aiomysql.Pool:
    """The read pool of `cfg` (login resolved): a ReplicaReads when `db.replica` names a replica, else `primary`.

    The replica's pool connects on first use, so a replica that is down when the process starts delays nothing."""
    replica_cfg = replica_settings(cfg)
    if replica_cfg is None:
        return primary
    replica = await db.create_pool(replica_cfg, minsize=0)
    log.info("catalog and report reads go to the replica at %s:%d", replica_cfg.host, replica_cfg.port)
    return ReplicaReads(primary, replica, timeout=cfg.replica_timeout, retry=cfg.replica_retry,
                        max_lag=cfg.replica_max_lag, clock=clock)


def background(reads: ReplicaReads | aiomysql.Pool | None) -> list[Background]:
    """The read pool's background work, for make_app: the lag check when db.replica_max_lag asks for one."""
    return [watch_replica_lag] if isinstance(reads, ReplicaReads) and reads.max_lag > 0 else []


async def watch_replica_lag(ctx: Context) -> None:
    await ctx.reads.watch_lag()


async def close_reads(reads: ReplicaReads | aiomysql.Pool, primary: aiomysql.Pool) -> None:
    """Close what open_reads() opened (nothing when the read pool is the primary's)."""
    if reads is not primary:
        reads.close()
        await reads.wait_closed()
