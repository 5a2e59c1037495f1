"""SKU lookups other domains use (cart, orders). Only SKUs on sale count as existing for shoppers."""

from __future__ import annotations

import aiomysql

from fresh import db

SKU_COLUMNS = "s.id, s.type_id, s.goods_id, s.name, s.`desc`, s.price, s.unite, s.image, s.stock, s.sales, s.status"


async def get_sku(pool: aiomysql.Pool, sku_id: int, *, on_sale_only: bool = True) -> dict | None:
    """One SKU by id, or None (unknown, or off sale when `on_sale_only`)."""
    row = await db.fetchone(pool, f"SELECT {SKU_COLUMNS} FROM goods_sku s WHERE s.id=%s", (sku_id,))
    if row is None or (on_sale_only and row["status"] != 1):
        return None
    return row


async def get_skus(pool: aiomysql.Pool, sku_ids, *, on_sale_only: bool = True) -> dict[int, dict]:
    """SKUs by id as {id: row}; unknown (and, when asked, off-sale) ids are simply absent."""
    ids = sorted({int(i) for i in sku_ids})
    if not ids:
        return {}
    placeholders = ",".join(["%s"] * len(ids))
    sql = f"SELECT {SKU_COLUMNS} FROM goods_sku s WHERE s.id IN ({placeholders})"
    if on_sale_only:
        sql += " AND s.status=1"
    return {row["id"]: row for row in await db.fetchall(pool, sql, ids)}


def image_url(path: str) -> str:
    """The public URL of a stored picture (media lives under var/media, served at /media/)."""
    if not path:
        return "/static/img/no-image.svg"
    return path if path.startswith(("/", "http://", "https://")) else f"/media/{path}"
