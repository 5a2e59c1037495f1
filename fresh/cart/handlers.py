"""Cart HTTP handlers: the page, the original's AJAX endpoints (res codes + HTTP statuses) and 立即购买.

Every endpoint also takes a plain form post from a browser without JavaScript (BaseHandler.is_form_navigation):
it then answers with a redirect to the page to show next, carrying a notice code (never text) for that page.
"""

from __future__ import annotations

from enum import IntEnum
from urllib.parse import urlencode

from fresh import metrics
from fresh.cart import cart
from fresh.catalog import goods
from fresh.errors import BadRequest, Conflict, DomainError, NotFound
from fresh.web import BaseHandler

# Notice codes the cart and detail pages turn into messages (CART_NOTICES here, catalog.handlers for detail).
CART_NOTICES = {
    "updated": "数量已更新",
    "deleted": "已从购物车删除",
}


def count_refusal(exc: DomainError) -> str:
    """The notice code of a refused count (for the page the browser goes back to)."""
    if exc.res == cart.AddRes.NO_STOCK:
        return "no_stock"
    if exc.res == cart.AddRes.BAD_COUNT:
        return "bad_count"
    return "gone"


class CartHandler(BaseHandler):
    async def get(self) -> None:
        lines = await cart.load_lines(self.db, self.redis, self.session)
        total_count = sum(line["count"] for line in lines)
        notice_sku = self.int_arg("sku")
        notice = self.arg("notice")
        await self.render("cart/cart.html", lines=lines, total_count=total_count, cart_count=total_count,
                          max_count=self.cfg.cart.max_count, notice=CART_NOTICES.get(notice, ""),
                          row_notice=notice if notice in ("no_stock", "bad_count") else "", notice_sku=notice_sku)


class CartAjaxHandler(BaseHandler):
    """Hot path: the signed cookie's claims are trusted here and the cart script checks the session."""

    ajax = True
    load_session = False
    # The metrics' name of the operation, and the enum of its res codes.
    cart_op = ""
    res_codes: type[IntEnum] = cart.AddRes

    def on_finish(self) -> None:
        res = self.answered_res
        if res is None:
            result = "error"
        elif res == 0:
            result = "not_logged_in"
        else:
            result = self.res_codes(res).name.lower() if res in self.res_codes.__members__.values() else str(res)
        metrics.CART_OPS.labels(self.cart_op, result).inc()
        super().on_finish()  # the drain's count of requests in flight

    async def on_sale_sku(self, sku_id: int) -> dict:
        sku = await goods.get_sku(self.db, sku_id)
        if sku is None:
            raise NotFound("商品不存在", res=cart.AddRes.NO_SKU)
        return sku

    def session_ended(self) -> None:
        self.set_session_cookie(None)


