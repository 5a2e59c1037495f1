"""fresh/migrate.py on databases of the test's own: every migration on a fresh database, a re-run that does nothing,
and a failing statement reported by file and text with schema_migrations left telling the truth."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from fresh import db, migrate


@pytest.fixture
async def empty_database(settings):
    """(pool, its DB settings) of a new, uniquely named empty database, dropped after the test."""
    cfg = dataclasses.replace(settings.db, name=f"{settings.db.name}_m{secrets.token_hex(4)}")
    await migrate.create_database(cfg)
    pool = await db.create_pool(cfg, minsize=1, maxsize=2)
    try:
        yield pool, cfg
    finally:
        pool.close()
        await pool.wait_closed()
        admin = await db.create_pool(cfg, database="", minsize=1, maxsize=1)
        async with db.cursor(admin) as cur:
            await cur.execute(f"DROP DATABASE `{cfg.name}`")  # a name made above from [a-z0-9_]
        admin.close()
        await admin.wait_closed()


async def schema(pool, name: str) -> tuple:
    """Every column and index of the database, and the migrations it records with their times."""
    columns = await db.fetchall(
        pool, "SELECT table_name, column_name, column_type, is_nullable, column_default, extra"
              " FROM information_schema.columns WHERE table_schema=%s ORDER BY table_name, ordinal_position", (name,))
    indexes = await db.fetchall(
        pool, "SELECT table_name, index_name, seq_in_index, column_name, non_unique FROM information_schema.statistics"
              " WHERE table_schema=%s ORDER BY table_name, index_name, seq_in_index", (name,))
    versions = await db.fetchall(pool, "SELECT version, applied_at FROM schema_migrations ORDER BY version")
    return [tuple(r.values()) for r in columns], [tuple(r.values()) for r in indexes], versions


async def test_a_fresh_database_gets_every_migration_and_a_rerun_changes_nothing(empty_database):
    pool, cfg = empty_database
    files = sorted(path.stem for path in migrate.MIGRATIONS.glob("*.sql"))
    assert len(files) >= 5
    assert await migrate.migrate(pool) == files
    before = await schema(pool, cfg.name)
    assert [row["version"] for row in before[2]] == files
    tables = {row[0] for row in before[0]}
    assert {"users", "goods_sku", "order_info", "order_goods", "audit_log", "sku_search"} <= tables

    assert await migrate.migrate(pool) == []
    assert await schema(pool, cfg.name) == before


def write(folder, name: str, sql: str) -> None:
    (folder / name).write_text(sql, encoding="utf-8")


async def test_a_failing_statement_is_reported_with_its_file_and_text(empty_database, tmp_path):
    pool, cfg = empty_database
    folder = tmp_path / "migrations"
    folder.mkdir()
    write(folder, "0001_first.sql", "-- a table\nCREATE TABLE first_t (id INT PRIMARY KEY);\n")
    broken = "INSERT INTO no_such_table (id) VALUES (1)"
    second = ("CREATE TABLE IF NOT EXISTS second_t (id INT PRIMARY KEY);\n"
              "{};\n"
              "CREATE TABLE IF NOT EXISTS second_after (id INT PRIMARY KEY);\n")
    write(folder, "0002_second.sql", second.format(broken))
    write(folder, "0003_third.sql", "CREATE TABLE third_t (id INT PRIMARY KEY);\n")

    with pytest.raises(migrate.MigrationError) as failed:
        await migrate.migrate(pool, folder=folder)
    message = str(failed.value)
    assert "0002_second.sql" in message and "statement 2 of 3" in message
    assert message.endswith("\n" + broken) and "no_such_table" in message.splitlines()[0]

    # Recorded: what was applied whole. The failed file is not (its first statement stays: DDL commits at once),
    # and nothing after it ran.
    rows = await db.fetchall(pool, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in rows] == ["0001_first"]
    tables = {row["t"] for row in await db.fetchall(
        pool, "SELECT table_name AS t FROM information_schema.tables WHERE table_schema=%s", (cfg.name,))}
    assert tables == {"schema_migrations", "first_t", "second_t"}

    # Fixed, the same file runs again from its start (its statements are re-runnable) and the rest follows.
    write(folder, "0002_second.sql", second.format("INSERT INTO first_t (id) VALUES (1)"))
    assert await migrate.migrate(pool, folder=folder) == ["0002_second", "0003_third"]
    rows = await db.fetchall(pool, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in rows] == ["0001_first", "0002_second", "0003_third"]
    assert await migrate.migrate(pool, folder=folder) == []
