"""Orders over HTTP: the confirmation page, commit, the user's orders, cancel, confirm receipt, comments."""

from __future__ import annotations

import abc
import re
from urllib.parse import urlencode

from tornado.escape import url_escape

from fresh import metrics
from fresh.errors import BadRequest, DomainError, NotFound
from fresh.orders import closing, lifecycle, place, queries
from fresh.orders.place import CommitRes
from fresh.orders.status import ActionRes, OrderStatus
from fresh.paging import PageOutOfRange
from fresh.web import BaseHandler, login_required

ORDER_ID_RE = re.compile(r"^[0-9a-f]{14,64}$")


class OrderPlaceHandler(BaseHandler):
    """The confirmation page: POST /order/place (sku_ids from the cart form), or GET /order/place?sku_ids=1,5
    (立即购买, and the way back from the address page)."""

    @login_required
    async def get(self) -> None:
        await self.show()

    async def post(self) -> None:
        if not self.current_user:
            # A guest's cart posts here too: log in first, then back to the cart (merged at login).
            self.redirect(f"{self.get_login_url()}?next={url_escape('/cart')}")
            return
        await self.show()

    async def show(self) -> None:
        try:
            sku_ids = place.parse_sku_ids(self.get_arguments("sku_ids"))
            ctx = await place.preview_order(self.db, self.redis, self.cfg.orders, user_id=self.user_id,
                                            sku_ids=sku_ids)
        except DomainError as exc:
            message = "请先选择要购买的商品" if exc.res == CommitRes.INCOMPLETE else exc.message
            self.set_status(400 if exc.status < 500 else exc.status)
            await self.render("orders/notice.html", title="无法提交订单", message=message, to_cart=True)
            return
        page_url = self.reverse_url("order_place") + "?" + urlencode({"sku_ids": ctx["sku_ids"]})
        # ?addr_id= names the address just saved on the address page (AddressHandler.after_save): chosen here.
        saved = self.int_arg("addr_id") if self.request.method == "GET" else None
        ids = [a["id"] for a in ctx["addresses"]]
        default = next((a["id"] for a in ctx["addresses"] if a["is_default"]), ids[0] if ids else None)
        chosen = saved if saved in ids else default
        await self.render("orders/place.html", **ctx, page_url=page_url, chosen_addr=chosen,
                          addr_saved=saved is not None and saved in ids,
                          address_url=self.reverse_url("address") + "?" + urlencode({"next": page_url}))


class OrderCommitHandler(BaseHandler):
    """POST /order/commit: JSON with the original's res codes 0..7 and a real HTTP status. A plain form post
    (no JavaScript) is answered with the orders page, or a page saying why not with the way back."""

    ajax = True

    @login_required
    async def post(self) -> None:
        try:
            form = place.clean_commit(addr_id=self.arg("addr_id"), pay_method=self.arg("pay_method"),
                                      sku_ids=self.get_arguments("sku_ids"), idem_key=self.arg("idem_key"))
            order_id = await place.place_order(self.db, self.redis_lane, self.cfg.orders, user_id=self.user_id,
                                               **form)
        except DomainError as exc:
            if not self.is_form_navigation():
                raise
            self.answered_res = int(exc.res)
            await self.refused_page(exc)
            return
        if self.is_form_navigation():
            self.answered_res = int(CommitRes.CREATED)
            self.redirect("/user/order/1?" + urlencode({"placed": order_id}))
            return
        self.reply(CommitRes.CREATED, "创建成功", order_id=order_id)

    def on_finish(self) -> None:
        res = "error" if self.answered_res is None else str(self.answered_res)
        metrics.ORDER_COMMITS.labels(res, self.cfg.orders.stock_strategy).inc()
        super().on_finish()  # the drain's count of requests in flight

    async def refused_page(self, exc: DomainError) -> None:
        self.set_status(exc.status)
        sku_ids = ",".join(v.strip() for v in self.get_arguments("sku_ids") if v.strip())[:400]
        back = self.reverse_url("order_place") + "?" + urlencode({"sku_ids": sku_ids}) if sku_ids else ""
        await self.render("orders/notice.html", title="订单未能提交", message=exc.message, to_cart=True,
                          back=back)


class UserOrderHandler(BaseHandler):
    """GET /user/order/<page>: the user's orders, newest first."""

    @login_required
    async def get(self, page: str) -> None:
        try:
            data = await queries.list_orders(self.db, user_id=self.user_id, page=int(page))
        except PageOutOfRange as out:
            self.redirect(self.reverse_url("user_order", out.nearest))
            return
        # After a commit without JavaScript: the order's number as the page's confirmation.
        placed = self.arg("placed")
        await self.render("orders/user_order.html", page="order",
                          placed=placed if ORDER_ID_RE.match(placed) else "", **{("page_no" if k == "page" else k): v
                                                                     for k, v in data.items()})


class _OrderActionHandler(BaseHandler, abc.ABC):
    """AJAX actions on one of the user's orders (res codes: ActionRes)."""

    ajax = True
    done_message = ""

    @login_required
    async def post(self) -> None:
        order_id = self.arg("order_id")
        if not order_id:
            raise BadRequest("参数不完整", res=ActionRes.BAD_INPUT)
        if not ORDER_ID_RE.match(order_id):
            raise NotFound("订单不存在", res=ActionRes.NO_ORDER)
        try:
            await self.act(order_id)
        except NotFound:
            raise NotFound("订单不存在", res=ActionRes.NO_ORDER) from None
        self.reply(ActionRes.DONE, self.done_message, order_id=order_id)

    @abc.abstractmethod
    async def act(self, order_id: str) -> None:
        """The lifecycle function; NotFound for others' orders, Conflict in a status that does not allow it."""


class OrderCancelHandler(_OrderActionHandler):
    done_message = "订单已取消"

    async def act(self, order_id: str) -> None:
        await closing.cancel_order(self.application, user_id=self.user_id, order_id=order_id)


class OrderConfirmHandler(_OrderActionHandler):
    done_message = "已确认收货"

    async def act(self, order_id: str) -> None:
        await lifecycle.confirm_received(self.db, user_id=self.user_id, order_id=order_id)


class OrderCommentHandler(BaseHandler):
    """GET/POST /order/comment/<order_id>: one comment per item of an order in 待评价, then 已完成."""

    async def _order(self, order_id: str) -> dict:
        order = await queries.order_detail(self.db, order_id, user_id=self.user_id)
        if order["order_status"] not in (OrderStatus.RECEIVED, OrderStatus.DONE):
            raise DomainError("该订单当前不能评价", status=409)
        return order

    @login_required
    async def get(self, order_id: str) -> None:
        await self.render("orders/comment.html", page="order", order=await self._order(order_id), error="",
                          form={})

    @login_required
    async def post(self, order_id: str) -> None:
        order = await self._order(order_id)
        form = {item["sku_id"]: self.get_argument(f"content_{item['sku_id']}", "") for item in order["items"]}
        try:
            comments = lifecycle.clean_comments(form, [item["sku_id"] for item in order["items"]])
            await lifecycle.comment_order(self.db, user_id=self.user_id, order_id=order_id, comments=comments)
        except BadRequest as exc:
            self.set_status(400)
            await self.render("orders/comment.html", page="order", order=order, error=exc.message, form=form)
            return
        self.redirect("/user/order/1")
