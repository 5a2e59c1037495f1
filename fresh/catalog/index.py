"""The index page's data: categories, banners, promotions and floors, cached in Redis as `cache:index`.

A cached index is rendered without touching MariaDB; admin writes call `invalidate_index()`.
"""

from __future__ import annotations

import json
from decimal import Decimal

import aiomysql
import redis.asyncio as aioredis

from fresh import db
from fresh.catalog.cache import invalidate_catalog, local_cache
from fresh.catalog.goods import image_url

INDEX_KEY = "cache:index"


async def build_index(pool: aiomysql.Pool) -> dict:
    """Read the index data from MariaDB (only on-sale SKUs appear; sold-out ones after the others, so they never
    lead the carousel or a floor: `s.stock<=0` sorts false before true)."""
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT id, name, logo, image, slogan, slogan_sub FROM goods_types ORDER BY position, id")
        types = list(await cur.fetchall())
        await cur.execute(
            "SELECT b.sku_id, b.image, b.title, b.subtitle, s.name, s.stock FROM index_banners b"
            " JOIN goods_sku s ON s.id=b.sku_id WHERE s.status=1 ORDER BY s.stock<=0, b.`index`, b.id")
        banners = list(await cur.fetchall())
        await cur.execute("SELECT name, url, image, title, subtitle FROM index_promotions ORDER BY `index`, id")
        promotions = list(await cur.fetchall())
        await cur.execute(
            "SELECT tg.type_id, tg.display_type, s.id, s.name, s.price, s.unite, s.image, s.stock"
            " FROM index_type_goods tg JOIN goods_sku s ON s.id=tg.sku_id WHERE s.status=1"
            " ORDER BY tg.type_id, s.stock<=0, tg.`index`, tg.id")
        cells = list(await cur.fetchall())
    floors = {t["id"]: {"titles": [], "goods": []} for t in types}
    for cell in cells:
        floor = floors.get(cell["type_id"])
        if floor is None:
            continue
        item = {"id": cell["id"], "name": cell["name"], "price": str(cell["price"]), "unite": cell["unite"],
                "image_url": image_url(cell["image"]), "stock": cell["stock"]}
        floor["titles" if cell["display_type"] == 0 else "goods"].append(item)
    return {
        "types": [
            {"id": t["id"], "name": t["name"], "logo": t["logo"], "image_url": image_url(t["image"]),
             "slogan": t["slogan"], "slogan_sub": t["slogan_sub"], **floors[t["id"]]}
            for t in types
        ],
        "banners": [{"sku_id": b["sku_id"], "name": b["name"], "image_url": image_url(b["image"]),
                     "title": b["title"], "subtitle": b["subtitle"], "stock": b["stock"]} for b in banners],
        "promotions": [{"name": p["name"], "url": p["url"], "image_url": image_url(p["image"]),
                        "title": p["title"], "subtitle": p["subtitle"]} for p in promotions],
    }


def _revive(data: dict) -> dict:
    """Prices travel as strings in JSON; give the templates Decimals back. An entry cached by an older build
    (before the copy and stock fields) gets their neutral values, so a deploy never meets a half-known entry."""
    for t in data["types"]:
        t.setdefault("slogan", "")
        t.setdefault("slogan_sub", "")
        for item in t["titles"] + t["goods"]:
            item["price"] = Decimal(item["price"])
            item.setdefault("stock", 1)
    for b in data["banners"]:
        b.setdefault("title", "")
        b.setdefault("subtitle", "")
        b.setdefault("stock", 1)
    for p in data["promotions"]:
        p.setdefault("title", "")
        p.setdefault("subtitle", "")
    return data


async def get_index(pool: aiomysql.Pool, redis: aioredis.Redis, *, ttl: int, version: str | None = None) -> dict:
    """The index data from `cache:index`, rebuilt from MariaDB (and cached again) on a miss.

    With `version` (the catalog version, read before), data stamped with another version counts as a miss: a
    rebuild that read MariaDB before an invalidation cannot leave its stale result behind for the others."""
    raw = await redis.get(INDEX_KEY)
    if raw is not None:
        try:
            data = json.loads(raw)
            if version is None or data.get("version") == version:
                return _revive(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # A corrupt or outdated entry is simply rebuilt.
    data = await build_index(pool)
    data["version"] = version
    # Concurrent misses each write the same value; last writer wins, which is harmless.
    await redis.set(INDEX_KEY, json.dumps(data, ensure_ascii=False), ex=ttl)
    return _revive(data)


async def local_index(pool: aiomysql.Pool, redis: aioredis.Redis, *, ttl: int, version: str) -> dict:
    """The index data decoded once per process and catalog version (the category strip of every catalog page).

    Treat it as read-only: every request of this process shares it."""
    cache = local_cache(redis, "index")
    data = cache.get("data", version)
    if data is None:
        data = await get_index(pool, redis, ttl=ttl, version=version)
        cache.put("data", version, data, ttl)
    return data


async def invalidate_index(redis: aioredis.Redis) -> None:
    """Drop the cached index data and change the catalog version, so every process rebuilds its pages and
    re-reads SKU stock (call after admin writes to the catalog)."""
    await invalidate_catalog(redis, INDEX_KEY)
