"""After the order is placed: the close step (stock back), ship, confirm receipt, comment."""

from __future__ import annotations

import aiomysql

from fresh import db
from fresh.errors import BadRequest, Conflict, NotFound
from fresh.orders.status import PAY_COD, ActionRes, OrderStatus, get_order, transition

MAX_COMMENT = 200


async def return_stock(cur: aiomysql.Cursor, order_id: str) -> None:
    """Give an order's goods back to stock and sales, inside the caller's transaction."""
    await cur.execute("SELECT sku_id, count FROM order_goods WHERE order_id=%s ORDER BY sku_id", (order_id,))
    # One UPDATE per SKU in ascending id order: the same lock order as place_order, so the two never deadlock.
    for row in await cur.fetchall():
        await cur.execute(
            "UPDATE goods_sku SET stock=stock+%s, sales=IF(sales>=%s, sales-%s, 0) WHERE id=%s",
            (row["count"], row["count"], row["count"], row["sku_id"]),
        )


async def close_unpaid(cur: aiomysql.Cursor, order_id: str, *, source: str, detail: str) -> bool:
    """Close an unpaid order and return its stock, exactly once however many closers race; False if not unpaid.

    Only the close path (fresh.orders.closing.close_order) calls this, after the payment is stopped."""
    if not await transition(cur, order_id=order_id, from_status=OrderStatus.UNPAID, to_status=OrderStatus.CLOSED,
                            source=source, detail=detail):
        return False
    await return_stock(cur, order_id)
    return True


async def mark_cod_paid(pool: aiomysql.Pool, order_id: str, *, source: str = "admin",
                        detail: str = "货到付款，已收款") -> bool:
    """Staff records that a cash-on-delivery order was paid on delivery (paid_at and an event; the status follows
    shipping as usual). False when it already was, or is not a cash-on-delivery order that is confirmed or on its
    way (待发货/待收货/待评价/已完成)."""
    async with db.transaction(pool) as cur:
        # Conditional on paid_at still being empty: of two racing clicks one records it.
        changed = await cur.execute(
            "UPDATE order_info SET paid_at=UTC_TIMESTAMP(6) WHERE order_id=%s AND pay_method=%s AND paid_at IS NULL"
            " AND order_status IN (%s,%s,%s,%s)",
            (order_id, PAY_COD, int(OrderStatus.PAID), int(OrderStatus.SHIPPED), int(OrderStatus.RECEIVED),
             int(OrderStatus.DONE)))
        if changed != 1:
            return False
        await cur.execute(
            "INSERT INTO order_events (order_id, from_status, to_status, source, detail)"
            " SELECT order_id, order_status, order_status, %s, %s FROM order_info WHERE order_id=%s",
            (source, detail[:255], order_id))
    return True


async def ship_order(pool: aiomysql.Pool, order_id: str, *, source: str = "admin", detail: str = "发货") -> bool:
    """Staff ships a paid order (2 -> 3); False when it was not waiting for shipment."""
    async with db.transaction(pool) as cur:
        return await transition(cur, order_id=order_id, from_status=OrderStatus.PAID,
                                to_status=OrderStatus.SHIPPED, source=source, detail=detail)


async def confirm_received(pool: aiomysql.Pool, *, user_id: int, order_id: str) -> None:
    """The owner confirms receipt (3 -> 4); NotFound for others' orders, Conflict in any other status."""
    await get_order(pool, order_id, user_id=user_id)
    async with db.transaction(pool) as cur:
        if not await transition(cur, order_id=order_id, from_status=OrderStatus.SHIPPED,
                                to_status=OrderStatus.RECEIVED, source="web", detail="确认收货"):
            raise Conflict("订单当前状态不能确认收货", res=ActionRes.NOT_ALLOWED)


def clean_comments(form: dict[int, str], sku_ids: list[int]) -> dict[int, str]:
    """One non-empty comment of at most MAX_COMMENT characters for every item of the order."""
    comments = {}
    for sku_id in sku_ids:
        text = (form.get(sku_id) or "").strip()
        if not text:
            raise BadRequest("请为每件商品填写评价")
        if len(text) > MAX_COMMENT:
            raise BadRequest(f"评价最多{MAX_COMMENT}个字")
        comments[sku_id] = text
    return comments


async def comment_order(pool: aiomysql.Pool, *, user_id: int, order_id: str, comments: dict[int, str]) -> None:
    """Store one comment per item of an order in 待评价 and complete it (4 -> 5)."""
    await get_order(pool, order_id, user_id=user_id)
    async with db.transaction(pool) as cur:
        # The status change comes first: of two racing submissions only one passes it, so comments are written once.
        if not await transition(cur, order_id=order_id, from_status=OrderStatus.RECEIVED,
                                to_status=OrderStatus.DONE, source="web", detail="评价"):
            raise Conflict("订单当前状态不能评价", res=ActionRes.NOT_ALLOWED)
        for sku_id, text in sorted(comments.items()):
            changed = await cur.execute(
                "UPDATE order_goods SET comment=%s WHERE order_id=%s AND sku_id=%s", (text, order_id, sku_id)
            )
            if changed != 1:
                raise NotFound("订单中没有该商品")
