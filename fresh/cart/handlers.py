"""Cart HTTP handlers: the page and the three AJAX endpoints of the original (res codes + HTTP statuses)."""

from __future__ import annotations

from enum import IntEnum

from fresh import metrics
from fresh.cart import cart
from fresh.catalog import goods
from fresh.errors import BadRequest, Conflict, NotFound
from fresh.web import BaseHandler


class CartHandler(BaseHandler):
    async def get(self) -> None:
        lines = await cart.load_lines(self.db, self.redis, self.session)
        total_count = sum(line["count"] for line in lines)
        await self.render("cart/cart.html", lines=lines, total_count=total_count, cart_count=total_count,
                          max_count=self.cfg.cart.max_count)


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
        sku_id, count = cart.clean_line(self.arg("sku_id"), self.arg("count"), max_count=self.cfg.cart.max_count)
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
        self.reply(cart.AddRes.OK, "添加成功", total_count=total)

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


class CartUpdateHandler(CartAjaxHandler):
    cart_op = "update"

    async def post(self) -> None:
        sku_id, count = cart.clean_line(self.arg("sku_id"), self.arg("count"), max_count=self.cfg.cart.max_count)
        sku = await self.on_sale_sku(sku_id)
        if count > sku["stock"]:
            raise Conflict("商品库存不足", res=cart.AddRes.NO_STOCK, stock=sku["stock"])
        if self.session is None:
            raise NotFound("商品不存在", res=cart.AddRes.NO_SKU)
        try:
            total = await cart.update_count(self.redis, session=self.session, sku_id=sku_id, count=count,
                                            guest_ttl=self.cfg.cart.guest_ttl_days * 86400)
        except cart.SessionEnded:
            self.session_ended()
            raise
        self.reply(cart.AddRes.OK, "更新成功", total_count=total)


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
        self.reply(cart.DeleteRes.OK, "删除成功", total_count=total)
