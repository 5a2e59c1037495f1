"""Payments over HTTP: start paying, Alipay's notify and return, the status check, the live status websocket."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal, InvalidOperation

import tornado.websocket

from fresh import logs, metrics
from fresh.drain import GOING_AWAY
from fresh.errors import BadRequest, NotFound
from fresh.orders.status import PAY_ALIPAY, OrderStatus, get_order, status_payload
from fresh.payments import alipay
from fresh.payments.pay import (
    AmountMismatch,
    CheckRes,
    PayRes,
    alipay_paid_at,
    get_client,
    mark_paid,
    order_amount,
    start_payment,
)
from fresh.payments.refunds import record_refunded
from fresh.web import BaseHandler, login_required

log = logging.getLogger("fresh.payments")
# Close codes of the status websocket (4000-4999 are the application's own).
WS_NOT_LOGGED_IN, WS_FORBIDDEN, WS_NOT_FOUND = 4401, 4403, 4404


def _order_id(handler: BaseHandler, bad: PayRes | CheckRes) -> str:
    order_id = handler.arg("order_id")
    if not order_id or len(order_id) > 64:
        raise BadRequest("无效的订单id", res=bad)
    return order_id


class PayHandler(BaseHandler):
    ajax = True

    @login_required
    async def post(self) -> None:
        base = self.cfg.web.base_url.rstrip("/")
        pay_url = await start_payment(
            self.db, get_client(self.application), user_id=self.user_id, order_id=_order_id(self, PayRes.BAD_ORDER_ID),
            notify_url=base + self.reverse_url("alipay_notify"), return_url=base + self.reverse_url("alipay_return"),
        )
        self.reply(PayRes.GO, "", pay_url=pay_url)


class CheckHandler(BaseHandler):
    """The status now, at once (for clients without websockets): CheckRes PAID, WAITING or ENDED."""

    ajax = True

    @login_required
    async def post(self) -> None:
        try:
            order = await get_order(self.db, _order_id(self, CheckRes.BAD_ORDER_ID), user_id=self.user_id)
        except NotFound:
            raise NotFound("订单错误", res=CheckRes.NO_ORDER) from None
        payload = status_payload(order)
        if payload["paid"]:
            res = CheckRes.PAID
        else:
            res = CheckRes.WAITING if order["order_status"] == OrderStatus.UNPAID else CheckRes.ENDED
        self.reply(res, "支付成功" if res is CheckRes.PAID else payload["status_name"], **payload)


class NotifyHandler(BaseHandler):
    """Alipay's async notify. Answers the plain body `success` only once the payment is recorded (or already was),
    so Alipay retries otherwise; anything wrong gets a 4xx `fail` and changes nothing."""

    load_session = False

    def check_xsrf_cookie(self) -> None:
        # A server-to-server call: the RSA2 signature is its proof of origin.
        pass

    async def post(self) -> None:
        try:
            form = alipay.form_from_arguments(self.request.body_arguments)
        except ValueError:
            return self.fail(400, "repeated or undecodable parameters")
        client = get_client(self.application)
        if not client.verify_notify(form):
            return self.fail(400, "bad signature")
        if form.get("app_id") != client.app_id:
            return self.fail(400, "wrong app_id")
        # Required, not just compared when present: a notify naming no seller could be meant for anyone.
        if form.get("seller_id") != client.seller_id:
            return self.fail(400, "wrong seller_id")
        order_id = form.get("out_trade_no", "")
        try:
            amount = Decimal(form.get("total_amount", ""))
            # Only an order the buyer chose to pay through Alipay can be paid by a notify: a signed notify naming
            # a cash-on-delivery order (a mistake or a replay from another integration) must not mark it paid.
            if (await get_order(self.db, order_id))["pay_method"] != PAY_ALIPAY:
                return self.fail(400, "not an Alipay order")
            if alipay.is_paid(form) or (form.get("refund_fee") and form.get("gmt_payment")):
                # mark_paid checks the order exists and the amount is its own, under the row lock. A refund notify
                # of a paid trade says it was paid too (its own notify may have been lost).
                await mark_paid(self.db, self.redis, order_id=order_id, trade_no=form.get("trade_no", ""),
                                amount=amount, source="notify", paid_at=alipay_paid_at(form))
            if form.get("refund_fee"):
                # Alipay's cumulative refunded amount for the trade (ours or one made in its console).
                await record_refunded(self.application, order_id, refund_fee=Decimal(form["refund_fee"]),
                                      source="notify", out_request_no=form.get("out_biz_no", "")[:64])
            elif not alipay.is_paid(form):
                order = await get_order(self.db, order_id)
                if amount != order_amount(order):
                    raise AmountMismatch()
        except InvalidOperation:
            return self.fail(400, "bad total_amount")
        except NotFound:
            return self.fail(404, "unknown out_trade_no")
        except AmountMismatch:
            return self.fail(400, "total_amount differs from the order")
        # Other states (WAIT_BUYER_PAY, TRADE_CLOSED) need nothing from us: acknowledge them.
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("success")

    def fail(self, status: int, why: str) -> None:
        # `why` is one of the fixed reasons above (a bounded label); the form itself (its sign) is never logged.
        metrics.NOTIFY_REFUSED.labels(why).inc()
        logs.event(log, "notify_refused", level=logging.WARNING, reason=why)
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("fail")


class ReturnHandler(BaseHandler):
    """Where the buyer's browser lands after paying: verify the signed return, show the order's live status."""

    async def get(self) -> None:
        try:
            params = alipay.form_from_arguments(self.request.query_arguments)
        except ValueError:
            params = {}
        if not params or not get_client(self.application).verify_return(params):
            raise BadRequest("支付结果校验失败")
        order = None
        if self.current_user:
            try:
                order = await get_order(self.db, params.get("out_trade_no", ""), user_id=self.user_id)
            except NotFound:
                order = None
        await self.render("payments/return.html", order=order, payload=status_payload(order) if order else None,
                          amount=order_amount(order) if order else None)


class OrderStatusSocket(BaseHandler, tornado.websocket.WebSocketHandler):
    """`WS /ws/orders/<order_id>`: the owner hears the current status at once, then every change."""

    async def get(self, *args, **kwargs) -> None:
        # Tornado answers a plain GET here with an English 400 text; the shop's own error answers say why.
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise BadRequest("请通过 WebSocket 连接")
        await super().get(*args, **kwargs)

    @property
    def ping_interval(self) -> float:
        return 20.0

    @property
    def ping_timeout(self) -> float:
        return 15.0

    async def open(self, order_id: str) -> None:
        self.order_id = order_id
        self.subscribed = False
        if self.application.draining:
            self.close(GOING_AWAY, "going away")  # the page reconnects, to another instance
            return
        self.application.websockets.add(self)  # closed with 1001 by the drain
        if not self.current_user:
            self.close(WS_NOT_LOGGED_IN, "请先登录")
            return
        try:
            order = await get_order(self.db, order_id)
        except NotFound:
            self.close(WS_NOT_FOUND, "订单不存在")
            return
        if order["user_id"] != self.user_id:
            self.close(WS_FORBIDDEN, "无权查看该订单")
            return
        hub = self.application.live
        hub.add(order_id, self)
        self.subscribed = True
        # Listen first, then read: a change between the two is sent twice rather than missed.
        try:
            await asyncio.wait_for(hub.connected.wait(), 3)
        except TimeoutError:
            log.warning("status socket for %s opened while the pub/sub listener is down", order_id)
        await self.resync()

    def on_message(self, message) -> None:
        if message == "ping":
            self.send_json({"type": "pong"})

    def on_close(self) -> None:
        self.application.websockets.discard(self)
        if getattr(self, "subscribed", False):
            self.application.live.remove(self.order_id, self)

    def send_status(self, payload: dict) -> None:
        self.send_json({"type": "status", **payload})

    async def resync(self) -> None:
        try:
            order = await get_order(self.db, self.order_id)
        except NotFound:
            return
        self.send_status(status_payload(order))

    def send_json(self, body: dict) -> None:
        try:
            self.write_message(json.dumps(body, ensure_ascii=False))
        except tornado.websocket.WebSocketClosedError:
            pass

