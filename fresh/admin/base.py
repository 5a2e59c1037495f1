"""What every admin page shares: the staff check, rendering in the admin layout, forms that keep their input."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import tornado.escape

from fresh.errors import Forbidden, NotFound, NotLoggedIn
from fresh.web import BaseHandler

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


class Form:
    """Submitted values (kept as typed, to show again on error) and the message of each invalid field."""

    def __init__(self, values: dict[str, Any] | None = None):
        self.values: dict[str, Any] = dict(values or {})
        self.errors: dict[str, str] = {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def get(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name)
        return default if value is None else value


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
