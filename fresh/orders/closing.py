"""The one way an unpaid order closes — the owner's cancel, the expiry and the back office alike.

Closing an order whose payment was started is a race with the buyer's cashier: the order must not end cancelled
while the money is taken. So the payment is stopped first (the `stop_payment` hook: payments closes the Alipay
trade) and only then is the order closed; if the gateway says it was paid meanwhile, payments has recorded it paid
and the order stays paid. Money that still arrives for a closed order is refunded by payments.
"""

from __future__ import annotations

import enum
import logging

from fresh import db, logs, metrics
from fresh.errors import Conflict, Unavailable
from fresh.hooks import Context
from fresh.live import publish_status
from fresh.orders.lifecycle import close_unpaid
from fresh.orders.status import ActionRes, OrderStatus, get_order, status_payload

log = logging.getLogger("fresh.orders.closing")
# A start of payment between our look at the order and our close makes us ask the gateway again; more than this
# many in a row is someone hammering 去付款, and the caller may retry later.
MAX_ROUNDS = 3


class PaymentStop(enum.Enum):
    """What the `stop_payment` hook answers about an unpaid order's payment."""

    STOPPED = "stopped"  # nothing can be paid any more: never started, no trade at the gateway, or its trade closed
    PAID = "paid"  # the gateway took the money first: the order has been recorded paid
    UNKNOWN = "unknown"  # the gateway did not answer or is undecided: keep the order open, ask again later


class CloseResult(enum.Enum):
    CLOSED = "closed"  # this call closed the order and returned its stock
    PAID = "paid"  # it was paid at the gateway meanwhile, and is recorded paid instead
    NOT_OPEN = "not_open"  # it was not unpaid any more (closed or paid by someone else): nothing done
    RETRY = "retry"  # the gateway could not confirm the payment is stopped: nothing done, try again later


async def close_order(ctx: Context, order_id: str, *, source: str, detail: str) -> CloseResult:
    """Close an unpaid order (stock and sales back) after stopping its payment; publish the new status.

    `source` is the event source (web, expiry, admin). Safe to call concurrently and repeatedly: exactly one caller
    gets CLOSED. Raises NotFound for an unknown order.
    """
    for _ in range(MAX_ROUNDS):
        order = await get_order(ctx.db, order_id)
        if order["order_status"] != OrderStatus.UNPAID:
            return CloseResult.NOT_OPEN
        stop = ctx.hooks.stop_payment
        if stop is not None:
            outcome = await stop(ctx, order)
            if outcome is PaymentStop.PAID:
                return CloseResult.PAID
            if outcome is PaymentStop.UNKNOWN:
                return CloseResult.RETRY
        async with db.transaction(ctx.db) as cur:
            # The row lock holds off a concurrent start of payment (mark_pay_started waits, then finds the order
            # closed); one that came between our read and the lock changed pay_started_at, so the hook's answer
            # is stale and we ask again.
            await cur.execute("SELECT order_status, pay_started_at FROM order_info WHERE order_id=%s FOR UPDATE",
                              (order_id,))
            row = await cur.fetchone()
            if row["order_status"] != OrderStatus.UNPAID:
                return CloseResult.NOT_OPEN
            if row["pay_started_at"] != order["pay_started_at"]:
                continue
            closed = await close_unpaid(cur, order_id, source=source, detail=detail)
        if not closed:
            return CloseResult.NOT_OPEN
        metrics.ORDERS_CLOSED.labels(source).inc()
        logs.event(log, "order_expired" if source == "expiry" else "order_closed", order_id=order_id,
                   user_id=order["user_id"], source=source)
        await publish_closed(ctx, order)
        return CloseResult.CLOSED
    return CloseResult.RETRY


async def publish_closed(ctx: Context, order: dict) -> None:
    try:
        await publish_status(ctx.redis, order["order_id"],
                             status_payload({**order, "order_status": int(OrderStatus.CLOSED)}))
    except Exception:
        # Committed; sockets that missed it get the status on reconnect or from /order/check.
        log.warning("could not publish the close of %s", order["order_id"], exc_info=True)


def refuse_unless_closed(result: CloseResult, *, paid: str, not_open: str, retry: str) -> None:
    """A cancel's answer when close_order did not close, in the words of whoever asked: Conflict once the order
    is paid or no longer open, Unavailable while the gateway cannot confirm the payment is stopped."""
    if result is CloseResult.PAID:
        raise Conflict(paid, res=ActionRes.NOT_ALLOWED)
    if result is CloseResult.NOT_OPEN:
        raise Conflict(not_open, res=ActionRes.NOT_ALLOWED)
    if result is CloseResult.RETRY:
        raise Unavailable(retry, res=ActionRes.NOT_ALLOWED)


async def cancel_order(ctx: Context, *, user_id: int, order_id: str) -> None:
    """The owner cancels an unpaid order; NotFound for others' orders, else as refuse_unless_closed."""
    await get_order(ctx.db, order_id, user_id=user_id)
    result = await close_order(ctx, order_id, source="web", detail="用户取消")
    refuse_unless_closed(result, paid="该订单已支付成功，不能取消", not_open="订单当前状态不能取消",
                         retry="正在确认支付状态，请稍后再试")
