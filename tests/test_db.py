"""fresh.db's batches: several statements per round trip only on the batch pool, errors mid-batch, and batched
transactions."""

from __future__ import annotations

import contextlib

import pymysql
import pytest

from fresh import db

ER_PARSE_ERROR = 1064


@pytest.fixture
async def probe(pool):
    await db.execute(pool, "CREATE TABLE IF NOT EXISTS batch_probe (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
    await db.execute(pool, "DELETE FROM batch_probe")
    yield
    await db.execute(pool, "DROP TABLE batch_probe")


async def rows(pool) -> list[tuple]:
    return [(r["id"], r["v"]) for r in await db.fetchall(pool, "SELECT id, v FROM batch_probe ORDER BY id")]


@pytest.mark.parametrize("stacked", ["SELECT 1; SELECT 2", "SELECT 1;\nSELECT 2"])
async def test_the_ordinary_pool_refuses_stacked_statements(pool, stacked):
    # Several connections held at once, so the pool opens new ones: each is checked, not just the first.
    async with contextlib.AsyncExitStack() as stack:
        curs = [await stack.enter_async_context(db.cursor(pool)) for _ in range(3)]
        for cur in curs:
            with pytest.raises(pymysql.err.ProgrammingError) as refused:
                await cur.execute(stacked)
            assert refused.value.args[0] == ER_PARSE_ERROR
            # Refused whole: nothing ran, and the connection answers its next statement normally.
            await cur.execute("SELECT 41 + 1 AS n")
            assert (await cur.fetchone()) == {"n": 42}


async def test_a_connection_taken_straight_from_the_pool_refuses_them_too(pool):
    # The replica's reads take connections with aiomysql's acquire(), not through db.connection().
    async with pool.acquire() as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.ProgrammingError) as refused:
            await cur.execute("SELECT 1; SELECT 2")
        assert refused.value.args[0] == ER_PARSE_ERROR


async def test_the_batch_pool_takes_stacked_statements(pool):
    async with db.batch_cursor(pool) as cur:
        await cur.execute("SELECT 1 AS a; SELECT 2 AS b")
        assert await cur.fetchall() == [{"a": 1}]
        assert await cur.nextset()
        assert await cur.fetchall() == [{"b": 2}]


async def test_batch_refuses_a_connection_of_the_ordinary_pool(pool):
    async with db.cursor(pool) as cur:
        with pytest.raises(RuntimeError, match="pool.batches"):
            await db.batch(cur, [("SELECT 1", None), ("SELECT 2", None)])


async def test_batch_runs_in_order_and_returns_each_result(pool, probe):
    async with db.batch_cursor(pool) as cur:
        outcomes = await db.batch(cur, [
            ("INSERT INTO batch_probe VALUES (%s,%s),(%s,%s)", (1, "a'; DROP TABLE x; --", 2, "b")),
            ("UPDATE batch_probe SET v=%s WHERE id=%s", ("c", 2)),
            ("UPDATE batch_probe SET v=%s WHERE id=%s", ("d", 99)),
            ("SELECT id, v FROM batch_probe WHERE id IN (%s,%s) ORDER BY id", (1, 2)),
        ])
    assert [o.rowcount for o in outcomes[:3]] == [2, 1, 0]
    # Parameters are escaped by the driver: the quote and semicolon in the value are data, not SQL.
    assert outcomes[3].rows == [{"id": 1, "v": "a'; DROP TABLE x; --"}, {"id": 2, "v": "c"}]


async def test_error_mid_batch_stops_there_and_leaves_the_connection_clean(pool, probe):
    async with db.batch_cursor(pool) as cur:
        with pytest.raises(pymysql.err.IntegrityError):
            await db.batch(cur, [
                ("INSERT INTO batch_probe VALUES (%s,%s)", (1, "a")),
                ("INSERT INTO batch_probe VALUES (%s,%s)", (1, "duplicate")),
                ("INSERT INTO batch_probe VALUES (%s,%s)", (3, "never")),
            ])
        # The same connection answers its next statement normally.
        await cur.execute("SELECT 41 + 1 AS n")
        assert (await cur.fetchone()) == {"n": 42}
    assert await rows(pool) == [(1, "a")]


