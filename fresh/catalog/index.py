"""The index page's data: categories, banners, promotions and floors, cached in Redis as `cache:index`.

A cached index is rendered without touching MariaDB; admin writes call `invalidate_index()`.
"""

from __future__ import annotations

import json
from decimal import Decimal

import aiomysql
import redis.asyncio as aioredis

from fresh import db
from fresh.catalog.goods import image_url

INDEX_KEY = "cache:index"


async def build_index(pool: aiomysql.Pool) -> dict:
    """Read the index data from MariaDB (only on-sale SKUs appear)."""
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT id, name, logo, image FROM goods_types ORDER BY id")
        types = list(await cur.fetchall())
        await cur.execute(
            "SELECT b.sku_id, b.image, s.name FROM index_banners b JOIN goods_sku s ON s.id=b.sku_id"
            " WHERE s.status=1 ORDER BY b.`index`, b.id")
        banners = list(await cur.fetchall())
        await cur.execute("SELECT name, url, image FROM index_promotions ORDER BY `index`, id")
        promotions = list(await cur.fetchall())
        await cur.execute(
            "SELECT tg.type_id, tg.display_type, s.id, s.name, s.price, s.unite, s.image FROM index_type_goods tg"
            " JOIN goods_sku s ON s.id=tg.sku_id WHERE s.status=1 ORDER BY tg.type_id, tg.`index`, tg.id")
        cells = list(await cur.fetchall())
    floors = {t["id"]: {"titles": [], "goods": []} for t in types}
    for cell in cells:
        floor = floors.get(cell["type_id"])
        if floor is None:
            continue
        item = {"id": cell["id"], "name": cell["name"], "price": str(cell["price"]), "unite": cell["unite"],
                "image_url": image_url(cell["image"])}
        floor["titles" if cell["display_type"] == 0 else "goods"].append(item)
    return {
        "types": [
            {"id": t["id"], "name": t["name"], "logo": t["logo"], "image_url": image_url(t["image"]),
             **floors[t["id"]]}
            for t in types
        ],
        "banners": [{"sku_id": b["sku_id"], "name": b["name"], "image_url": image_url(b["image"])} for b in banners],
        "promotions": [{"name": p["name"], "url": p["url"], "image_url": image_url(p["image"])} for p in promotions],
    }


def _revive(data: dict) -> dict:
    """Prices travel as strings in JSON; give the templates Decimals back."""
    for t in data["types"]:
        for item in t["titles"] + t["goods"]:
            item["price"] = Decimal(item["price"])
    return data


async def get_index(pool: aiomysql.Pool, redis: aioredis.Redis, *, ttl: int) -> dict:
    """The index data from `cache:index`, rebuilt from MariaDB (and cached again) on a miss."""
    raw = await redis.get(INDEX_KEY)
    if raw is not None:
        try:
            return _revive(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            pass  # A corrupt or outdated entry is simply rebuilt.
    data = await build_index(pool)
    # Concurrent misses each write the same value; last writer wins, which is harmless.
    await redis.set(INDEX_KEY, json.dumps(data, ensure_ascii=False), ex=ttl)
    return _revive(data)


async def invalidate_index(redis: aioredis.Redis) -> None:
    """Drop the cached index data; the next index request rebuilds it (call after admin writes)."""
    await redis.delete(INDEX_KEY)
