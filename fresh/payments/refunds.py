"""Refunds: money going back to the buyer through Alipay, and refunds found at Alipay, kept as order state.

A refund starts one of two ways:
- **the shop asks for it**: money that arrived for an order closed meanwhile (automatic, see pay.mark_paid), or staff
  refunding a paid order in full or in part (`refund_order`). A row in `order_refunds` is the request; it is sent
  with `alipay.trade.refund` and its `out_request_no` (Alipay's idempotency key: a resend moves no money twice)
  until Alipay confirms it, with a backoff per request (`refund_due`, a background task in every process; a Redis
  lease makes one process send a given request at a time);
- **Alipay tells us**: a refund made in Alipay's own console arrives as a notify carrying `refund_fee`, or is found
  by `trade.query` (a paid trade that is TRADE_CLOSED was refunded in full; `reconcile_order`).
Every way ends in `record_refunded`, which takes Alipay's cumulative `refund_fee` as the truth: the order's
`refunded_amount` rises to it once (a replayed notify or answer changes nothing); once it covers the whole amount
the order becomes 已退款 (7) and, when its goods had not left the shop, their stock returns — once, because the
status changes once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from decimal import Decimal

import aiomysql

from fresh import db, logs, metrics
from fresh.background import every
from fresh.errors import BadRequest, Conflict, NotFound
from fresh.hooks import Context
from fresh.live import publish_status
from fresh.orders.lifecycle import return_stock
from fresh.orders.status import PAY_ALIPAY, STATUS_NAMES, ActionRes, OrderStatus, status_payload, transition
from fresh.payments import alipay

log = logging.getLogger("fresh.payments.refunds")
BATCH = 100
# Refund requests Alipay answered with one of these are sent again later; any other business refusal needs a person.
RETRYABLE = frozenset({"ACQ.SYSTEM_ERROR", "ACQ.REFUND_CHARGE_ERROR", "ACQ.TRADE_HAS_FINISHED_BUT_PROCESSING"})
# Orders whose goods are still in the shop when the money goes back: their stock returns with the full refund.
# (A closed order's stock came back when it closed; shipped goods are with the buyer.)
STOCK_BACK_FROM = (OrderStatus.UNPAID, OrderStatus.PAID)
PAID_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.RECEIVED, OrderStatus.DONE)


class RefundStatus(enum.IntEnum):
    PENDING = 1  # to be sent (again) to Alipay
    CONFIRMED = 2  # Alipay confirmed the money went back
    REFUSED = 3  # Alipay refused it for good (e.g. more than the refundable amount): staff must look


class RefundOrigin(enum.StrEnum):
    PAID_AFTER_CLOSE = "paid_after_close"
    ADMIN = "admin"
    GATEWAY = "gateway"


def order_amount(order: dict) -> Decimal:
    return Decimal(order["total_price"]) + Decimal(order["transit_price"])


def lease_key(refund_id: int) -> str:
    return f"lease:refund:{refund_id}"


def paid_after_close_statements(*, order_id: str, trade_no: str, amount: Decimal,
                                source: str) -> list[tuple[str, tuple]]:
    """For a transaction holding the closed order's row locked: record the payment against the order (trade_no,
    paid_at, an event) and the refund request that will send the money back. Repeats add nothing."""
    request_no = f"C{trade_no}"[:64]
    return [
        ("UPDATE order_info SET trade_no=%s, paid_at=UTC_TIMESTAMP(6)"
         " WHERE order_id=%s AND order_status=%s AND trade_no IS NULL",
         (trade_no, order_id, int(OrderStatus.CLOSED))),
        # The event first: it is written only while the refund row does not exist yet.
        ("INSERT INTO order_events (order_id, from_status, to_status, source, detail)"
         " SELECT %s, %s, %s, %s, %s FROM DUAL WHERE NOT EXISTS"
         " (SELECT 1 FROM order_refunds WHERE order_id=%s AND out_request_no=%s)",
         (order_id, int(OrderStatus.CLOSED), int(OrderStatus.CLOSED), source,
          f"订单关闭后收到付款 ¥{amount:.2f}（支付宝交易号 {trade_no}），自动退款"[:255], order_id, request_no)),
        # NOT EXISTS rather than INSERT IGNORE: a repeat adds nothing and raises no duplicate-key warning.
        ("INSERT INTO order_refunds (order_id, out_request_no, amount, reason, origin)"
         " SELECT %s, %s, %s, %s, %s FROM DUAL WHERE NOT EXISTS"
         " (SELECT 1 FROM order_refunds WHERE order_id=%s AND out_request_no=%s)",
         (order_id, request_no, amount, "订单已关闭，自动退款", RefundOrigin.PAID_AFTER_CLOSE.value, order_id,
          request_no)),
    ]


async def _locked_order(cur: aiomysql.Cursor, order_id: str) -> dict:
    """The order's money facts, its row locked until the transaction ends; NotFound for an unknown id."""
    await cur.execute("SELECT order_id, user_id, order_status, pay_method, total_price, transit_price,"
                      " refunded_amount, trade_no FROM order_info WHERE order_id=%s FOR UPDATE", (order_id,))
    order = await cur.fetchone()
    if order is None:
        raise NotFound("订单不存在")
    return order


