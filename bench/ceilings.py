"""Ceilings measured in the same run: Redis (`redis-benchmark -t hset`) and a MariaDB hot-row transaction loop.

(The HTTP ceiling is bench/bare.py driven by wrk, in run.py.)
"""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import time
from urllib.parse import urlsplit

from bench.common import Options, Result, percentile
from fresh import db
from fresh.settings import Settings


def redis_hset(opts: Options) -> Result:
    """redis-benchmark HSET with as many clients as wrk has connections, bounded in count."""
    url = urlsplit(opts.redis_url)
    dbnum = (url.path or "/0").lstrip("/") or "0"
    count = max(10_000, min(opts.max_requests, int(20_000 * opts.seconds)))
    argv = ["redis-benchmark", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 6379), "--dbnum", dbnum,
            "-t", "hset", "-n", str(count), "-c", str(opts.connections), "--csv", "--precision", "3"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    if proc.returncode != 0 or not rows:
        raise RuntimeError(f"redis-benchmark failed: {proc.stderr.strip() or proc.stdout.strip()}")
    row = rows[0]
    return Result(scenario="ceiling: Redis HSET (redis-benchmark)", rps=float(row["rps"]),
                  p50_ms=float(row["p50_latency_ms"]), p99_ms=float(row["p99_latency_ms"]), requests=count,
                  note=f"{opts.connections} clients, no pipelining")


HOT_DDL = [
    """CREATE TABLE IF NOT EXISTS bench_hot (
         id INT UNSIGNED NOT NULL PRIMARY KEY,
         stock INT UNSIGNED NOT NULL,
         sales INT UNSIGNED NOT NULL DEFAULT 0
       ) ENGINE=InnoDB""",
    """CREATE TABLE IF NOT EXISTS bench_hot_log (
         id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
         hot_id INT UNSIGNED NOT NULL,
         count INT UNSIGNED NOT NULL,
         created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
       ) ENGINE=InnoDB""",
]


async def mariadb_hot_row(cfg: Settings, opts: Options, *, workers: int | None = None) -> Result:
    """N workers each loop BEGIN; conditional UPDATE of the same row; INSERT; COMMIT (the pool the shop uses).

    This is the floor of what a hot-SKU order commit costs in MariaDB: one row lock held across two statements
    and a commit, serialised by InnoDB."""
    workers = workers or opts.buyers
    pool = await db.create_pool(cfg.db, maxsize=workers + 2)
    try:
        for ddl in HOT_DDL:
            await db.execute(pool, ddl)
        await db.execute(pool, "DELETE FROM bench_hot_log")
        await db.execute(pool, "REPLACE INTO bench_hot (id, stock, sales) VALUES (1, 100000000, 0)")
        latencies: list[float] = []
        failures = 0
        deadline = time.monotonic() + opts.seconds
        budget = [opts.max_orders]

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < deadline and budget[0] > 0:
                budget[0] -= 1
                started = time.perf_counter()
                try:
                    async with db.transaction(pool) as cur:
                        await cur.execute("UPDATE bench_hot SET stock = stock - 1, sales = sales + 1 "
                                          "WHERE id = 1 AND stock >= 1")
                        if cur.rowcount != 1:
                            raise RuntimeError("hot row ran out of stock")
                        await cur.execute("INSERT INTO bench_hot_log (hot_id, count) VALUES (1, 1)")
                except Exception as exc:
                    if not db.is_retryable(exc):
                        raise
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.monotonic() - started
        return Result(scenario=f"ceiling: MariaDB hot-row UPDATE+INSERT tx ({workers} workers)",
                      rps=len(latencies) / elapsed, p50_ms=1000 * percentile(latencies, 50),
                      p99_ms=1000 * percentile(latencies, 99), requests=len(latencies), errors=failures,
                      unit="tx/s", note="asyncio + aiomysql, READ COMMITTED, same row")
    finally:
        pool.close()
        await pool.wait_closed()
