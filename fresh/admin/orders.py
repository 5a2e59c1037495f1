"""Orders in the back office: the filtered list, the detail, 发货 and 取消.

发货 is the lifecycle's conditional transition (2 -> 3, event source `admin` naming the staff user) plus the
shipment row and the audit row, in one transaction: of two staff pressing at once exactly one ships. The new
status is then published, so the shopper's open page changes live.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import aiomysql
import redis.asyncio as aioredis

from fresh import db
from fresh.admin import audit
from fresh.admin.dashboard import BEIJING
from fresh.admin.forms import Form
from fresh.errors import Conflict, NotFound
from fresh.orders import queries
from fresh.orders.closing import close_order, refuse_unless_closed
from fresh.orders.lifecycle import mark_cod_paid
from fresh.orders.status import (
    PAY_METHODS,
    STATUS_NAMES,
    ActionRes,
    OrderStatus,
    get_order,
    order_events,
    transition,
)
from fresh.paging import Page, page_of
from fresh.payments import refunds
from fresh.payments.pay import publish_payload

ORDER_ID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
SOURCE_NAMES = {"web": "用户", "notify": "支付宝通知", "watcher": "支付查询", "admin": "管理员", "expiry": "超时关闭"}


def clean_filters(values: dict[str, str]) -> dict:
    """status, date range (Beijing days), username and order id; malformed ones are dropped."""
    status = values.get("status", "")
    out = {"status": int(status) if status.isdigit() and int(status) in STATUS_NAMES else None}
    for name in ("start", "end"):
        try:
            out[name] = date.fromisoformat(values.get(name, ""))
        except ValueError:
            out[name] = None
    out["user"] = values.get("user", "").strip()[:20]
    order_id = values.get("order_id", "").strip()
    out["order_id"] = order_id if ORDER_ID_RE.fullmatch(order_id) else ""
    return out


async def list_orders(pool: aiomysql.Pool, filters: dict, *, page: int = 1, size: int = 20) -> Page:
    where, args = ["1=1"], []
    if filters.get("status"):
        where.append("o.order_status=%s")
        args.append(filters["status"])
    if filters.get("start"):
        where.append("o.created_at>=%s")
        args.append(datetime.combine(filters["start"], datetime.min.time()) - BEIJING)
    if filters.get("end"):
        where.append("o.created_at<%s")
        args.append(datetime.combine(filters["end"] + timedelta(days=1), datetime.min.time()) - BEIJING)
    if filters.get("user"):
        where.append("u.username=%s")
        args.append(filters["user"])
    if filters.get("order_id"):
        where.append("o.order_id=%s")
        args.append(filters["order_id"])
    condition = " AND ".join(where)
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT COUNT(*) AS n FROM order_info o"  # noqa: S608 -- constant fragments, values are %s
                          f" JOIN users u ON u.id=o.user_id WHERE {condition}", args)
        paging = page_of((await cur.fetchone())["n"], page, size)
        await cur.execute(
            "SELECT o.order_id, o.user_id, u.username, o.receiver,"  # noqa: S608 -- constant fragments, values are %s
            " o.pay_method, o.total_count, o.total_price, o.transit_price, o.order_status, o.created_at, o.paid_at"
            " FROM order_info o JOIN users u"
            f" ON u.id=o.user_id WHERE {condition} ORDER BY o.created_at DESC, o.order_id DESC"
            " LIMIT %s OFFSET %s", (*args, size, paging.offset))
        rows = list(await cur.fetchall())
    for row in rows:
        row["status_name"] = STATUS_NAMES.get(row["order_status"], "")
        row["pay_method_name"] = PAY_METHODS.get(row["pay_method"], "")
        row["total_amount"] = row["total_price"] + row["transit_price"]
    return paging.with_items(rows)


async def status_counts(pool: aiomysql.Pool) -> dict[int, int]:
    rows = await db.fetchall(pool, "SELECT order_status, COUNT(*) AS n FROM order_info GROUP BY order_status")
    return {r["order_status"]: r["n"] for r in rows}


async def order_detail(pool: aiomysql.Pool, order_id: str) -> dict:
    if not ORDER_ID_RE.fullmatch(order_id or ""):
        raise NotFound("订单不存在")
    order = await get_order(pool, order_id)
    items = await queries._items(pool, [order_id])  # noqa: SLF001 -- the same lines the shopper sees
    user = await db.fetchone(pool, "SELECT id, username, email FROM users WHERE id=%s", (order["user_id"],))
    shipment = await db.fetchone(
        pool, "SELECT s.carrier, s.tracking_no, s.shipped_at, u.username AS staff FROM order_shipments s"
        " LEFT JOIN users u ON u.id=s.staff_id WHERE s.order_id=%s", (order_id,))
    events = list(reversed(await order_events(pool, order_id)))
    for event in events:
        event["source_name"] = SOURCE_NAMES.get(event["source"], event["source"])
        event["to_name"] = STATUS_NAMES.get(event["to_status"], str(event["to_status"]))
        event["from_name"] = STATUS_NAMES.get(event["from_status"], "") if event["from_status"] else ""
    return {**order, "items": items.get(order_id, []), "user": user, "shipment": shipment, "events": events,
            "status_name": STATUS_NAMES.get(order["order_status"], ""),
            "pay_method_name": PAY_METHODS.get(order["pay_method"], ""),
            "total_amount": order["total_price"] + order["transit_price"]}


def clean_shipment(values: dict[str, str]) -> Form:
    form = Form(values)
    carrier = values.get("carrier", "").strip()
    tracking = values.get("tracking_no", "").strip()
    if len(carrier) > 20:
        form.error("carrier", "快递公司最多20字")
    if tracking and not re.fullmatch(r"[0-9A-Za-z-]{4,40}", tracking):
        form.error("tracking_no", "运单号须为4–40位字母、数字或-")
    if tracking and not carrier:
        form.error("carrier", "填写运单号时请填写快递公司")
    form.clean = {"carrier": carrier, "tracking_no": tracking}
    return form


async def ship(pool: aiomysql.Pool, redis: aioredis.Redis, staff, order_id: str, *, carrier: str = "",
               tracking_no: str = "") -> None:
    """发货: 2 -> 3 once, with the shipment and audit rows; Conflict when the order is not waiting for shipment."""
    detail = f"发货（{staff.username}）" + (f" {carrier} {tracking_no}" if carrier else "")
    async with db.transaction(pool) as cur:
        if not await transition(cur, order_id=order_id, from_status=OrderStatus.PAID,
                                to_status=OrderStatus.SHIPPED, source="admin", detail=detail):
            await cur.execute("SELECT order_status FROM order_info WHERE order_id=%s", (order_id,))
            if await cur.fetchone() is None:
                raise NotFound("订单不存在")
            raise Conflict("订单当前状态不能发货（可能已被其他管理员处理）", res=ActionRes.NOT_ALLOWED)
        await cur.execute("INSERT INTO order_shipments (order_id, carrier, tracking_no, staff_id) VALUES (%s,%s,%s,%s)",
                          (order_id, carrier, tracking_no, staff.user_id))
        await audit.record(cur, staff, action="ship", entity=audit.Entity.ORDER, entity_id=order_id,
                           summary=detail, before={"order_status": 2},
                           after={"order_status": 3, "carrier": carrier, "tracking_no": tracking_no})
    order = await get_order(pool, order_id)
    await publish_payload(redis, order)


async def cancel(ctx, staff, order_id: str) -> None:
    """取消 an unpaid order through the lifecycle's one close path (the Alipay trade closed first, stock back,
    the status published); of two staff pressing at once exactly one closes it, the other gets Conflict."""
    result = await close_order(ctx, order_id, source="admin", detail=f"管理员取消（{staff.username}）")
    refuse_unless_closed(result, paid="该订单已在支付宝付款，未取消",
                         not_open="订单当前状态不能取消（可能已被其他管理员处理）",
                         retry="正在向支付宝确认支付状态，请稍后再试")
    # The close committed in its own transaction (the lifecycle's); the audit row follows it.
    async with db.transaction(ctx.db) as cur:
        await audit.record(cur, staff, action="cancel", entity=audit.Entity.ORDER, entity_id=order_id,
                           summary=f"取消订单（{staff.username}）", before={"order_status": int(OrderStatus.UNPAID)},
                           after={"order_status": int(OrderStatus.CLOSED)})


REFUND_OUTCOMES = {
    refunds.RefundStatus.CONFIRMED: "退款成功，支付宝已确认",
    refunds.RefundStatus.PENDING: "退款已提交，支付宝暂时无法确认，系统会自动重试直到确认",
    refunds.RefundStatus.REFUSED: "支付宝拒绝了这笔退款，请查看订单记录",
}


async def refund(ctx, staff, order_id: str, *, amount: str, reason: str, request_no: str) -> refunds.RefundStatus:
    """退款 a paid Alipay order, in full (empty `amount`) or in part, through the payments domain's refund (Alipay
    trade.refund with the form's idempotent request number: the same form sent twice refunds once)."""
    before = await get_order(ctx.db, order_id)
    value = refunds.clean_amount(amount) if amount.strip() else None
    status = await refunds.refund_order(ctx, order_id, amount=value, reason=reason.strip()[:100] or "商家退款",
                                        out_request_no=request_no or None)
    after = await get_order(ctx.db, order_id)
    async with db.transaction(ctx.db) as cur:
        await audit.record(cur, staff, action="refund", entity=audit.Entity.ORDER, entity_id=order_id,
                           summary=f"退款 {amount.strip() or '全部'}（{REFUND_OUTCOMES[status]}）",
                           before={"order_status": before["order_status"], "refunded": before["refunded_amount"]},
                           after={"order_status": after["order_status"], "refunded": after["refunded_amount"]})
    return status


async def cod_paid(ctx, staff, order_id: str) -> None:
    """货到付款 收款: record that a cash-on-delivery order was paid on delivery, once however many staff press."""
    if not await mark_cod_paid(ctx.db, order_id, detail=f"货到付款，已收款（{staff.username}）"):
        raise Conflict("该订单不是待收款的货到付款订单（可能已被其他管理员处理）", res=ActionRes.NOT_ALLOWED)
    async with db.transaction(ctx.db) as cur:
        await audit.record(cur, staff, action="cod_paid", entity=audit.Entity.ORDER, entity_id=order_id,
                           summary=f"货到付款收款（{staff.username}）", before={"paid_at": None},
                           after={"paid_at": "now"})