async def record_refunded(ctx: Context, order_id: str, *, refund_fee: Decimal, source: str,
                          out_request_no: str = "") -> bool:
    """Record that Alipay has refunded `refund_fee` in total for the order (its cumulative figure); True if that
    changed anything. Marks the matching request confirmed, or records a refund made at Alipay as one."""
    refund_fee = Decimal(refund_fee)
    async with db.transaction(ctx.db) as cur:
        # The row lock orders this against the other refund paths and the close/pay paths of the same order.
        order = await _locked_order(cur, order_id)
        total = order_amount(order)
        if refund_fee > total:
            log.error("Alipay reports %s refunded for order %s of %s; recording the order's amount", refund_fee,
                      order_id, total)
            refund_fee = total
        if out_request_no:
            await cur.execute(
                "UPDATE order_refunds SET status=%s, confirmed_at=UTC_TIMESTAMP(6), last_error=''"
                " WHERE order_id=%s AND out_request_no=%s AND status<>%s",
                (int(RefundStatus.CONFIRMED), order_id, out_request_no, int(RefundStatus.CONFIRMED)))
        previous = Decimal(order["refunded_amount"])
        if refund_fee <= previous:
            return False
        delta = refund_fee - previous
        # A refund made at Alipay (console, or found by a query) has no request of ours: record it as one.
        request_no = out_request_no or f"G{refund_fee:.2f}"
        await cur.execute(
            "INSERT INTO order_refunds (order_id, out_request_no, amount, reason, origin, status, confirmed_at)"
            " SELECT %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6) FROM DUAL WHERE NOT EXISTS"
            " (SELECT 1 FROM order_refunds WHERE order_id=%s AND out_request_no=%s)",
            (order_id, request_no, delta, "支付宝退款", RefundOrigin.GATEWAY.value, int(RefundStatus.CONFIRMED),
             order_id, request_no))
        await cur.execute(
            "UPDATE order_info SET refunded_amount=%s, refunded_at=UTC_TIMESTAMP(6) WHERE order_id=%s",
            (refund_fee, order_id))
        status = OrderStatus(order["order_status"])
        if refund_fee >= total and status != OrderStatus.REFUNDED:
            await transition(cur, order_id=order_id, from_status=status, to_status=OrderStatus.REFUNDED,
                             source=source, detail=f"已退款 ¥{refund_fee:.2f}")
            if status in STOCK_BACK_FROM:
                await return_stock(cur, order_id)
            status = OrderStatus.REFUNDED
        else:
            await cur.execute(
                "INSERT INTO order_events (order_id, from_status, to_status, source, detail)"
                " VALUES (%s, %s, %s, %s, %s)",
                (order_id, int(status), int(status), source,
                 f"部分退款 ¥{delta:.2f}（累计 ¥{refund_fee:.2f}）"))
    try:
        await publish_status(ctx.redis, order_id, status_payload({**order, "order_status": int(status)}))
    except Exception:
        log.warning("could not publish the refund of %s", order_id, exc_info=True)
    log.info("order %s: %s refunded in total (%s)", order_id, refund_fee, STATUS_NAMES[int(status)])
    return True


