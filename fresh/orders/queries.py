"""Reads for the pages: a user's orders with their items, one order with its items, comments of a SKU."""

from __future__ import annotations

from decimal import Decimal

import aiomysql

from fresh import db
from fresh.catalog import goods
from fresh.orders.status import ORDER_COLUMNS, PAY_METHODS, STATUS_NAMES, OrderStatus, get_order
from fresh.paging import page_of

PER_PAGE = 5


async def _items(pool: aiomysql.Pool, order_ids: list[str]) -> dict[str, list[dict]]:
    if not order_ids:
        return {}
    placeholders = ",".join(["%s"] * len(order_ids))
    rows = await db.fetchall(
        pool,
        f"SELECT order_id, sku_id, count, price, comment FROM order_goods"  # noqa: S608 -- only %s marks formatted in
        f" WHERE order_id IN ({placeholders}) ORDER BY order_id, sku_id",
        order_ids,
    )
    # Names and pictures come from the catalog (off-sale SKUs too: history must still show what was bought).
    skus = await goods.get_skus(pool, {r["sku_id"] for r in rows}, on_sale_only=False)
    items: dict[str, list[dict]] = {}
    for row in rows:
        sku = skus.get(row["sku_id"], {})
        items.setdefault(row["order_id"], []).append({
            **row,
            "name": sku.get("name", "已下架商品"),
            "unite": sku.get("unite", ""),
            "image_url": goods.image_url(sku.get("image", "")),
            "amount": row["price"] * row["count"],
        })
    return items


async def _shipments(pool: aiomysql.Pool, order_ids: list[str]) -> dict[str, dict]:
    """The carrier and tracking number staff entered when shipping (order_shipments, from the back office)."""
    if not order_ids:
        return {}
    placeholders = ",".join(["%s"] * len(order_ids))
    rows = await db.fetchall(pool, "SELECT order_id, carrier, tracking_no FROM order_shipments"  # noqa: S608 -- only %s marks formatted in
                                   f" WHERE order_id IN ({placeholders})", order_ids)
    return {row["order_id"]: row for row in rows}


async def pending_refunds(pool: aiomysql.Pool, order_ids: list[str]) -> dict[str, Decimal]:
    """Money on its way back to the buyer, per order: refund requests the gateway has not confirmed yet (pending in
    order_refunds, payments.refunds). A closed order that was paid anyway shows 退款中 until the refund lands."""
    if not order_ids:
        return {}
    placeholders = ",".join(["%s"] * len(order_ids))
    # status 1: pending (payments.refunds.RefundStatus.PENDING; orders cannot import payments, which imports them).
    rows = await db.fetchall(pool, "SELECT order_id, SUM(amount) AS amount FROM order_refunds"  # noqa: S608 -- only %s marks formatted in
                                   f" WHERE status=1 AND order_id IN ({placeholders}) GROUP BY order_id", order_ids)
    return {row["order_id"]: row["amount"] for row in rows}


def _decorate(order: dict, items: list[dict]) -> dict:
    return {
        **order,
        "items": items,
        "status_name": STATUS_NAMES.get(order["order_status"], ""),
        "pay_method_name": PAY_METHODS.get(order["pay_method"], ""),
        "total_amount": order["total_price"] + order["transit_price"],
    }


async def list_orders(pool: aiomysql.Pool, *, user_id: int, page: int, per_page: int = PER_PAGE) -> dict:
    """One page of the user's orders, newest first, with items; PageOutOfRange for a page the user does not have."""
    total = (await db.fetchone(pool, "SELECT COUNT(*) AS n FROM order_info WHERE user_id=%s", (user_id,)))["n"]
    paging = page_of(total, page, per_page)
    rows = await db.fetchall(
        pool,
        f"SELECT {ORDER_COLUMNS} FROM order_info"  # noqa: S608 -- ORDER_COLUMNS is a module constant
        " WHERE user_id=%s ORDER BY created_at DESC, order_id DESC LIMIT %s OFFSET %s",
        (user_id, per_page, paging.offset),
    )
    items = await _items(pool, [r["order_id"] for r in rows])
    shipments = await _shipments(pool, [r["order_id"] for r in rows if r["order_status"] >= OrderStatus.SHIPPED])
    refunding = await pending_refunds(pool, [r["order_id"] for r in rows if r["trade_no"]])
    return {
        "orders": [{**_decorate(r, items.get(r["order_id"], [])), "shipment": shipments.get(r["order_id"]),
                    "refund_pending": refunding.get(r["order_id"])} for r in rows],
        "page": paging.number,
        "pages": paging.pages,
        "total": total,
        "page_range": paging.window,
    }


async def order_detail(pool: aiomysql.Pool, order_id: str, *, user_id: int) -> dict:
    """The user's own order with its items; NotFound otherwise."""
    order = await get_order(pool, order_id, user_id=user_id)
    items = await _items(pool, [order_id])
    return _decorate(order, items.get(order_id, []))


async def sku_comments(pool: aiomysql.Pool, sku_id: int, *, limit: int = 20) -> list[dict]:
    """Latest comments on a SKU: user_id, comment, created_at (of the order line)."""
    return await db.fetchall(
        pool,
        "SELECT i.user_id, g.comment, g.created_at FROM order_goods g JOIN order_info i ON i.order_id=g.order_id"
        " WHERE g.sku_id=%s AND g.comment<>'' ORDER BY g.id DESC LIMIT %s",
        (sku_id, limit),
    )
