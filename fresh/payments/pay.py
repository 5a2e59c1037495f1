"""Paying orders with Alipay: start a payment, record one (from the notify or the watcher), close expired trades.

Both ways a payment can arrive end in `mark_paid`, which is idempotent: one conditional UPDATE 1 -> 2 with an event
row in one transaction, then a PUBLISH so every process's websockets hear it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from datetime import UTC, datetime
from decimal import Decimal

import aiomysql
import redis.asyncio as aioredis

from fresh import db, logs, metrics
from fresh.errors import BadRequest, Conflict, NotFound
from fresh.hooks import Context
from fresh.live import publish_status
from fresh.orders.closing import PaymentStop
from fresh.orders.status import (
    NOW,
    PAY_ALIPAY,
    OrderStatus,
    get_order,
    locked_transition,
    mark_pay_started,
    status_payload,
)
from fresh.payments import alipay
from fresh.payments.refunds import paid_after_close_statements, record_refunded

log = logging.getLogger("fresh.payments")


class AmountMismatch(BadRequest):
    message = "支付金额与订单金额不符"


class PayRes(enum.IntEnum):
    """res codes of /order/pay (the original's)."""

    NOT_LOGGED_IN = 0
    BAD_ORDER_ID = 1
    NOT_PAYABLE = 2  # unknown, someone else's, or not an unpaid Alipay order
    GO = 3  # with pay_url, Alipay's cashier


class CheckRes(enum.IntEnum):
    """res codes of /order/check."""

    NOT_LOGGED_IN = 0
    BAD_ORDER_ID = 1
    NO_ORDER = 2
    PAID = 3
    ENDED = 4  # closed or refunded: no payment is awaited
    WAITING = 5


class NotAlipay(BadRequest):
    message = "该订单不是支付宝支付的订单"


def order_amount(order: dict) -> Decimal:
    """What the buyer pays: goods plus transit, from the database."""
    return Decimal(order["total_price"]) + Decimal(order["transit_price"])


async def start_payment(pool: aiomysql.Pool, client: alipay.AlipayClient, *, user_id: int, order_id: str,
                        notify_url: str, return_url: str) -> str:
    """Check the order may be paid by its owner with Alipay now, note the start, and return the cashier URL."""
    try:
        order = await get_order(pool, order_id, user_id=user_id)
    except NotFound:
        raise NotFound("订单错误", res=PayRes.NOT_PAYABLE) from None
    if order["pay_method"] != PAY_ALIPAY or order["order_status"] != OrderStatus.UNPAID:
        raise Conflict("订单错误：该订单不是待支付的支付宝订单", res=PayRes.NOT_PAYABLE)
    if not await mark_pay_started(pool, order_id, user_id):
        raise Conflict("订单错误：该订单已不是待支付状态", res=PayRes.NOT_PAYABLE)
    return client.page_pay_url(
        out_trade_no=order_id,
        total_amount=order_amount(order),
        subject=f"天天生鲜{order_id}",
        return_url=return_url,
        notify_url=notify_url,
        # The cashier refuses payment after the order's own deadline, so expiry and payment cannot both happen.
        time_expire=order["expires_at"].replace(tzinfo=UTC),
    )


async def mark_paid(pool: aiomysql.Pool, redis: aioredis.Redis, *, order_id: str, trade_no: str, amount: Decimal,
                    source: str, paid_at: datetime | None = None) -> bool:
    """Record that Alipay says the order is paid; True if this call recorded it, False if it already was.

    `paid_at` is Alipay's own time of the payment (gmt_payment / send_pay_date), for the record delay metric.

    Raises NotFound for an unknown order, NotAlipay for an order not paid through Alipay (cash on delivery) and
    AmountMismatch when the amount is not the order's. A payment that arrives for an order closed meanwhile is
    recorded against it (trade_no, paid_at, an event) with a refund request that the refund worker sends
    (fresh.payments.refunds).
    """
    # Two round trips: the locked read, then the change with its event and the COMMIT.
    async with db.batched_transaction(pool) as tx:
        # The row lock orders this against the expiry and the other payment path; the conditional UPDATE would be
        # enough for correctness, the lock makes the amount check and the change one step.
        (read,) = await tx.run([("SELECT order_id, user_id, order_status, pay_method, total_price, transit_price,"
                                 " trade_no FROM order_info WHERE order_id=%s FOR UPDATE", (order_id,))])
        if not read.rows:
            raise NotFound("订单不存在")
        order = read.rows[0]
        if order["pay_method"] != PAY_ALIPAY:
            raise NotAlipay()
        if Decimal(amount) != order_amount(order):
            raise AmountMismatch()
        status = order["order_status"]
        recorded = False
        if status == OrderStatus.UNPAID:
            await tx.run(locked_transition(order_id=order_id, from_status=OrderStatus.UNPAID,
                                           to_status=OrderStatus.PAID, source=source,
                                           detail=f"支付宝交易号 {trade_no}"[:255], trade_no=trade_no, paid_at=NOW),
                         commit=True)
            recorded = True
        elif status == OrderStatus.CLOSED:
            log.warning("order %s was paid at Alipay (trade %s) after it was closed: refunding", order_id, trade_no)
            await tx.run(paid_after_close_statements(order_id=order_id, trade_no=trade_no,
                                                     amount=order_amount(order), source=source), commit=True)
        elif order["trade_no"] and order["trade_no"] != trade_no:
            log.error("order %s paid twice: %s and %s", order_id, order["trade_no"], trade_no)
    metrics.PAYMENTS.labels(source, "recorded" if recorded else "repeat").inc()
    if recorded:
        delay = (datetime.now(UTC) - paid_at).total_seconds() if paid_at is not None else None
        if delay is not None:
            metrics.PAYMENT_DELAY.labels(source).observe(max(0.0, delay))
        logs.event(log, "payment_recorded", order_id=order_id, source=source, amount=order_amount(order),
                   delay_seconds=None if delay is None else round(delay, 3))
        # Published from what this transaction wrote: no second read on the way to the buyer's browser.
        await publish_payload(redis, {**order, "order_status": int(OrderStatus.PAID), "trade_no": trade_no})
    return recorded


async def publish_payload(redis: aioredis.Redis, order: dict) -> None:
    """Publish an order's status to every process (after the change is committed)."""
    try:
        await publish_status(redis, order["order_id"], status_payload(order))
    except Exception:
        # The change is committed; sockets that missed it get the status on reconnect or from /order/check.
        log.warning("could not publish the status of %s", order["order_id"], exc_info=True)


async def record_if_paid(pool: aiomysql.Pool, redis: aioredis.Redis, answer: dict, *, source: str) -> bool:
    """Given a verified trade.query answer (or notify), record the payment when it says paid."""
    if not alipay.is_paid(answer):
        return False
    await mark_paid(pool, redis, order_id=str(answer["out_trade_no"]), trade_no=str(answer.get("trade_no", "")),
                    amount=Decimal(str(answer.get("total_amount", "0"))), source=source, paid_at=alipay_paid_at(answer))
    return True


def alipay_paid_at(answer: dict) -> datetime | None:
    """When Alipay says the buyer paid: gmt_payment in a notify, send_pay_date in a trade.query answer."""
    return alipay.parse_time(answer.get("gmt_payment") or answer.get("send_pay_date") or "")


async def stop_payment(ctx: Context, order: dict) -> PaymentStop:
    """`stop_payment` hook of the close path: close the order's Alipay trade so the cashier can no longer take the
    money; if it was paid first, record the payment and say so."""
    if order["pay_method"] != PAY_ALIPAY or order.get("pay_started_at") is None:
        return PaymentStop.STOPPED
    client = get_client(ctx)
    try:
        answer = await client.close(order["order_id"])
        if answer.get("code") == alipay.SUCCESS or answer.get("sub_code") == alipay.TRADE_NOT_EXIST:
            return PaymentStop.STOPPED
        # Paid, or already closed at Alipay: ask which.
        answer = await client.query(order["order_id"])
    except alipay.AlipayError as exc:
        log.warning("could not close the Alipay trade of %s: %s", order["order_id"], exc)
        return PaymentStop.UNKNOWN
    if alipay.is_paid(answer):
        await record_if_paid(ctx.db, ctx.redis, answer, source="watcher")
        return PaymentStop.PAID
    if answer.get("trade_status") == "TRADE_CLOSED" or answer.get("sub_code") == alipay.TRADE_NOT_EXIST:
        return PaymentStop.STOPPED
    return PaymentStop.UNKNOWN


def get_client(app) -> alipay.AlipayClient:
    """The process's Alipay client, built on first use from the app's settings (prepare_client builds it ahead)."""
    client = getattr(app, "_alipay_client", None)
    if client is None:
        client = alipay.AlipayClient(app.cfg.alipay, app.cfg.web.base_url)
        app._alipay_client = client
    return client


async def prepare_client(app) -> None:
    """Build the Alipay client in a worker thread as the process starts: parsing the RSA keys takes ~50 ms of CPU,
    which would otherwise stall the event loop under the process's first payment. A key that does not load is
    reported here, at start-up, and again by the first payment."""
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, get_client, app)
    except Exception:
        log.exception("the Alipay client could not be built; payments will fail until the settings are fixed")


