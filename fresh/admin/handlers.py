"""Admin pages: thin handlers over fresh.admin's domain modules (each write is one transaction there)."""

from __future__ import annotations

import abc
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import tornado.escape
import tornado.web

from fresh.admin import audit, content, dashboard, goods, orders, pictures, stock, users
from fresh.admin.forms import Form
from fresh.errors import BadRequest, DomainError, Forbidden, NotFound, NotLoggedIn
from fresh.paging import PageOutOfRange
from fresh.web import BaseHandler, media_path

# --- what every admin page shares: the staff check, the admin layout, flash messages ------------------------

# Left menu: (section, title, path).
MENU = (
    ("dashboard", "概览", "/admin"),
    ("goods", "商品", "/admin/goods"),
    ("spu", "商品SPU", "/admin/spu"),
    ("categories", "分类", "/admin/content/categories"),
    ("banners", "首页轮播", "/admin/content/banners"),
    ("promotions", "首页促销", "/admin/content/promotions"),
    ("type_goods", "首页分类展示", "/admin/content/type_goods"),
    ("orders", "订单", "/admin/orders"),
    ("users", "用户", "/admin/users"),
    ("audit", "操作日志", "/admin/audit"),
)
FLASH_COOKIE = "admin_flash"


def yuan(value) -> str:
    """¥1,234.50"""
    return f"¥{Decimal(value or 0):,.2f}"


def bjtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored (UTC) time in Beijing time."""
    return (value + timedelta(hours=8)).strftime(fmt) if value else ""


class AdminHandler(BaseHandler):
    """Staff only: anonymous visitors are sent to log in (and back), logged-in shoppers get 403, on every method."""

    section = ""

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished:
            return
        user = self.current_user
        if user is None:
            if self.request.method in ("GET", "HEAD") and not self.wants_json():
                self.redirect(f"{self.get_login_url()}?next={tornado.escape.url_escape(self.request.uri)}")
                return
            raise NotLoggedIn()
        if not user.is_staff:
            raise Forbidden("仅限管理员访问")

    @property
    def staff(self):
        return self.current_user

    async def render(self, template_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("section", self.section)
        kwargs.setdefault("menu", MENU)
        kwargs.setdefault("flash", self.take_flash())
        kwargs.setdefault("breadcrumbs", [])
        kwargs["cart_count"] = 0
        kwargs.setdefault("yuan", yuan)
        kwargs.setdefault("bjtime", bjtime)
        self.finish(self.render_string(template_name, **kwargs))

    def flash(self, message: str) -> None:
        """A message for the next page ("商品「草莓」已保存"), carried in a short-lived signed cookie."""
        self.set_signed_cookie(FLASH_COOKIE, message.encode("utf-8"), expires_days=None, httponly=True)

    def take_flash(self) -> str:
        raw = self.get_signed_cookie(FLASH_COOKIE, max_age_days=1)
        if raw is None:
            return ""
        self.clear_cookie(FLASH_COOKIE)
        return raw.decode("utf-8", "replace")

    def id_path(self, value: str) -> int:
        """A numeric id from the path; anything else is a 404."""
        if not value.isdigit() or len(value) > 9:
            raise NotFound("您访问的内容不存在")
        return int(value)

    def page_arg(self) -> int:
        """The `page` argument; 1 when there is none (a malformed one is none)."""
        page = self.int_arg("page")
        return 1 if page is None else page

    def redirect_to_page(self, number: int) -> None:
        """This list at page `number`, its filters kept: where a page number outside the list is sent (a link made
        before the list shrank)."""
        args = [(name, value) for name in self.request.query_arguments if name != "page"
                for value in self.get_query_arguments(name)]
        self.redirect(f"{self.request.path}?{urlencode([*args, ('page', number)])}")

    def form_values(self, *names: str) -> dict[str, str]:
        return {name: self.arg(name) for name in names}


# --- pages ---------------------------------------------------------------------------------------------------

class DashboardHandler(AdminHandler):
    section = "dashboard"

    async def get(self) -> None:
        # A report: its figures may lag by the replica's delay (fresh.replica).
        data = await dashboard.summary(self.reads)
        counts = await orders.status_counts(self.reads)
        await self.render("admin/dashboard.html", data=data, counts=counts, status_names=orders.STATUS_NAMES,
                          today=dashboard.beijing_today().isoformat())


def query_string(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


# --- goods ---------------------------------------------------------------------------------------------------

class GoodsListHandler(AdminHandler):
    section = "goods"

    async def get(self) -> None:
        filters = {"q": self.arg("q")[:50], "type_id": self.int_arg("type_id"), "sale": self.arg("sale"),
                   "stock": self.arg("stock"), "sort": self.arg("sort") or "id"}
        try:
            page = await goods.list_skus(self.db, page=self.page_arg(), **filters)
        except PageOutOfRange as out:
            return self.redirect_to_page(out.nearest)
        types, _ = await goods.choices(self.db)
        await self.render("admin/goods_list.html", page=page, filters=filters, types=types,
                          qs=lambda **kw: query_string(**{**filters, **kw}),
                          breadcrumbs=[("商品", None)])


class GoodsSaleHandler(AdminHandler):
    """上架/下架 the ticked SKUs."""

    async def post(self) -> None:
        action = self.arg("action")
        if action not in ("on", "off"):
            raise BadRequest("未知的操作")
        ids = [int(v) for v in self.get_arguments("sku_id") if v.isdigit() and len(v) <= 9]
        if not ids:
            raise BadRequest("请先勾选商品")
        changed = await goods.set_on_sale(self.db, self.redis, self.staff, ids, action == "on")
        self.flash(f"已{'上架' if action == 'on' else '下架'}{changed}件商品")
        self.redirect_to_next("/admin/goods")


class SkuFormHandler(AdminHandler):
    section = "goods"
    FIELDS = ("name", "desc", "price", "unite", "stock", "type_id", "goods_id", "status")

    async def get(self, sku_id: str | None = None) -> None:
        if sku_id is None:
            form = Form({"status": "1", "type_id": self.arg("type_id"), "goods_id": self.arg("goods_id")})
            await self.show(form, None)
            return
        sku = await goods.get_sku(self.db, self.id_path(sku_id))
        form = Form({k: str(sku[k]) for k in self.FIELDS})
        await self.show(form, sku)

    async def show(self, form: Form, sku: dict | None, *, status: int = 200) -> None:
        types, spus = await goods.choices(self.db)
        self.set_status(status)
        title = f"编辑「{sku['name']}」" if sku else "新增商品"
        await self.render("admin/goods_form.html", form=form, sku=sku,
                          type_options=[(t["id"], t["name"]) for t in types],
                          spu_options=[(s["id"], f"{s['name']}（#{s['id']}）") for s in spus],
                          price_help=goods.PRICE_HELP, picture_help=pictures.HELP,
                          breadcrumbs=[("商品", "/admin/goods"), (title, None)], title=title)

    async def post(self, sku_id: str | None = None) -> None:
        sku = await goods.get_sku(self.db, self.id_path(sku_id)) if sku_id is not None else None
        values = self.form_values(*self.FIELDS)
        types, spus = await goods.choices(self.db)
        form = goods.clean_sku_form(values, creating=sku is None, type_ids={t["id"] for t in types},
                                    spu_ids={s["id"] for s in spus})
        picture = await self.upload(form, "picture", required=False)
        if not form.ok:
            await self.show(form, sku, status=400)
            return
        if sku is None:
            new_id = await goods.create_sku(self.db, self.redis, self.staff, form.clean, picture=picture)
            self.flash(f"商品「{form.clean['name']}」已保存")
            target = {"continue": f"/admin/goods/{new_id}", "add": "/admin/goods/new"}.get(self.arg("then"),
                                                                                           "/admin/goods")
        else:
            await goods.update_sku(self.db, self.redis, self.staff, sku["id"], form.clean, picture=picture)
            self.flash(f"商品「{form.clean['name']}」已保存")
            target = {"continue": f"/admin/goods/{sku['id']}", "add": "/admin/goods/new"}.get(self.arg("then"),
                                                                                              "/admin/goods")
        self.redirect(target)

    async def upload(self, form: Form, field: str, *, required: bool) -> str | None:
        """Store the uploaded picture of `field`; its problem goes next to the field."""
        files = self.request.files.get(field) or []
        if not files or not files[0].body:
            if required:
                form.error(field, "请上传图片")
            return None
        if not form.ok:
            return None  # not stored while the rest of the form is wrong (it must be chosen again)
        try:
            return (await pictures.store_upload(media_path(self.cfg), files[0].body)).path
        except BadRequest as exc:
            form.error(field, exc.message)
            return None


class SkuPicturesHandler(SkuFormHandler):
    """Add a picture to a SKU (optionally as the main one)."""

    async def get(self, sku_id: str) -> None:
        raise tornado.web.HTTPError(405)  # a form's target only: the page it inherits is served elsewhere

    async def post(self, sku_id: str) -> None:
        sku = await goods.get_sku(self.db, self.id_path(sku_id))
        form = Form({})
        path = await self.upload(form, "picture", required=True)
        if not form.ok:
            shown = Form({k: str(sku[k]) for k in self.FIELDS})
            shown.errors = form.errors
            await self.show(shown, sku, status=400)
            return
        await goods.add_picture(self.db, self.redis, self.staff, sku["id"], path, main=self.arg("main") == "1")
        self.flash("图片已上传")
        self.redirect(f"/admin/goods/{sku['id']}#pictures")


class SkuPictureActionHandler(AdminHandler):
    async def post(self, sku_id: str, picture_id: str) -> None:
        sku = self.id_path(sku_id)
        await goods.picture_action(self.db, self.redis, self.staff, sku, self.id_path(picture_id), self.arg("action"))
        self.flash("图片已更新")
        self.redirect(f"/admin/goods/{sku}#pictures")


class StockHandler(AdminHandler):
    section = "goods"

    async def get(self, sku_id: str) -> None:
        sku = await goods.get_sku(self.db, self.id_path(sku_id))
        await self.show(sku, Form({"reason": "in"}))

    async def show(self, sku: dict, form: Form, *, status: int = 200) -> None:
        self.set_status(status)
        rows = await stock.history(self.db, sku["id"])
        await self.render("admin/stock.html", sku=sku, form=form, history=rows, reasons=stock.REASON_NAMES,
                          breadcrumbs=[("商品", "/admin/goods"), (sku["name"], f"/admin/goods/{sku['id']}"),
                                       ("库存", None)])

    async def post(self, sku_id: str) -> None:
        sku = await goods.get_sku(self.db, self.id_path(sku_id))
        form = stock.clean_adjustment(self.form_values("reason", "delta", "note"))
        if form.ok:
            try:
                after = await stock.adjust_stock(self.db, self.redis, self.staff, sku["id"], **form.clean)
            except DomainError as exc:
                if exc.status != 409:
                    raise
                form.error("delta", exc.message)
            else:
                self.flash(f"库存已调整，当前库存{after}")
                self.redirect(f"/admin/goods/{sku['id']}/stock")
                return
        await self.show(sku, form, status=409 if "库存不足" in form.errors.get("delta", "") else 400)


# --- SPU -----------------------------------------------------------------------------------------------------

class SpuListHandler(AdminHandler):
    section = "spu"

    async def get(self) -> None:
        q = self.arg("q")[:50]
        try:
            page = await goods.list_spus(self.db, q=q, page=self.page_arg())
        except PageOutOfRange as out:
            return self.redirect_to_page(out.nearest)
        await self.render("admin/spu_list.html", page=page, q=q, qs=lambda **kw: query_string(q=q, **kw),
                          breadcrumbs=[("商品SPU", None)])


class SpuFormHandler(AdminHandler):
    section = "spu"

    async def get(self, spu_id: str | None = None) -> None:
        spu = await goods.get_spu(self.db, self.id_path(spu_id)) if spu_id else None
        await self.show(Form(spu or {}), spu)

    async def show(self, form: Form, spu: dict | None, *, status: int = 200) -> None:
        self.set_status(status)
        title = f"编辑SPU「{spu['name']}」" if spu else "新增SPU"
        await self.render("admin/spu_form.html", form=form, spu=spu, title=title,
                          breadcrumbs=[("商品SPU", "/admin/spu"), (title, None)])

    async def post(self, spu_id: str | None = None) -> None:
        spu = await goods.get_spu(self.db, self.id_path(spu_id)) if spu_id else None
        form = goods.clean_spu_form({"name": self.arg("name"), "detail": self.get_argument("detail", "")})
        if not form.ok:
            await self.show(form, spu, status=400)
            return
        saved = await goods.save_spu(self.db, self.redis, self.staff, spu["id"] if spu else None, form.clean)
        self.flash(f"SPU「{form.clean['name']}」已保存")
        self.redirect(f"/admin/spu/{saved}" if self.arg("then") == "continue" else "/admin/spu")


# --- categories and index content ------------------------------------------------------------------------------

def kind_of(key: str) -> content.Kind:
    kind = content.KINDS.get(key)
    if kind is None:
        raise NotFound()
    return kind


class ContentListHandler(AdminHandler):
    async def get(self, key: str) -> None:
        kind = kind_of(key)
        self.section = kind.key
        rows = await content.list_rows(self.db, kind)
        await self.render("admin/content_list.html", kind=kind, rows=rows, breadcrumbs=[(kind.title, None)])


class ContentFormHandler(SkuFormHandler):
    async def get(self, key: str, row_id: str | None = None) -> None:
        kind = kind_of(key)
        row = await content.get_row(self.db, kind, self.id_path(row_id)) if row_id else None
        values = {k: "" if row is None or row.get(k) is None else str(row[k]) for k in kind.fields}
        if row is None and "display_type" in kind.fields:
            values["display_type"] = "1"
        await self.show_content(kind, Form(values), row)

    async def show_content(self, kind: content.Kind, form: Form, row: dict | None, *, status: int = 200) -> None:
        self.section = kind.key
        self.set_status(status)
        types, _ = await goods.choices(self.db)
        title = f"编辑{kind.title}" if row else f"新增{kind.title}"
        await self.render("admin/content_form.html", kind=kind, form=form, row=row, title=title,
                          type_options=[(t["id"], t["name"]) for t in types],
                          picture_help=pictures.HELP,
                          breadcrumbs=[(kind.title, f"/admin/content/{kind.key}"), (title, None)])

    async def post(self, key: str, row_id: str | None = None) -> None:
        kind = kind_of(key)
        row = await content.get_row(self.db, kind, self.id_path(row_id)) if row_id else None
        form = await content.clean_form(self.db, kind, self.form_values(*kind.fields))
        picture = None
        if kind.has_picture:
            picture = await self.upload(form, "picture", required=kind.picture_required and row is None)
        if not form.ok:
            await self.show_content(kind, form, row, status=400)
            return
        await content.save(self.db, self.redis, self.staff, kind, row["id"] if row else None, form.clean,
                           picture=picture)
        self.flash(f"{kind.title}已保存")
        self.redirect(f"/admin/content/{kind.key}")


class ContentActionHandler(AdminHandler):
    def initialize(self, action: str) -> None:
        super().initialize()
        self.action = action

    async def post(self, key: str, row_id: str) -> None:
        action = self.action
        kind = kind_of(key)
        rid = self.id_path(row_id)
        if action == "move":
            await content.move(self.db, self.redis, self.staff, kind, rid, self.arg("direction"))
            self.flash("顺序已调整")
        else:
            await content.remove(self.db, self.redis, self.staff, kind, rid)
            self.flash(f"{kind.title}已删除")
        self.redirect(f"/admin/content/{kind.key}")


# --- orders --------------------------------------------------------------------------------------------------

class OrderListHandler(AdminHandler):
    section = "orders"

    async def get(self) -> None:
        raw = self.form_values("status", "start", "end", "user", "order_id")
        filters = orders.clean_filters(raw)
        try:
            page = await orders.list_orders(self.db, filters, page=self.page_arg())
        except PageOutOfRange as out:
            return self.redirect_to_page(out.nearest)
        counts = await orders.status_counts(self.db)
        await self.render("admin/order_list.html", page=page, raw=raw, counts=counts,
                          status_names=orders.STATUS_NAMES, qs=lambda **kw: query_string(**{**raw, **kw}),
                          breadcrumbs=[("订单", None)])


class OrderDetailHandler(AdminHandler):
    section = "orders"

    async def get(self, order_id: str) -> None:
        await self.show(order_id, Form({}))

    async def show(self, order_id: str, ship_form: Form, *, status: int = 200) -> None:
        order = await orders.order_detail(self.db, order_id)
        self.set_status(status)
        # A fresh refund request number per page: the same form sent twice is one refund at Alipay.
        await self.render("admin/order_detail.html", order=order, ship_form=ship_form,
                          refund_request_no=f"A{secrets.token_hex(12)}",
                          breadcrumbs=[("订单", "/admin/orders"), (order_id, None)])


class _OrderFormHandler(OrderDetailHandler, abc.ABC):
    """The target of one action form of the order page, POST only. The order must exist (404); `act` does the
    action and returns what to flash before going back to the page, or None when it rendered the page itself."""

    async def get(self, order_id: str) -> None:
        raise tornado.web.HTTPError(405)  # a form's target only: the page it inherits is served elsewhere

    async def post(self, order_id: str) -> None:
        await orders.order_detail(self.db, order_id)  # 404 for unknown ids
        message = await self.act(order_id)
        if message is not None:
            self.flash(message)
            self.redirect(f"/admin/orders/{order_id}")

    @abc.abstractmethod
    async def act(self, order_id: str) -> str | None: ...


class OrderShipHandler(_OrderFormHandler):
    async def act(self, order_id: str) -> str | None:
        form = orders.clean_shipment(self.form_values("carrier", "tracking_no"))
        if not form.ok:
            await self.show(order_id, form, status=400)
            return None
        await orders.ship(self.db, self.redis, self.staff, order_id, **form.clean)
        return "订单已发货"


class OrderCancelHandler(_OrderFormHandler):
    async def act(self, order_id: str) -> str:
        await orders.cancel(self.application, self.staff, order_id)
        return "订单已取消，库存已退回"


class OrderRefundHandler(_OrderFormHandler):
    async def act(self, order_id: str) -> str:
        status = await orders.refund(self.application, self.staff, order_id, amount=self.arg("amount")[:20],
                                     reason=self.arg("reason"), request_no=self.arg("request_no")[:64])
        return orders.REFUND_OUTCOMES[status]


class OrderCodPaidHandler(_OrderFormHandler):
    async def act(self, order_id: str) -> str:
        await orders.cod_paid(self.application, self.staff, order_id)
        return "已记录货到付款收款"


# --- users and the audit log ---------------------------------------------------------------------------------

class UserListHandler(AdminHandler):
    section = "users"

    async def get(self) -> None:
        q, role = self.arg("q")[:50], self.arg("role")
        try:
            page = await users.list_users(self.db, q=q, role=role, page=self.page_arg())
        except PageOutOfRange as out:
            return self.redirect_to_page(out.nearest)
        await self.render("admin/user_list.html", page=page, q=q, role=role,
                          qs=lambda **kw: query_string(q=q, role=role, **kw), breadcrumbs=[("用户", None)])


class UserActionHandler(AdminHandler):
    def initialize(self, what: str) -> None:
        super().initialize()
        self.what = what

    async def post(self, user_id: str) -> None:
        what = self.what
        uid = self.id_path(user_id)
        value = self.arg("value")
        if value not in ("0", "1"):
            raise BadRequest("未知的操作")
        user = await users.get_user(self.db, uid)
        if what == "active":
            await users.set_active(self.db, self.redis, self.staff, uid, value == "1")
            self.flash(f"用户「{user['username']}」已{'启用' if value == '1' else '停用'}")
        else:
            await users.set_staff(self.db, self.redis, self.staff, uid, value == "1")
            self.flash(f"用户「{user['username']}」已{'设为管理员' if value == '1' else '取消管理员'}")
        self.redirect_to_next("/admin/users")


class AuditListHandler(AdminHandler):
    section = "audit"

    async def get(self) -> None:
        filters = {"entity": self.arg("entity"), "staff": self.arg("staff")[:20],
                   "entity_id": self.arg("entity_id")[:64]}
        if filters["entity"] not in {str(e) for e in audit.Entity}:
            filters["entity"] = ""
        # A report (what staff did), read from the read pool: the newest rows may lag by the replica's delay.
        try:
            page = await audit.list_entries(self.reads, page=self.page_arg(), **filters)
        except PageOutOfRange as out:
            return self.redirect_to_page(out.nearest)
        await self.render("admin/audit_list.html", page=page, filters=filters, entities=audit.ENTITY_NAMES,
                          qs=lambda **kw: query_string(**{**filters, **kw}), breadcrumbs=[("操作日志", None)])
