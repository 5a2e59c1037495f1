"""aiomysql pool, explicit transactions and batches of statements.

The pool runs with autocommit on, so plain reads hold no transaction; `transaction()` begins one explicitly.
Every connection uses READ COMMITTED and a server-side statement limit. On the client side, taking a connection
is bounded by `db.acquire_timeout` and holding one (a statement, a batch, a whole transaction) by
`db.query_timeout`: a stalled server costs a request a few seconds and a 503, never the stall's length, and the
connection it stalled on is dropped rather than returned to the pool.

Only the connections that send batches accept several statements per packet: each pool has a small sibling,
`pool.batches` (`db.batch_pool_max` connections), which `batch()` and `BatchedTransaction` use to send a
transaction's statements together, so a hot path pays one round trip per decision instead of one per statement.
Every other connection is switched to one statement per packet before its first use, so a value ever formatted
into SQL there is a syntax error, not a stacked query. Statements are built from constant SQL and escaped
parameters (ruff's S608 checks the tree); `batch()` is the one place that joins statements, each escaped by the
driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
from collections.abc import AsyncIterator

import aiomysql
import pymysql
from pymysql.constants import COMMAND

from fresh import metrics
from fresh.settings import DBSettings

# MariaDB error codes worth naming.
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213
ER_STATEMENT_TIMEOUT = 1969
RETRYABLE = (ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK)
CONNECTION_LOST = (2006, 2013, 2014, 2045, 2055)


class DatabaseUnavailable(Exception):
    """No connection could be had in time, or the server did not answer within the query timeout."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Client-side limits of one pool, in seconds (DBSettings.acquire_timeout and .query_timeout)."""

    acquire: float = 5.0
    query: float = 8.0