async def reconcile_order(ctx: Context, order_id: str) -> bool:
    """Ask Alipay (`trade.query`) about an Alipay order and record what it says that we do not know yet: a payment
    (paid, or paid after the order closed: refunded) or a full refund (a paid trade that Alipay shows closed).
    True if anything changed. For the watcher's lost notifies, and for staff before shipping."""
    order = await get_order(ctx.db, order_id)
    if order["pay_method"] != PAY_ALIPAY:
        raise NotAlipay()
    answer = await get_client(ctx).query(order_id)
    if alipay.is_paid(answer):
        if order["order_status"] in (OrderStatus.UNPAID, OrderStatus.CLOSED):
            recorded = await mark_paid(ctx.db, ctx.redis, order_id=order_id, trade_no=str(answer.get("trade_no", "")),
                                       amount=Decimal(str(answer.get("total_amount", "0"))), source="watcher",
                                       paid_at=alipay_paid_at(answer))
            return recorded or order["order_status"] == OrderStatus.CLOSED and not order["trade_no"]
        return False
    # A trade that was paid (send_pay_date) and is closed now was refunded in full.
    if answer.get("trade_status") == "TRADE_CLOSED" and answer.get("send_pay_date"):
        return await record_refunded(ctx, order_id, refund_fee=order_amount(order), source="watcher")
    return False

