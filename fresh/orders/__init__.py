"""Orders: the confirmation page, commit in one transaction (DESIGN.md §6), the user's orders, expiry, comments.

Other domains use: `status.transition`, `status.get_order`, `status.mark_pay_started`, `lifecycle.ship_order`,
`closing.close_order` (the one close path) and the hook `stop_payment` (fresh.hooks), which payments provides.
"""

from tornado.web import url

from fresh.hooks import Command, Hooks, Redirect
from fresh.orders import handlers as h
from fresh.orders.expiry import cmd_expire_orders, expiry_loop
from fresh.orders.queries import sku_comments

ROUTES = [
    url(r"/order/place", h.OrderPlaceHandler, name="order_place"),
    url(r"/order/commit", h.OrderCommitHandler, name="order_commit"),
    url(r"/user/order/([0-9]{1,9})", h.UserOrderHandler, name="user_order"),
    Redirect(r"/user/order/?", "/user/order/1"),
    url(r"/order/cancel", h.OrderCancelHandler, name="order_cancel"),
    url(r"/order/confirm", h.OrderConfirmHandler, name="order_confirm"),
    url(r"/order/comment/([0-9a-zA-Z]{1,64})", h.OrderCommentHandler, name="order_comment"),
]


async def _sku_comments_hook(app, sku_id: int) -> list[dict]:
    """`sku_comments` hook for the goods detail page: [{username, comment, created_at}], newest first. Read from
    the read pool, as the rest of the page (fresh.replica): a new comment may show a moment late."""
    from fresh.accounts import users

    rows = await sku_comments(app.reads, sku_id)
    names = await users.get_usernames(app.reads, {r["user_id"] for r in rows})
    return [{"username": names.get(r["user_id"], "匿名"), "comment": r["comment"], "created_at": r["created_at"]}
            for r in rows]


HOOKS = Hooks(sku_comments=_sku_comments_hook)
BACKGROUND = [expiry_loop]
COMMANDS = [Command("expire-orders", "close unpaid orders past their expiry", cmd_expire_orders)]
