"""The index page's data (categories, banners, promotions and floors) and the category strip of the other pages.

Read from MariaDB when fresh.catalog.pages renders a page; nothing here is cached.
"""

from __future__ import annotations

import aiomysql

from fresh import db
from fresh.catalog.goods import image_url

CATEGORIES_SQL = "SELECT id, name, logo FROM goods_types ORDER BY position, id"


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
        item = {"id": cell["id"], "name": cell["name"], "price": cell["price"], "unite": cell["unite"],
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


async def category_rows(pool: aiomysql.Pool) -> list[dict]:
    """The categories in their display order (the category strip of every catalog page but the index)."""
    return await db.fetchall(pool, CATEGORIES_SQL)