async def refund_order(ctx: Context, order_id: str, *, amount: Decimal | None = None, reason: str = "",
                       out_request_no: str | None = None) -> RefundStatus:
    """Staff refunds a paid Alipay order: in full (`amount` None: what is left) or in part.

    Records the request and sends it to Alipay at once; returns CONFIRMED when Alipay confirmed it, PENDING when
    Alipay could not be reached (the refund worker sends it again until it is confirmed), REFUSED when Alipay
    refused it. A full refund of an order not shipped yet returns its stock. Pass the same `out_request_no` again to
    repeat a request safely (e.g. a form submitted twice: no second refund). Raises NotFound for an unknown order,
    BadRequest for a bad amount, Conflict when the order is not a paid Alipay order or nothing is left to refund.
    """
    if out_request_no is not None and not (0 < len(out_request_no) <= 64 and out_request_no.isascii()):
        raise BadRequest("退款请求号无效")
    async with db.transaction(ctx.db) as cur:
        # Locked so that two staff refunds cannot together exceed what was paid.
        order = await _locked_order(cur, order_id)
        if out_request_no is not None:
            await cur.execute("SELECT id, status FROM order_refunds WHERE order_id=%s AND out_request_no=%s",
                              (order_id, out_request_no))
            existing = await cur.fetchone()
            if existing is not None:
                refund_id = existing["id"]
                amount = None  # a repeat: send what was asked the first time
        if out_request_no is None or existing is None:
            if order["pay_method"] != PAY_ALIPAY or order["order_status"] not in PAID_STATUSES \
                    or not order["trade_no"]:
                raise Conflict("只有已支付的支付宝订单可以退款", res=ActionRes.NOT_ALLOWED)
            await cur.execute("SELECT COALESCE(SUM(amount), 0) AS asked FROM order_refunds"
                              " WHERE order_id=%s AND status=%s", (order_id, int(RefundStatus.PENDING)))
            left = order_amount(order) - Decimal(order["refunded_amount"]) - Decimal((await cur.fetchone())["asked"])
            if left <= 0:
                raise Conflict("该订单已无可退金额", res=ActionRes.NOT_ALLOWED)
            amount = left if amount is None else clean_amount(amount)
            if amount > left:
                raise BadRequest(f"退款金额不能超过可退金额 ¥{left:.2f}")
            out_request_no = out_request_no or f"A{secrets.token_hex(12)}"
            await cur.execute(
                "INSERT INTO order_refunds (order_id, out_request_no, amount, reason, origin) VALUES (%s,%s,%s,%s,%s)",
                (order_id, out_request_no, amount, (reason or "商家退款")[:255], RefundOrigin.ADMIN.value))
            refund_id = cur.lastrowid
    return await send_refund(ctx, refund_id)


def clean_amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise BadRequest("退款金额无效") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise BadRequest("退款金额须大于0且最多两位小数")
    return amount


