"""`python -m fresh seed --scale N`: the demo catalog grown to N SKUs, for benchmarks at a real shop's size.

Every added SKU copies a demo SKU (category, description, picture, and its SPU's name and detail in a SPU of its own
lap) under a varied name and price, so searches and category lists meet realistic numbers of matches: each demo
name repeats about N/42 times, while a SPU keeps a handful of SKUs as in the demo. Ids follow the demo's
and rows are inserted only when absent, so running it again (or with a larger N) only adds what is missing.
"""

from __future__ import annotations

from decimal import Decimal

import aiomysql

from fresh import db
from fresh.catalog import seed
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.search import SearchMode, rebuild_search_index

# Words put before a demo name to make the copies different SKUs (and give search something to tell apart).
PREFIXES = ["精选", "特级", "家庭装", "产地直发", "有机", "当季", "冷链", "礼盒", "优选", "鲜采", "实惠装", "进口",
            "本地", "农场", "臻品", "小份", "大份", "限量", "爆款", "新品"]
BATCH = 1_000


def scaled_spu(lap: int, spu_id: int) -> int:
    """The SPU of the copies of demo SPU `spu_id` in lap `lap` (lap 0 is the demo itself): each lap has its own SPUs,
    so a SPU keeps the demo's handful of SKUs (the detail page lists them) instead of thousands."""
    return lap * len(seed.SPUS) + spu_id


def scaled_sku(sku_id: int) -> tuple:
    """The row of added SKU `sku_id` (> the demo's ids): a copy of a demo SKU, chosen and varied by the id alone."""
    base = seed.SKUS[(sku_id - 1) % len(seed.SKUS)]
    base_id, type_id, spu_id, name, desc, price, unit, _stock, _sales, _kind = base
    lap = (sku_id - 1) // len(seed.SKUS)
    prefix = PREFIXES[lap % len(PREFIXES)]
    # Knuth's multiplicative hash spreads prices and sales without a random generator (same rows every run).
    mix = (sku_id * 2654435761) % 2**32
    factor = Decimal(80 + mix % 51) / 100  # 0.80 .. 1.30 of the demo price
    new_price = (Decimal(price) * factor).quantize(Decimal("0.01"))
    return (sku_id, type_id, scaled_spu(lap, spu_id), f"{prefix}{name} {lap}"[:50], desc, new_price, unit,
            seed.sku_path(base_id), 100 + mix % 900, (mix >> 10) % 500)


async def seed_scale(pool: aiomysql.Pool, redis, *, skus: int) -> tuple[SearchMode, int]:
    """Add SKUs after the demo catalog's until there are `skus` ids; rebuild the search index and invalidate the
    catalog caches. Returns (search mode, SKUs indexed). The demo catalog must be loaded first."""
    first = len(seed.SKUS) + 1
    laps = (skus - 1) // len(seed.SKUS)
    spus = [(scaled_spu(lap, spu_id), name, detail) for lap in range(1, laps + 1)
            for spu_id, (name, detail) in seed.SPUS.items()]
    # A bulk load, like a migration: one connection without the request deadline (a busy machine may take seconds per
    # batch); each batch is one multi-row INSERT, so it needs no transaction of its own.
    async with db.connection(pool, bounded=False) as conn, conn.cursor() as cur:
        for start in range(0, len(spus), BATCH):
            await cur.executemany("INSERT INTO goods (id, name, detail) VALUES (%s, %s, %s)"
                                  " ON DUPLICATE KEY UPDATE id=id", spus[start:start + BATCH])
        for start in range(first, skus + 1, BATCH):
            rows = [scaled_sku(i) for i in range(start, min(start + BATCH, skus + 1))]
            await cur.executemany(
                "INSERT INTO goods_sku (id, type_id, goods_id, name, `desc`, price, unite, image, stock, sales,"
                " status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1) ON DUPLICATE KEY UPDATE id=id", rows)
    mode, indexed = await rebuild_search_index(pool)
    await invalidate_catalog(redis)
    return mode, indexed
