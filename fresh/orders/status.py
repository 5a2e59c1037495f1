"""Order statuses, the one conditional status change every domain uses, and the order lookups.

Every status change is one `UPDATE ... WHERE order_id=%s AND order_status=<expected>` plus an `order_events` row in
the same transaction: repeating a change is harmless (the second finds no row) and racing it is safe (one wins).
"""

from __future__ import annotations

import enum

import aiomysql

from fresh import db
from fresh.errors import NotFound


class OrderStatus(enum.IntEnum):
    UNPAID = 1
    PAID = 2
    SHIPPED = 3
    RECEIVED = 4
    DONE = 5
    CLOSED = 6
    REFUNDED = 7  # the whole amount went back to the buyer (partial refunds leave the status as it was)


class ActionRes(enum.IntEnum):
    """res codes of the actions on one order (the owner's cancel, confirm and comment; the staff's ship, cancel,
    refund and cash-on-delivery collection)."""

    NOT_LOGGED_IN = 0
    BAD_INPUT = 1
    NO_ORDER = 2
    NOT_ALLOWED = 3  # not in its current status; with 503, the payment's state is not known yet: try again
    DONE = 4


STATUS_NAMES = {1: "待支付", 2: "待发货", 3: "待收货", 4: "待评价", 5: "已完成", 6: "已取消", 7: "已退款"}
PAY_METHODS = {1: "货到付款", 2: "微信支付", 3: "支付宝", 4: "银联支付"}
PAY_COD, PAY_WECHAT, PAY_ALIPAY, PAY_UNIONPAY = 1, 2, 3, 4
# The methods the shop can take; WeChat Pay and UnionPay are shown disabled on the confirmation page.
OFFERED_PAY_METHODS = (PAY_ALIPAY, PAY_COD)
SOURCES = ("web", "notify", "watcher", "admin", "expiry", "refund")

# Columns a transition may set alongside the status (payments sets trade_no and paid_at when marking paid).
TRANSITION_COLUMNS = frozenset({"trade_no", "paid_at", "pay_started_at"})
ER_TRANSITION_MISSED = 30010  # SIGNALled by locked_transition() when the order was not in the expected status


class _Now:
    """Sentinel: set a column to the database's UTC_TIMESTAMP(6) (connections run with time_zone +00:00)."""

    def __repr__(self) -> str:
        return "NOW"


NOW = _Now()

ORDER_COLUMNS = (
    "order_id, user_id, receiver, addr, zip_code, phone, pay_method, total_count, total_price, transit_price,"
    " order_status, trade_no, created_at, expires_at, pay_started_at, paid_at, refunded_amount, refunded_at"
)


def _transition_update(*, order_id: str, from_status: int, to_status: int, source: str,
                       **columns) -> tuple[str, tuple]:
    """The conditional UPDATE of a transition (checked arguments)."""
    if source not in SOURCES:
        raise ValueError(f"unknown event source {source!r}")
    unknown = set(columns) - TRANSITION_COLUMNS
    if unknown:
        raise ValueError(f"transition cannot set {sorted(unknown)}")
    sets, args = ["order_status=%s"], [int(to_status)]
    for name, value in sorted(columns.items()):
        if value is NOW:
            sets.append(f"{name}=UTC_TIMESTAMP(6)")
        else:
            sets.append(f"{name}=%s")
            args.append(value)
    # The status condition is the whole concurrency story: of two racing changes exactly one matches the row.
    sql = f"UPDATE order_info SET {', '.join(sets)} WHERE order_id=%s AND order_status=%s"  # noqa: S608 -- allow-listed
    return sql, (*args, order_id, int(from_status))


def _transition_event(*, order_id: str, from_status: int, to_status: int, source: str,
                      detail: str) -> tuple[str, tuple]:
    return ("INSERT INTO order_events (order_id, from_status, to_status, source, detail) VALUES (%s,%s,%s,%s,%s)",
            (order_id, int(from_status), int(to_status), source, detail[:255]))


