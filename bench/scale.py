"""The catalog at a real shop's size (#21): search, category lists and detail with 100,842 SKUs beside the demo's.

A second database (`<bench db>` with `_bench` turned into `_scale_bench`) gets the demo catalog grown to
BENCH_SCALE_SKUS SKUs (`python -m fresh seed --demo --scale N`), and a second shop process serves it (its own Redis
db: BENCH_SCALE_REDIS_URL, default the bench's db + 1). Each page then runs in rounds alternating between the shop
with the demo catalog and the shop with the large one, so both see the machine in the same moments; the ratio is
the median of the rounds' rate ratios, and the target is the issue's: each page at 100k SKUs within 3x of its time
with the demo catalog (a rate at least a third of it).
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import subprocess
from urllib.parse import quote

from bench.common import PYTHON, ROOT, combine, env_int, progress
from bench.http import run_wrk, write_requests
from fresh import db, eventloop
from fresh.catalog.goods import LIST_MAX_PAGES

TARGET = 1 / 3
SEARCH_HIT = "草莓"  # 2 of the demo's 42 SKUs; about 4,800 of 100,842
SEARCH_MISS = "无此商品"


def scale_db_name(bench_db: str) -> str:
    return re.sub(r"_bench$", "", bench_db) + "_scale_bench"


def scale_redis_url(bench_url: str) -> str:
    explicit = os.environ.get("BENCH_SCALE_REDIS_URL")
    if explicit:
        return explicit
    base, _, number = bench_url.rpartition("/")
    return f"{base}/{int(number or 0) + 1}" if number.isdigit() else bench_url


def prepare_scale_db(env: dict, skus: int) -> None:
    """Drop and re-create the large catalog's database, migrate it and seed N SKUs (about 40 s for 100k)."""
    name = env["FRESH_DB_NAME"]
    if not name.endswith("_bench"):
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must end in _bench")

    async def drop() -> None:
        from fresh.settings import load_settings

        cfg = load_settings(env=env)
        pool = await db.create_pool(cfg.db, database="")
        try:
            await db.execute(pool, f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            pool.close()
            await pool.wait_closed()
        import redis.asyncio as aioredis

        client = aioredis.from_url(cfg.redis.url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    eventloop.run(drop())
    for args in (["migrate"], ["seed", "--demo", "--scale", str(skus)]):
        # Both commands are idempotent: a run cut short (a dropped connection on a busy shared server) is retried.
        for attempt in range(3):
            proc = subprocess.run([PYTHON, "-m", "fresh", *args], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=1200)
            if proc.returncode == 0:
                break
            progress(f"scale: python -m fresh {' '.join(args)} failed (attempt {attempt + 1}): "
                     + (proc.stderr.strip().splitlines() or ["?"])[-1])
        else:
            raise RuntimeError(f"python -m fresh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def pages(sku_ids: list[int]) -> list[tuple[str, list[str], list[str]]]:
    """(label, demo-catalog paths, large-catalog paths) of every page measured."""
    rows = [
        (f"GET /search?q={SEARCH_HIT} (matches)", [f"/search?q={quote(SEARCH_HIT)}"]),
        (f"GET /search?q={SEARCH_MISS} (no match)", [f"/search?q={quote(SEARCH_MISS)}"]),
    ]
    measured = [(label, paths, paths) for label, paths in rows]
    for sort in ("default", "price", "hot"):
        first = [f"/list/1/1?sort={sort}"]
        measured.append((f"GET /list/1/1?sort={sort} (page 1)", first, first))
        # The demo's categories fit on one page: its deep page is page 1. The large one's is the deepest it serves.
        measured.append((f"GET /list/1/{LIST_MAX_PAGES}?sort={sort} (deep page; demo: page 1)", first,
                         [f"/list/1/{LIST_MAX_PAGES}?sort={sort}"]))
    detail = [f"/goods/{i}" for i in sku_ids[:30]]
    measured.append(("GET /goods/<id> (detail, 30 SKUs)", detail, detail))
    return measured


def scale_scenarios(run) -> None:
    """Measure every page with both catalogs, in alternating rounds."""
    from bench.scenarios import ratio, route_exists, unavailable

    opts = run.opts
    label = "100k SKUs"
    if not route_exists("/search"):
        run.add(unavailable(f"{label}: search", "route not in this tree", "≤ 3× the demo catalog's time"))
        return
    if opts.base_url:
        run.add(unavailable(f"{label}: search", "needs the runner's own shops (BENCH_BASE_URL is set)"))
        return
    skus = env_int("BENCH_SCALE_SKUS", 100_842)
    env = {"FRESH_DB_NAME": scale_db_name(opts.db_name), "FRESH_REDIS_URL": scale_redis_url(opts.redis_url)}
    progress(f"scale: seeding {skus:,} SKUs into {env['FRESH_DB_NAME']} ({env['FRESH_REDIS_URL']})")
    prepare_scale_db(dict(os.environ, **env), skus)
    run.use_shop("atomic")
    big = run.shop_factory("atomic", sandbox_port=run.sandbox_port, env=env, name="scale")
    run.notes.append(
        f"{label}: the demo catalog grown to {skus:,} SKUs by `python -m fresh seed --scale` in its own database, "
        "served by a second shop process; each page alternates rounds between the two shops. Target: within 3× of "
        "the page's time with the demo catalog (a rate ≥ 33% of it). The demo's categories fit on one page, so its "
        "'deep page' figure is page 1 of the same sort.")
    try:
        xsrf = "_xsrf=" + secrets.token_hex(16)
        seconds = max(2.0, opts.seconds / opts.rounds)
        for name, small_paths, big_paths in pages(run.sku_ids):
            slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "page"
            small = write_requests(f"scale_demo_{slug}", [("GET", p, xsrf, "") for p in small_paths])
            large = write_requests(f"scale_big_{slug}", [("GET", p, xsrf, "") for p in big_paths])
            run_wrk(name, run.base_url, small, opts, seconds=1)  # warm-up: caches, pools
            run_wrk(name, big.base_url, large, opts, seconds=1)
            pairs = [(run_wrk(name, run.base_url, small, opts, seconds=seconds),
                      run_wrk(name, big.base_url, large, opts, seconds=seconds)) for _ in range(opts.rounds)]
            demo = run.ceiling(f"scale: {name}", combine(f"demo catalog: {name}", [d for d, _ in pairs]))
            result = combine(f"{label}: {name}", [b for _, b in pairs])
            rounds = [b.rps / d.rps for d, b in pairs if b.rps and d.rps]
            result.note = (f"{len(pairs)} rounds of {seconds:g} s; ratio per round "
                           + ", ".join(f"{x:.0%}" for x in rounds) + " (median counts)")
            result.extra.pop("requests_file", None)  # the profiler replays against the demo shop only
            run.add(ratio(result, demo, name="demo catalog", target=TARGET,
                          value=statistics.median(rounds) if rounds else None))
    finally:
        big.stop()
