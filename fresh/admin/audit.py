"""The audit log: one row per admin write (who, what, when, before -> after), written in the write's transaction.

Nothing in the admin updates or deletes these rows; the log pages only read them.
"""

from __future__ import annotations

import enum
import json
from datetime import date, datetime
from decimal import Decimal

import aiomysql

from fresh import db
from fresh.paging import Page, page_of


class Entity(enum.StrEnum):
    SKU = "sku"
    SPU = "spu"
    PICTURE = "picture"
    STOCK = "stock"
    CATEGORY = "category"
    BANNER = "banner"
    PROMOTION = "promotion"
    TYPE_GOODS = "type_goods"
    USER = "user"
    ORDER = "order"


ENTITY_NAMES = {
    Entity.SKU: "商品SKU", Entity.SPU: "商品SPU", Entity.PICTURE: "商品图片", Entity.STOCK: "库存",
    Entity.CATEGORY: "分类", Entity.BANNER: "首页轮播", Entity.PROMOTION: "首页促销",
    Entity.TYPE_GOODS: "首页分类展示", Entity.USER: "用户", Entity.ORDER: "订单",
}


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json(row: dict | None) -> str | None:
    if row is None:
        return None
    return json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)


async def record(cur: aiomysql.Cursor, staff, *, action: str, entity: Entity, entity_id, summary: str = "",
                 before: dict | None = None, after: dict | None = None) -> None:
    """Write one audit row inside the caller's transaction (so the log and the change commit or fail together)."""
    await cur.execute(
        "INSERT INTO audit_log (staff_id, staff_name, action, entity, entity_id, summary, before_json, after_json)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
        (staff.user_id, staff.username[:20], action[:32], str(entity), str(entity_id)[:64], summary[:255],
         to_json(before), to_json(after)),
    )


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if _plain(before.get(k)) != _plain(after.get(k))]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


async def list_entries(pool: aiomysql.Pool, *, entity: str = "", staff: str = "", entity_id: str = "",
                       page: int = 1, size: int = 30) -> Page:
    """Audit rows newest first, filtered by entity kind, staff name and entity id."""
    where, args = ["1=1"], []
    if entity:
        where.append("entity=%s")
        args.append(entity)
    if staff:
        where.append("staff_name=%s")
        args.append(staff)
    if entity_id:
        where.append("entity_id=%s")
        args.append(entity_id)
    condition = " AND ".join(where)
    total = (await db.fetchone(pool, f"SELECT COUNT(*) AS n FROM audit_log WHERE {condition}", args))["n"]  # noqa: S608 -- constant fragments
    paging = page_of(total, page, size)
    rows = await db.fetchall(
        pool, f"SELECT * FROM audit_log WHERE {condition} ORDER BY id DESC LIMIT %s OFFSET %s",  # noqa: S608 -- constant fragments
        (*args, size, paging.offset))
    for row in rows:
        row["before"] = json.loads(row["before_json"]) if row["before_json"] else None
        row["after"] = json.loads(row["after_json"]) if row["after_json"] else None
    return paging.with_items(rows)