async def transition(cur: aiomysql.Cursor, *, order_id: str, from_status: int, to_status: int, source: str,
                     detail: str = "", **columns) -> bool:
    """Move an order from `from_status` to `to_status` inside the caller's transaction; False if it was not there.

    `columns` may set trade_no, paid_at, pay_started_at (a value, or `NOW` for the database clock).
    """
    move = dict(order_id=order_id, from_status=from_status, to_status=to_status, source=source)
    if await cur.execute(*_transition_update(**move, **columns)) != 1:
        return False
    await cur.execute(*_transition_event(**move, detail=detail))
    return True


def locked_transition(*, order_id: str, from_status: int, to_status: int, source: str, detail: str = "",
                      **columns) -> list[tuple[str, tuple]]:
    """transition() as statements, for a batch whose transaction already holds the order's row locked in
    `from_status` (so the UPDATE matches it); the UPDATE SIGNALs ER_TRANSITION_MISSED if it matched nothing after
    all, which stops the batch before the event and the COMMIT."""
    move = dict(order_id=order_id, from_status=from_status, to_status=to_status, source=source)
    sql, args = _transition_update(**move, **columns)
    guard = db.all_or_signal([(sql, args, "order not in the expected status")], ER_TRANSITION_MISSED)
    return [guard, _transition_event(**move, detail=detail)]


def initial_status(pay_method: int) -> OrderStatus:
    """Cash on delivery is confirmed at once (待发货, paid on delivery, never expires); online methods wait."""
    return OrderStatus.PAID if pay_method == PAY_COD else OrderStatus.UNPAID


def created_event(order_id: str, pay_method: int = PAY_ALIPAY) -> tuple[str, tuple]:
    """The statement recording an order's creation (sent with the order's first batch)."""
    status = initial_status(pay_method)
    return (
        "INSERT INTO order_events (order_id, from_status, to_status, source, detail) VALUES (%s,NULL,%s,'web',%s)",
        (order_id, int(status), "下单（货到付款，已确认）" if status == OrderStatus.PAID else "下单"),
    )


def status_payload(order: dict) -> dict:
    """What the buyer's page is told about an order's status (websocket, /order/check)."""
    status = int(order["order_status"])
    return {
        "order_id": order["order_id"],
        "status": status,
        "status_name": STATUS_NAMES.get(status, ""),
        "paid": status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED, OrderStatus.DONE),
        "trade_no": order.get("trade_no") or "",
    }


async def get_order(pool: aiomysql.Pool, order_id: str, *, user_id: int | None = None) -> dict:
    """One order (without items); NotFound when unknown or, with `user_id`, someone else's."""
    if not isinstance(order_id, str) or not order_id or len(order_id) > 64:
        raise NotFound("订单不存在")
    sql = f"SELECT {ORDER_COLUMNS} FROM order_info WHERE order_id=%s"  # noqa: S608 -- ORDER_COLUMNS is a module constant
    args: tuple = (order_id,)
    if user_id is not None:
        sql += " AND user_id=%s"
        args = (order_id, user_id)
    row = await db.fetchone(pool, sql, args)
    if row is None:
        raise NotFound("订单不存在")
    return row


async def mark_pay_started(pool: aiomysql.Pool, order_id: str, user_id: int) -> bool:
    """Record (now) that the owner started paying an unpaid order, for the payment watcher; False otherwise."""
    changed = await db.execute(
        pool,
        "UPDATE order_info SET pay_started_at=UTC_TIMESTAMP(6) WHERE order_id=%s AND user_id=%s AND order_status=%s",
        (order_id, user_id, int(OrderStatus.UNPAID)),
    )
    return changed == 1


async def order_events(pool: aiomysql.Pool, order_id: str) -> list[dict]:
    return await db.fetchall(
        pool, "SELECT from_status, to_status, source, detail, at FROM order_events WHERE order_id=%s ORDER BY id",
        (order_id,),
    )
