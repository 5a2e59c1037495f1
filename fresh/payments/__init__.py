"""Payments: Alipay without blocking — the cashier URL, the verified notify, the polling watcher, live status.

The local sandbox gateway (sandbox.py) is an outside party and is not imported here.
"""

from tornado.web import url

from fresh.hooks import Hooks
from fresh.payments import handlers as h
from fresh.payments.pay import prepare_client, stop_payment
from fresh.payments.refunds import refund_loop
from fresh.payments.watcher import watch_payments

ROUTES = [
    url(r"/order/pay", h.PayHandler, name="order_pay"),
    url(r"/order/check", h.CheckHandler, name="order_check"),
    url(r"/order/notify/alipay", h.NotifyHandler, name="alipay_notify"),
    url(r"/order/return/alipay", h.ReturnHandler, name="alipay_return"),
    url(r"/ws/orders/([A-Za-z0-9_\-]{1,64})", h.OrderStatusSocket, name="order_ws"),
]

HOOKS = Hooks(stop_payment=stop_payment)

BACKGROUND = [prepare_client, watch_payments, refund_loop]