def limits(pool: aiomysql.Pool) -> Limits:
    return getattr(pool, "fresh_limits", None) or Limits()


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or lock-wait timeout: the transaction was rolled back and may be tried again."""
    return isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] in RETRYABLE


def is_connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError)) and bool(
        exc.args and exc.args[0] in CONNECTION_LOST
    ) or isinstance(exc, (ConnectionError, asyncio.IncompleteReadError))


def _init_command(cfg: DBSettings) -> str:
    return (
        "SET SESSION tx_isolation='READ-COMMITTED', "
        f"max_statement_time={float(cfg.statement_timeout)}, "
        f"innodb_lock_wait_timeout={int(cfg.lock_wait_timeout)}, "
        "time_zone='+00:00'"
    )


class Pool(aiomysql.Pool):
    """aiomysql's pool with this module's client-side limits and either its sibling for batches (`batches`,
    closed with it) or, being that sibling, `for_batches` set."""

    def __init__(self, *, limits: Limits, batches: Pool | None = None, for_batches: bool = False, **kwargs):
        super().__init__(echo=False, loop=asyncio.get_running_loop(), **kwargs)
        # aiomysql has no read timeout of its own; connection() enforces these.
        self.fresh_limits = limits
        self.batches = batches
        self.for_batches = for_batches

    def close(self) -> None:
        super().close()
        if self.batches is not None:
            self.batches.close()

    def terminate(self) -> None:
        super().terminate()
        if self.batches is not None:
            self.batches.terminate()

    async def wait_closed(self) -> None:
        await super().wait_closed()
        if self.batches is not None:
            await self.batches.wait_closed()

    async def _acquire(self) -> aiomysql.Connection:
        # Every way of taking a connection comes here (connection(), the replica's reads, aiomysql's acquire()),
        # so no pool but a batch pool hands out a connection that takes several statements per packet.
        conn = await super()._acquire()
        if not self.for_batches and not _single_statements(conn):
            try:
                await _refuse_stacked_statements(conn)
            except BaseException:
                conn.close()
                self.release(conn)
                raise
        return conn


async def _open_pool(**kwargs) -> Pool:
    pool = Pool(**kwargs)
    if pool.minsize:
        # Connect now: a server that is down or refuses the account fails here, not at the first request.
        await pool.release(await pool.acquire())
    return pool


async def create_pool(cfg: DBSettings, *, database: str | None = None, **extra) -> Pool:
    """Open the pool and its sibling for batches; `database=""` connects without selecting a database (to
    create it)."""
    name = cfg.name if database is None else database
    kwargs = dict(
        host=cfg.host,
        port=cfg.port,
        user=cfg.user,
        password=cfg.password,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=cfg.connect_timeout,
        init_command=_init_command(cfg),
        minsize=cfg.pool_min,
        maxsize=cfg.pool_max,
        pool_recycle=3600,
        cursorclass=aiomysql.DictCursor,
        limits=Limits(acquire=cfg.acquire_timeout, query=cfg.query_timeout),
    )
    if name:
        kwargs["db"] = name
    # Opened as needed (minsize 0): a process that never sends a batch holds no connection for it.
    batches = await _open_pool(**{**kwargs, "minsize": 0, "maxsize": cfg.batch_pool_max}, for_batches=True)
    kwargs.update(extra)
    return await asyncio.wait_for(_open_pool(**kwargs, batches=batches), cfg.connect_timeout + 1)


async def _refuse_stacked_statements(conn: aiomysql.Connection) -> None:
    """Switch `conn` to one statement per packet (COM_SET_OPTION, MYSQL_OPTION_MULTI_STATEMENTS_OFF).

    aiomysql always asks for CLIENT_MULTI_STATEMENTS at the handshake and has no option against it, so it is
    turned off here, once per server connection (the thread id changes if the connection is ever re-opened)."""
    await conn._execute_command(COMMAND.COM_SET_OPTION, struct.pack("<H", 1))
    await conn._read_packet()  # an EOF packet; an error packet raises
    conn.fresh_single_statements = conn.server_thread_id


def _single_statements(conn: aiomysql.Connection) -> bool:
    return getattr(conn, "fresh_single_statements", None) == conn.server_thread_id


@contextlib.asynccontextmanager
async def connection(pool: aiomysql.Pool, *, bounded: bool = True) -> AsyncIterator[aiomysql.Connection]:
    """Take a connection from the pool within the acquire timeout; the block must finish within the query
    timeout, or it is cancelled, the connection closed and DatabaseUnavailable raised. Only migrations pass
    `bounded=False` (DDL on a populated table may legitimately take minutes)."""
    bounds = limits(pool)
    # Counted only when no connection is free: the common path pays nothing for the gauge.
    waiting = pool.freesize == 0
    if waiting:
        metrics.DB_POOL_WAITING.inc()
    try:
        conn = await asyncio.wait_for(pool.acquire(), bounds.acquire)
    except (TimeoutError, OSError, pymysql.err.OperationalError) as exc:
        raise DatabaseUnavailable(str(exc) or "no connection within the acquire timeout") from exc
    finally:
        if waiting:
            metrics.DB_POOL_WAITING.dec()
    deadline = asyncio.timeout(bounds.query if bounded else None)
    try:
        async with deadline:
            yield conn
    except TimeoutError as exc:
        conn.close()
        if deadline.expired():
            raise DatabaseUnavailable(f"no answer within {bounds.query} s") from exc
        raise
    except (asyncio.CancelledError, OSError, pymysql.err.OperationalError, pymysql.err.InterfaceError):
        # A connection interrupted mid-statement may be half-read; never hand it to the next caller.
        conn.close()
        raise
    finally:
        pool.release(conn)


async def _rollback(conn: aiomysql.Connection, exc: BaseException) -> None:
    """Roll back after `exc`; a connection that was cancelled or timed out is closed instead (closing rolls
    back on the server, and a stalled server would never answer the ROLLBACK)."""
    if isinstance(exc, (asyncio.CancelledError, TimeoutError, OSError)) or is_connection_lost(exc):
        conn.close()
        return
    try:
        await asyncio.shield(conn.rollback())
    except Exception:
        conn.close()


@contextlib.asynccontextmanager
async def cursor(pool: aiomysql.Pool) -> AsyncIterator[aiomysql.DictCursor]:
    """A cursor on a pooled autocommit connection, for reads and single statements. Given the read pool with a
    replica (fresh.replica.ReplicaReads), a cursor that reads from the replica while it answers."""
    reads = getattr(pool, "read_cursor", None)
    if reads is not None:
        async with reads() as cur:
            yield cur
        return
    async with connection(pool) as conn, conn.cursor() as cur:
        yield cur


@contextlib.asynccontextmanager
async def batch_cursor(pool: Pool) -> AsyncIterator[aiomysql.DictCursor]:
    """A cursor on an autocommit connection of `pool.batches`, for `batch()`."""
    async with cursor(pool.batches) as cur:
        yield cur


@contextlib.asynccontextmanager
async def transaction(pool: aiomysql.Pool) -> AsyncIterator[aiomysql.DictCursor]:
    """Begin a transaction; commit when the block ends, roll back on any exception."""
    async with connection(pool) as conn:
        await conn.begin()
        try:
            async with conn.cursor() as cur:
                yield cur
            await conn.commit()
        except BaseException as exc:
            await _rollback(conn, exc)
            raise


class Outcome(tuple):
    """What one statement of a batch did: (rowcount, rows)."""

    @property
    def rowcount(self) -> int:
        return self[0]

    @property
    def rows(self) -> list[dict]:
        return self[1]


async def batch(cur: aiomysql.Cursor, statements: list[tuple[str, tuple | list | None]]) -> list[Outcome]:
    """Send `statements` in one packet and read every result: one round trip for all of them.

    The server runs them in order and stops at the first error, which is raised here (the statements after it
    did not run); every result is read before returning, so the connection is clean for its next use. `cur` must
    be on a connection of `pool.batches` (`batch_cursor()`, `batched_transaction()`)."""
    if _single_statements(cur.connection):
        raise RuntimeError("batch() needs a connection of pool.batches: this one takes one statement per packet")
    sql = ";\n".join(cur.mogrify(query, args) for query, args in statements)
    await cur.execute(sql)
    outcomes = [Outcome((cur.rowcount, list(await cur.fetchall())))]
    while await cur.nextset():
        outcomes.append(Outcome((cur.rowcount, list(await cur.fetchall()))))
    if len(outcomes) != len(statements):
        raise pymysql.err.InterfaceError(f"batch of {len(statements)} statements gave {len(outcomes)} results")
    return outcomes


def all_or_signal(statements: list[tuple[str, tuple | list | None, str]], errno: int) -> tuple[str, list]:
    """(sql, args, message) statements that must each change exactly one row, as one compound statement: at the
    first that changes none it SIGNALs `errno` with that statement's message, which stops the batch it is in before
    anything after it (a COMMIT included). The statements before it stay done, for the caller to roll back."""
    parts, values = [], []
    for sql, args, message in statements:
        parts.append(f"{sql}; IF ROW_COUNT() <> 1 THEN SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO={int(errno)},"
                     " MESSAGE_TEXT=%s; END IF;")
        values += [*(args or ()), message]
    return "BEGIN NOT ATOMIC " + " ".join(parts) + " END", values


def signalled(exc: BaseException, errno: int) -> str | None:
    """The message of an all_or_signal() statement that SIGNALled `errno`, or None for any other error."""
    if isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] == errno:
        return str(exc.args[1])
    return None


class BatchedTransaction:
    """A transaction whose BEGIN travels with its first batch and whose COMMIT with its last (`commit=True`)."""

    def __init__(self, cur: aiomysql.Cursor):
        self.cur = cur
        self.begun = False
        self.committed = False

    async def run(self, statements: list[tuple[str, tuple | list | None]], *, commit: bool = False) -> list[Outcome]:
        """Run `statements` inside the transaction in one round trip; with `commit`, commit it in the same one."""
        if self.committed:
            raise RuntimeError("the transaction is already committed")
        head = [] if self.begun else [("BEGIN", None)]
        tail = [("COMMIT", None)] if commit else []
        self.begun = True
        outcomes = await batch(self.cur, head + statements + tail)
        self.committed = commit
        return outcomes[len(head):len(outcomes) - len(tail)]


@contextlib.asynccontextmanager
async def batched_transaction(pool: Pool) -> AsyncIterator[BatchedTransaction]:
    """Like `transaction()`, in as few round trips as the caller's logic allows: the block runs its statements
    through `tx.run(...)`; it is committed at the end if the block did not commit it, rolled back on any
    exception (a failed batch included)."""
    async with connection(pool.batches) as conn, conn.cursor() as cur:
        tx = BatchedTransaction(cur)
        try:
            yield tx
            if tx.begun and not tx.committed:
                await conn.commit()
        except BaseException as exc:
            if tx.begun and not tx.committed:
                await _rollback(conn, exc)
            raise


async def fetchone(pool: aiomysql.Pool, sql: str, args=None) -> dict | None:
    async with cursor(pool) as cur:
        await cur.execute(sql, args)
        return await cur.fetchone()


async def fetchall(pool: aiomysql.Pool, sql: str, args=None) -> list[dict]:
    async with cursor(pool) as cur:
        await cur.execute(sql, args)
        return list(await cur.fetchall())


async def execute(pool: aiomysql.Pool, sql: str, args=None) -> int:
    """Run one statement in autocommit; return the affected row count."""
    async with cursor(pool) as cur:
        return await cur.execute(sql, args)
