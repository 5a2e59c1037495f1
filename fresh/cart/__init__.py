"""Cart: Redis hashes per owner, the cart page, AJAX add/update/delete, the header count and the login merge."""

from tornado.web import url

from fresh.cart import cart
from fresh.cart import handlers as h
from fresh.hooks import Hooks, Redirect


async def cart_count(redis, session) -> int:
    """The header count: the sum of the counts in the visitor's cart (guest or user)."""
    return await cart.count_items(redis, session)


def cart_count_queue(pipe, session):
    """The header count inside a page's own Redis pipeline: queue one command, return the reply's parser."""
    cart.queue_count_items(pipe, session)
    return cart.parse_count_items


async def on_login(app, old, new) -> None:
    """Merge the guest cart of the session that is logging in into the user's cart (once, atomically)."""
    await cart.merge_at_login(app.db, app.redis, old=old, new=new, max_count=app.cfg.cart.max_count)


ROUTES = [
    url(r"/cart", h.CartHandler, name="cart"),
    Redirect(r"/cart/", "/cart"),
    url(r"/cart/add", h.CartAddHandler, name="cart_add"),
    url(r"/cart/buy", h.CartBuyHandler, name="cart_buy"),
    url(r"/cart/update", h.CartUpdateHandler, name="cart_update"),
    url(r"/cart/delete", h.CartDeleteHandler, name="cart_delete"),
]

HOOKS = Hooks(cart_count=cart_count, cart_count_queue=cart_count_queue, on_login=(on_login,))