class CartAddHandler(CartAjaxHandler):
    """The hottest path: no MariaDB read per add (the SKU's stock comes from the catalog's per-process cache)
    and one Redis round trip (the add script checks the session, the catalog version, caps and increments), sent
    on the process's pipelined lane (fresh.redis_client.Lane) rather than through redis-py's pool.

    The cap at stock is advisory: the cached stock may be up to `cart.sku_cache_ttl` (5) seconds old when orders
    moved it meanwhile, so a cart may briefly hold a little more than is left (or refuse a little early; a
    refusal is re-checked against MariaDB before it is answered). That is safe because placing the order takes
    the stock in a MariaDB transaction and refuses what is not there; catalog writes (status, price, stock by
    staff) change the catalog version, which the add script compares, and are seen at once."""

    cart_op = "add"

    async def post(self) -> None:
        if self.is_form_navigation():
            await self.post_form()
            return
        sku_id, count = cart.clean_line(self.arg("sku_id"), self.arg("count"), max_count=self.cfg.cart.max_count)
        self.reply(cart.AddRes.OK, "添加成功", total_count=await self.add_line(sku_id, count))

    async def post_form(self) -> None:
        """Without JavaScript: add, then back to the detail page saying so (or why not, keeping the count)."""
        sku_id = cart.clean_sku_id(self.arg("sku_id"))
        if sku_id is None:
            raise NotFound("商品不存在", res=cart.AddRes.NO_SKU)
        typed = self.arg("count")[:6]
        try:
            sku_id, count = cart.clean_line(self.arg("sku_id"), typed, max_count=self.cfg.cart.max_count)
            await self.add_line(sku_id, count)
        except (BadRequest, Conflict) as exc:
            self.redirect(detail_notice(self, sku_id, count_refusal(exc), typed, exc.extra.get("in_cart", 0)))
            return
        self.redirect(detail_notice(self, sku_id, "added", str(count)))

    async def add_line(self, sku_id: int, count: int) -> int:
        """Add `count` of the SKU to the visitor's cart (a guest session starts if needed); the new total."""
        version, stock = await self.cached_stock(sku_id)
        if count > stock:
            # Refused before any session starts; a refusal is confirmed by a fresh read (the cache may predate
            # a restock), which costs nothing on the path that succeeds.
            goods.forget_cart_sku(self.redis, sku_id)
            version, stock = await self.cached_stock(sku_id)
            if count > stock:
                raise Conflict("商品库存不足", res=cart.AddRes.NO_STOCK, stock=stock)
        session = await self.ensure_session()
        try:
            total = await self.add(session, sku_id, count, version, stock)
        except cart.SessionEnded:
            self.session_ended()
            if not session.is_guest:
                raise
            # A guest whose session expired simply starts a new guest cart.
            total = await self.add(await self.ensure_session(), sku_id, count, version, stock)
        return total

    async def cached_stock(self, sku_id: int) -> tuple[str, int]:
        version, sku = await goods.cart_sku(self.db, self.redis, sku_id, ttl=self.cfg.cart.sku_cache_ttl)
        if sku is None:
            raise NotFound("商品不存在", res=cart.AddRes.NO_SKU)
        return version, sku["stock"]

    async def add(self, session, sku_id: int, count: int, version: str, stock: int) -> int:
        args = dict(session=session, sku_id=sku_id, count=count, max_count=self.cfg.cart.max_count,
                    guest_ttl=self.cfg.cart.guest_ttl_days * 86400)
        try:
            return await cart.add_to_cart(self.redis_lane, stock=stock, version=version, **args)
        except cart.StaleStock:
            # The cached stock predates a catalog write: read it again. That read is current, so the second
            # try goes without the version check (only a write racing this very request could slip by).
            goods.forget_cart_sku(self.redis, sku_id)
            _, stock = await self.cached_stock(sku_id)
            return await cart.add_to_cart(self.redis_lane, stock=stock, **args)


class CartBuyHandler(CartAddHandler):
    """POST /cart/buy (立即购买): the SKU's cart line becomes exactly the chosen count, then the confirmation page
    for that SKU alone. AJAX gets {"res": 5, "next": url}; a plain form the redirect itself."""

    cart_op = "buy"

    async def post(self) -> None:
        form = self.is_form_navigation()
        typed = self.arg("count")[:6]
        sku_id = cart.clean_sku_id(self.arg("sku_id"))
        try:
            sku_id, count = cart.clean_line(self.arg("sku_id"), typed, max_count=self.cfg.cart.max_count)
            await self.set_line(sku_id, count)
        except (BadRequest, Conflict) as exc:
            if not form or sku_id is None:
                raise
            self.redirect(detail_notice(self, sku_id, count_refusal(exc), typed))
            return
        target = self.reverse_url("order_place") + "?" + urlencode({"sku_ids": sku_id})
        if form:
            self.redirect(target)
        else:
            self.reply(cart.AddRes.OK, "请确认订单", next=target)

    async def set_line(self, sku_id: int, count: int) -> None:
        sku = await self.on_sale_sku(sku_id)
        if count > sku["stock"]:
            raise Conflict("商品库存不足", res=cart.AddRes.NO_STOCK, stock=sku["stock"])
        session = await self.ensure_session()
        args = dict(sku_id=sku_id, count=count, guest_ttl=self.cfg.cart.guest_ttl_days * 86400)
        try:
            await cart.set_count(self.redis, session=session, **args)
        except cart.SessionEnded:
            self.session_ended()
            if not session.is_guest:
                raise
            await cart.set_count(self.redis, session=await self.ensure_session(), **args)