async def test_batched_transaction_commits_with_its_last_batch(pool, probe):
    async with db.batched_transaction(pool) as tx:
        first = await tx.run([("INSERT INTO batch_probe VALUES (%s,%s)", (1, "a")),
                              ("SELECT COUNT(*) AS n FROM batch_probe", None)])
        assert first[1].rows == [{"n": 1}]
        # Not visible outside before the commit.
        assert await rows(pool) == []
        await tx.run([("INSERT INTO batch_probe VALUES (%s,%s)", (2, "b"))], commit=True)
        assert await rows(pool) == [(1, "a"), (2, "b")]
        with pytest.raises(RuntimeError):
            await tx.run([("SELECT 1", None)])


async def test_batched_transaction_commits_at_the_end_without_commit_flag(pool, probe):
    async with db.batched_transaction(pool) as tx:
        await tx.run([("INSERT INTO batch_probe VALUES (%s,%s)", (1, "a"))])
    assert await rows(pool) == [(1, "a")]


@pytest.mark.parametrize("failure", ["python", "sql"])
async def test_batched_transaction_rolls_back_everything(pool, probe, failure):
    class Refused(Exception):
        pass

    with pytest.raises(Refused if failure == "python" else pymysql.err.IntegrityError):
        async with db.batched_transaction(pool) as tx:
            await tx.run([("INSERT INTO batch_probe VALUES (%s,%s)", (1, "a")), ("SAVEPOINT sp", None),
                          ("INSERT INTO batch_probe VALUES (%s,%s)", (2, "b"))])
            if failure == "python":
                raise Refused()
            await tx.run([("INSERT INTO batch_probe VALUES (%s,%s)", (2, "again"))], commit=True)
    assert await rows(pool) == []


async def test_rollback_to_savepoint_inside_a_batched_transaction(pool, probe):
    async with db.batched_transaction(pool) as tx:
        await tx.run([("INSERT INTO batch_probe VALUES (%s,%s)", (1, "kept")), ("SAVEPOINT sp", None),
                      ("INSERT INTO batch_probe VALUES (%s,%s)", (2, "undone"))])
        await tx.run([("ROLLBACK TO SAVEPOINT sp", None), ("INSERT INTO batch_probe VALUES (%s,%s)", (3, "after"))],
                     commit=True)
    assert await rows(pool) == [(1, "kept"), (3, "after")]


async def test_all_or_signal_stops_the_batch_at_the_first_statement_that_changes_nothing(pool, probe):
    await db.execute(pool, "INSERT INTO batch_probe VALUES (1,'a'),(2,'b')")
    guard = db.all_or_signal([("UPDATE batch_probe SET v='x' WHERE id=%s", (1,), "one"),
                              ("UPDATE batch_probe SET v='x' WHERE id=%s", (99,), "ninety-nine"),
                              ("UPDATE batch_probe SET v='x' WHERE id=%s", (2,), "two")], 30999)
    with pytest.raises(pymysql.err.OperationalError) as raised:
        async with db.batched_transaction(pool) as tx:
            await tx.run([guard, ("INSERT INTO batch_probe VALUES (3,'c')", None)], commit=True)
    assert db.signalled(raised.value, 30999) == "ninety-nine" and db.signalled(raised.value, 1) is None
    assert await rows(pool) == [(1, "a"), (2, "b")]  # the first UPDATE was rolled back, nothing after ran
    async with db.batched_transaction(pool) as tx:
        await tx.run([db.all_or_signal([("UPDATE batch_probe SET v='y' WHERE id=%s", (2,), "two")], 30999)],
                     commit=True)
    assert await rows(pool) == [(1, "a"), (2, "y")]
