"""Stock adjustments (入库, 盘点, 损耗): one conditional UPDATE each, with a history row and an audit row.

A decrease is `stock=stock-n WHERE stock>=n`, the same guard orders take stock with, so an adjustment and any
number of concurrent orders serialize on the row lock and never take stock below zero or lose a sale.
"""

from __future__ import annotations

import enum

import aiomysql
import redis.asyncio as aioredis

from fresh import db
from fresh.admin import audit
from fresh.admin.forms import Form
from fresh.admin.goods import MAX_STOCK, clean_int
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.goods import forget_cart_sku
from fresh.errors import Conflict, NotFound


class Reason(enum.StrEnum):
    IN = "in"
    COUNT = "count"
    LOSS = "loss"


REASON_NAMES = {Reason.IN: "入库", Reason.COUNT: "盘点", Reason.LOSS: "损耗"}


def clean_adjustment(values: dict[str, str]) -> Form:
    """reason, a non-zero signed delta (入库 adds, 损耗 removes, 盘点 either) and an optional note."""
    form = Form(values)
    reason = values.get("reason", "")
    if reason not in set(Reason):
        form.error("reason", "请选择调整原因")
    delta = clean_int(values.get("delta", ""), low=-MAX_STOCK, high=MAX_STOCK)
    if delta is None or delta == 0:
        form.error("delta", f"调整数量须为非零整数（-{MAX_STOCK}–{MAX_STOCK}）")
    elif reason == Reason.IN and delta < 0:
        form.error("delta", "入库数量须为正数")
    elif reason == Reason.LOSS and delta > 0:
        form.error("delta", "损耗数量须为负数")
    note = values.get("note", "").strip()
    if len(note) > 100:
        form.error("note", "备注最多100字")
    form.clean = {"reason": reason, "delta": delta, "note": note}
    return form


async def adjust_stock(pool: aiomysql.Pool, redis: aioredis.Redis, staff, sku_id: int, *, reason: str,
                       delta: int, note: str = "") -> int:
    """Apply one adjustment; returns the new stock. Conflict when it would take stock below zero."""
    async with db.transaction(pool) as cur:
        if delta > 0:
            changed = await cur.execute("UPDATE goods_sku SET stock=stock+%s WHERE id=%s AND stock+%s<=%s",
                                        (delta, sku_id, delta, 4_000_000_000))
        else:
            changed = await cur.execute("UPDATE goods_sku SET stock=stock-%s WHERE id=%s AND stock>=%s",
                                        (-delta, sku_id, -delta))
        # The row is locked by our UPDATE (or we read the committed row that refused it).
        await cur.execute("SELECT name, stock FROM goods_sku WHERE id=%s", (sku_id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound("商品不存在")
        if not changed:
            raise Conflict(f"库存不足：当前库存{row['stock']}，不能减少{-delta}")
        after = row["stock"]
        await cur.execute(
            "INSERT INTO stock_adjustments (sku_id, reason, delta, stock_before, stock_after, note, staff_id)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s)", (sku_id, reason, delta, after - delta, after, note, staff.user_id))
        await audit.record(cur, staff, action=f"stock_{reason}", entity=audit.Entity.STOCK, entity_id=sku_id,
                           summary=f"{REASON_NAMES[Reason(reason)]} {delta:+d}「{row['name']}」{note}",
                           before={"stock": after - delta}, after={"stock": after})
    forget_cart_sku(redis, sku_id)
    await invalidate_catalog(redis)
    return after


async def history(pool: aiomysql.Pool, sku_id: int, *, limit: int = 100) -> list[dict]:
    rows = await db.fetchall(
        pool, "SELECT a.id, a.reason, a.delta, a.stock_before, a.stock_after, a.note, a.at, u.username"
        " FROM stock_adjustments a LEFT JOIN users u ON u.id=a.staff_id WHERE a.sku_id=%s ORDER BY a.id DESC"
        " LIMIT %s", (sku_id, limit))
    for row in rows:
        row["reason_name"] = REASON_NAMES.get(Reason(row["reason"]), row["reason"])
    return rows
