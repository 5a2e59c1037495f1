"""Apply fresh/migrations/*.sql in order, each recorded in schema_migrations."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiomysql
import pymysql

from fresh import db
from fresh.settings import DBSettings

log = logging.getLogger("fresh.migrate")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class MigrationError(RuntimeError):
    """A statement of a migration failed: names the migration's file, the statement's number and its text."""


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements: `;` at the end of a line ends one; `--` lines are comments."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


async def create_database(cfg: DBSettings, *, drop: bool = False) -> None:
    """Create the configured database (utf8mb4) if it does not exist; `drop` starts it afresh."""
    if not _DB_NAME.match(cfg.name):
        raise ValueError(f"bad database name {cfg.name!r}")
    pool = await db.create_pool(cfg, database="", minsize=1, maxsize=1)
    try:
        async with db.cursor(pool) as cur:
            # Checked first rather than IF [NOT] EXISTS, which leaves a server warning behind.
            await cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name=%s", (cfg.name,))
            exists = await cur.fetchone() is not None
            if exists and drop:
                await cur.execute(f"DROP DATABASE `{cfg.name}`")
            if not exists or drop:
                await cur.execute(
                    f"CREATE DATABASE `{cfg.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
    finally:
        pool.close()
        await pool.wait_closed()


def read_migrations(folder: Path) -> list[tuple[str, str]]:
    """(file name, text) of each migration in `folder`, in the order they apply."""
    return [(path.name, path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.sql"))]


async def migrate(pool: aiomysql.Pool, *, folder: Path = MIGRATIONS) -> list[str]:
    """Apply the pending migrations of `folder`; return their versions. Safe to run from several processes at once."""
    migrations = await asyncio.to_thread(read_migrations, folder)
    applied_now = []
    async with db.connection(pool, bounded=False) as conn, conn.cursor() as cur:
        # DDL commits implicitly, so a named lock (not a transaction) keeps two migrators apart.
        await cur.execute("SELECT GET_LOCK('dailyfresh_migrate', 60) AS got")
        if not (await cur.fetchone())["got"]:
            raise RuntimeError("another migration holds the lock")
        try:
            await cur.execute("SHOW TABLES LIKE 'schema_migrations'")
            if await cur.fetchone() is None:
                await cur.execute(
                    "CREATE TABLE schema_migrations ("
                    " version VARCHAR(255) NOT NULL PRIMARY KEY,"
                    " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
                )
            # A re-run statement's IF [NOT] EXISTS leaves a note, which the driver would turn into a warning: the
            # notes say nothing a migration needs, failures still raise.
            await cur.execute("SET SESSION sql_notes=0")
            await cur.execute("SELECT version FROM schema_migrations")
            done = {row["version"] for row in await cur.fetchall()}
            for name, text in migrations:
                version = name.removesuffix(".sql")
                if version in done:
                    continue
                log.info("applying migration %s", version)
                statements = split_statements(text)
                for number, statement in enumerate(statements, 1):
                    try:
                        await cur.execute(statement)
                    except pymysql.err.MySQLError as exc:
                        # DDL is not transactional: the statements before this one stay applied and the version
                        # stays unrecorded, so the migration runs again from its start once fixed (which is why
                        # migrations from 0003 on are written to be re-runnable).
                        raise MigrationError(
                            f"migration {name} failed at statement {number} of {len(statements)}: {exc}\n"
                            f"{statement}") from exc
                await cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
        finally:
            await cur.execute("SET SESSION sql_notes=1")  # the connection goes back to the pool as it came
            await cur.execute("DO RELEASE_LOCK('dailyfresh_migrate')")
    return applied_now