class CartUpdateHandler(CartAjaxHandler):
    """POST /cart/update. The cart page's +/− buttons post here without JavaScript too (sku_id and count in the
    button's formaction), as does its 更新 button (the row's box, `count_<sku_id>`)."""

    cart_op = "update"

    async def post(self) -> None:
        form = self.is_form_navigation()
        sku_raw = self.arg("sku_id")
        if form and not sku_raw:
            await self.update_all()
            return
        typed = self.arg("count") or (self.arg(f"count_{sku_raw}") if form and sku_raw.isdigit() else "")
        try:
            sku_id, count = cart.clean_line(sku_raw, typed[:7], max_count=self.cfg.cart.max_count)
            total = await self.update(sku_id, count)
        except (BadRequest, Conflict) as exc:
            if not form:
                raise
            self.redirect(cart_notice(self, count_refusal(exc), cart.clean_sku_id(sku_raw)))
            return
        if form:
            self.redirect(cart_notice(self, "updated", sku_id))
        else:
            self.reply(cart.AddRes.OK, "更新成功", total_count=total)

    async def update_all(self) -> None:
        """Without JavaScript, Enter in a quantity box saves every box of the cart (`count_<sku_id>` fields)."""
        for name in self.request.arguments:
            if not name.startswith("count_") or len(name) > 20:
                continue
            sku_raw = name[len("count_"):]
            try:
                sku_id, count = cart.clean_line(sku_raw, self.arg(name)[:7], max_count=self.cfg.cart.max_count)
                await self.update(sku_id, count)
            except (BadRequest, Conflict) as exc:
                self.redirect(cart_notice(self, count_refusal(exc), cart.clean_sku_id(sku_raw)))
                return
        self.redirect(cart_notice(self, "updated", None))

    async def update(self, sku_id: int, count: int) -> int:
        sku = await self.on_sale_sku(sku_id)
        if count > sku["stock"]:
            raise Conflict("商品库存不足", res=cart.AddRes.NO_STOCK, stock=sku["stock"])
        if self.session is None:
            raise NotFound("商品不存在", res=cart.AddRes.NO_SKU)
        try:
            return await cart.update_count(self.redis, session=self.session, sku_id=sku_id, count=count,
                                           guest_ttl=self.cfg.cart.guest_ttl_days * 86400)
        except cart.SessionEnded:
            self.session_ended()
            raise


class CartDeleteHandler(CartAjaxHandler):
    cart_op = "delete"
    res_codes = cart.DeleteRes

    async def post(self) -> None:
        sku_id = cart.clean_sku_id(self.arg("sku_id"))
        if sku_id is None:
            raise BadRequest("无效的商品id", res=cart.DeleteRes.BAD_ID)
        if self.session is None:
            raise NotFound("商品不存在", res=cart.DeleteRes.NO_SKU, total_count=0)
        try:
            total = await cart.delete_sku(self.redis, session=self.session, sku_id=sku_id,
                                          guest_ttl=self.cfg.cart.guest_ttl_days * 86400)
        except cart.SessionEnded:
            self.session_ended()
            raise
        except NotFound:
            if not self.is_form_navigation():
                raise
            total = 0  # already gone (another tab): the shopper's wish is met
        if self.is_form_navigation():
            self.redirect(cart_notice(self, "deleted", None))
        else:
            self.reply(cart.DeleteRes.OK, "删除成功", total_count=total)


def detail_notice(handler: BaseHandler, sku_id: int, notice: str, count: str, in_cart: int = 0) -> str:
    """The detail page URL that shows `notice` next to the quantity box, the typed count kept."""
    query = {"notice": notice, "count": count}
    if in_cart:
        query["in_cart"] = in_cart
    return handler.reverse_url("detail", sku_id) + "?" + urlencode(query)


def cart_notice(handler: BaseHandler, notice: str, sku_id: int | None) -> str:
    query: dict = {"notice": notice}
    if sku_id is not None:
        query["sku"] = sku_id
    return handler.reverse_url("cart") + "?" + urlencode(query) + (f"#sku{sku_id}" if sku_id else "")