async def send_refund(ctx: Context, refund_id: int) -> RefundStatus:
    """Send one pending refund request to Alipay (again); record what Alipay answered; return the request's status."""
    from fresh.payments.pay import get_client

    row = await db.fetchone(ctx.db, "SELECT id, order_id, out_request_no, amount, reason, status FROM order_refunds"
                                    " WHERE id=%s", (refund_id,))
    if row is None:
        raise NotFound("退款请求不存在")
    if row["status"] != RefundStatus.PENDING:
        return RefundStatus(row["status"])
    logs.event(log, "refund_sent", order_id=row["order_id"], out_request_no=row["out_request_no"],
               amount=str(row["amount"]))
    try:
        answer = await get_client(ctx).refund(row["order_id"], Decimal(row["amount"]), row["out_request_no"],
                                              refund_reason=row["reason"])
    except alipay.AlipayError as exc:
        metrics.REFUNDS.labels("retry").inc()
        log.warning("refund %s of order %s not sent: %s; retrying later", row["out_request_no"], row["order_id"], exc)
        await back_off(ctx.db, refund_id, error=str(exc), base=ctx.cfg.alipay.refund_backoff,
                       cap=ctx.cfg.alipay.refund_backoff_max)
        return RefundStatus.PENDING
    if answer.get("code") == alipay.SUCCESS:
        metrics.REFUNDS.labels("confirmed").inc()
        logs.event(log, "refund_confirmed", order_id=row["order_id"], out_request_no=row["out_request_no"],
                   refund_fee=str(answer.get("refund_fee", "")))
        await record_refunded(ctx, row["order_id"], refund_fee=Decimal(str(answer.get("refund_fee", "0"))),
                              source="refund", out_request_no=row["out_request_no"])
        return RefundStatus.CONFIRMED
    sub_code = str(answer.get("sub_code", ""))
    error = f"{sub_code} {answer.get('sub_msg', '')}".strip()[:255]
    if sub_code in RETRYABLE:
        metrics.REFUNDS.labels("retry").inc()
        await back_off(ctx.db, refund_id, error=error, base=ctx.cfg.alipay.refund_backoff,
                       cap=ctx.cfg.alipay.refund_backoff_max)
        return RefundStatus.PENDING
    metrics.REFUNDS.labels("refused").inc()
    log.error("Alipay refused refund %s of order %s: %s", row["out_request_no"], row["order_id"], error)
    await db.execute(ctx.db, "UPDATE order_refunds SET status=%s, attempts=attempts+1, last_error=%s"
                             " WHERE id=%s AND status=%s",
                     (int(RefundStatus.REFUSED), error, refund_id, int(RefundStatus.PENDING)))
    return RefundStatus.REFUSED


async def back_off(pool: aiomysql.Pool, refund_id: int, *, error: str, base: float, cap: float) -> None:
    await db.execute(
        pool,
        "UPDATE order_refunds SET attempts=attempts+1, last_error=%s,"
        " next_try_at=UTC_TIMESTAMP(6) + INTERVAL LEAST(%s, %s * POW(2, LEAST(attempts, 20))) SECOND"
        " WHERE id=%s AND status=%s",
        (error[:255], cap, base, refund_id, int(RefundStatus.PENDING)),
    )


async def refund_due(ctx: Context, *, limit: int = BATCH, concurrency: int = 10) -> list[int]:
    """Send every pending refund request whose time has come and whose lease this process wins; return their ids."""
    rows = await db.fetchall(ctx.db, "SELECT id FROM order_refunds WHERE status=%s AND next_try_at <= UTC_TIMESTAMP(6)"
                                     " ORDER BY next_try_at LIMIT %s", (int(RefundStatus.PENDING), limit))
    lease_ms = int((2 * ctx.cfg.alipay.timeout + 30) * 1000)
    mine = [row["id"] for row in rows
            if await ctx.redis.set(lease_key(row["id"]), secrets.token_hex(8), nx=True, px=lease_ms)]
    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(refund_id: int) -> None:
        async with semaphore:
            try:
                await send_refund(ctx, refund_id)
            except Exception:
                log.warning("refund request %s failed", refund_id, exc_info=True)

    await asyncio.gather(*(bounded(i) for i in mine))
    return mine


async def refund_loop(ctx: Context) -> None:
    """Background task: send due refund requests every `alipay.watch_interval` seconds until cancelled."""
    await every(max(0.2, float(ctx.cfg.alipay.watch_interval)), lambda: refund_due(ctx), what="refund sweep")
