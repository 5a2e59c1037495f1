"""make_app() and BaseHandler: sessions, current user, rendering, JSON replies and the one error path."""

from __future__ import annotations

import asyncio
import functools
import importlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import redis.exceptions
import tornado.web
from tornado.escape import json_encode
from tornado.httputil import parse_cookie

from fresh import db, metrics, sessions
from fresh.errors import DomainError, Forbidden, NotFound, NotLoggedIn
from fresh.redis_client import create_lane
from fresh.settings import ROOT, Settings

log = logging.getLogger("fresh.web")
access_log = logging.getLogger("fresh.access")

# Domain packages in dependency order (DESIGN.md section 2). Each exposes ROUTES, and may expose
# HOOKS (name -> callable) and BACKGROUND (coroutine functions taking the application).
PACKAGES = ("accounts", "catalog", "cart", "orders", "payments", "admin")

STATUS_MESSAGES = {
    400: "请求参数有误",
    401: "请先登录",
    403: "没有权限访问",
    404: "您访问的页面不存在",
    405: "不支持的请求方式",
    409: "操作冲突，请重试",
    413: "提交的内容过大",
    429: "操作过于频繁，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}


class Application(tornado.web.Application):
    """The Tornado application, holding the settings, the pool, the Redis client and the hooks."""

    def __init__(self, cfg: Settings, *, pool, redis, routes, hooks, background, **tornado_settings):
        self.cfg = cfg
        self.db = pool
        self.redis = redis
        # The hottest Redis commands (the cart's add) share one pipelined connection (fresh.redis_client.Lane).
        self.redis_lane = create_lane(cfg.redis)
        self.hooks: dict[str, list[Callable]] = hooks
        self.background: list[Callable[[Application], Awaitable[None]]] = background
        self.jinja = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            undefined=jinja2.StrictUndefined if cfg.mode == "test" else jinja2.Undefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=cfg.web.debug,  # otherwise every get_template() stats the template files
        )
        self.jinja.filters["money"] = lambda value: f"{value:.2f}"
        super().__init__(routes, **tornado_settings)

    def hook(self, name: str) -> list[Callable]:
        return self.hooks.get(name, [])

    def close(self) -> None:
        """Drop the connections the application opened itself (the pool and the Redis client are the caller's)."""
        self.redis_lane.close()


def make_app(cfg: Settings, *, pool, redis) -> Application:
    """Build the application from the packages' ROUTES and HOOKS; does no I/O."""
    routes: list = [
        tornado.web.url(r"/healthz", HealthHandler, name="healthz"),
        tornado.web.url(r"/metrics", MetricsHandler, name="metrics"),
        tornado.web.url(r"/media/(.*)", tornado.web.StaticFileHandler, {"path": str(cfg.var_path / "media")},
                        name="media"),
    ]
    hooks: dict[str, list[Callable]] = {}
    background: list = []
    for name in PACKAGES:
        package = importlib.import_module(f"fresh.{name}")
        routes.extend(getattr(package, "ROUTES", []))
        for hook_name, fn in getattr(package, "HOOKS", {}).items():
            hooks.setdefault(hook_name, []).append(fn)
        background.extend(getattr(package, "BACKGROUND", []))
    return Application(
        cfg,
        pool=pool,
        redis=redis,
        routes=routes,
        hooks=hooks,
        background=background,
        cookie_secret=cfg.web.cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": False, "samesite": "Lax", "secure": cfg.web.secure_cookies},
        login_url="/user/login",
        static_path=str(ROOT / "static"),
        static_url_prefix="/static/",
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        debug=cfg.web.debug,
        compress_response=True,
    )


def log_request(handler: tornado.web.RequestHandler) -> None:
    status = handler.get_status()
    metrics.REQUESTS.inc(status=str(status)[0] + "xx")
    level = logging.INFO if status < 500 else logging.ERROR
    if not access_log.isEnabledFor(level):
        return
    request = handler.request
    # makeRecord + handle instead of log(): the same line without logging's caller lookup (a stack walk per
    # request, measurable on the hot paths).
    access_log.handle(access_log.makeRecord(
        access_log.name, level, __file__, 0, "%s %d %s %s %.1fms",
        (getattr(handler, "request_id", "-"), status, request.method, request.uri, 1000.0 * request.request_time()),
        None,
    ))


# Request ids only need to be unique, not unguessable: a random prefix per process and a counter (the system
# random source per request showed in the profiles of the hot paths).
_REQUEST_PREFIX = secrets.token_hex(4)
_REQUEST_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_REQUEST_COUNTER):08x}"


def is_safe_next(target: str | None) -> bool:
    """Only paths on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and "\\" not in target and not any(c < " " for c in target)


class BaseHandler(tornado.web.RequestHandler):
    """Session and user loading, rendering, JSON replies and error mapping for every handler."""

    # AJAX endpoints answer errors with JSON; pages with the error page.
    ajax = False
    # Handlers on the hot path set this False: they trust the signed cookie's claims and check that the
    # session still exists inside their own Redis script (one round trip instead of two).
    load_session = True

    application: Application

    def initialize(self) -> None:
        self.session: sessions.Session | None = None
        self.request_id = self.request.headers.get("X-Request-Id", "")[:64] or new_request_id()

    @property
    def cfg(self) -> Settings:
        return self.application.cfg

    @property
    def db(self):
        return self.application.db

    @property
    def redis(self):
        return self.application.redis

    @property
    def redis_lane(self):
        return self.application.redis_lane

    async def prepare(self) -> None:
        self.set_header("X-Request-Id", self.request_id)
        claims = sessions.decode_cookie(
            self.get_signed_cookie(sessions.COOKIE_NAME, max_age_days=max(self.cfg.cart.guest_ttl_days,
                                                                          self.cfg.accounts.session_ttl_days))
        )
        if claims is None:
            return
        if not self.load_session:
            self.session = claims
            return
        self.session = await sessions.load_session(self.redis_lane, claims)
        if self.session is None:
            # The session ended (logout, expiry, user deactivated): the visitor is anonymous now.
            self.clear_cookie(sessions.COOKIE_NAME)

    def compute_etag(self) -> str | None:
        """No ETag on the shop's own responses: pages carry the visitor's name, cart count and a freshly masked
        `_xsrf` field, so a hash of the body (SHA-1 over every byte, per request) would almost never let a 304
        through. Static files keep theirs (StaticFileHandler)."""
        return None

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """Tornado's, without its SimpleCookie: building a Morsel (and quoting) per cookie per request showed on
        the hot paths; parse_cookie is what Tornado parses with, so the values are the same."""
        cookies = self.__dict__.get("_plain_cookies")
        if cookies is None:
            cookies = self._plain_cookies = parse_cookie(self.request.headers.get("Cookie", ""))
        return cookies.get(name, default)

    def get_current_user(self) -> sessions.Session | None:
        if self.session is not None and not self.session.is_guest:
            return self.session
        return None

    @property
    def user_id(self) -> int:
        return self.current_user.user_id if self.current_user else 0

    def set_session_cookie(self, session: sessions.Session | None) -> None:
        if session is None:
            self.clear_cookie(sessions.COOKIE_NAME)
        else:
            days = self.cfg.cart.guest_ttl_days if session.is_guest else self.cfg.accounts.session_ttl_days
            self.set_signed_cookie(
                sessions.COOKIE_NAME, sessions.encode_cookie(session), expires_days=days,
                httponly=True, samesite="Lax", secure=self.cfg.web.secure_cookies,
            )
        self.session = session

    async def ensure_session(self) -> sessions.Session:
        """Return the visitor's session, starting a guest one when there is none."""
        if self.session is None:
            session = await sessions.create_session(
                self.redis, user_id=0, username="", is_staff=False, ttl=self.cfg.cart.guest_ttl_days * 86400
            )
            self.set_session_cookie(session)
        return self.session

    # --- input -------------------------------------------------------------------------------------------

    def arg(self, name: str, default: str = "") -> str:
        return self.get_argument(name, default, strip=True)

    def int_arg(self, name: str) -> int | None:
        """An integer argument, or None when missing or malformed."""
        value = self.get_argument(name, "", strip=True)
        if not value or len(value) > 18:
            return None
        try:
            return int(value)
        except ValueError:
            return None

    # --- output ------------------------------------------------------------------------------------------

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        template = self.application.jinja.get_template(template_name)
        namespace = dict(
            handler=self,
            request=self.request,
            current_user=self.current_user,
            session=self.session,
            reverse_url=self.reverse_url,
            static_url=self.static_url,
            xsrf_form_html=self.xsrf_form_html,
            xsrf_token=self.xsrf_token.decode(),
            cart_count=0,
        )
        namespace.update(kwargs)
        return template.render(**namespace).encode("utf-8")

    async def render(self, template_name: str, **kwargs: Any) -> None:
        """Render a page with the header's per-visitor data (the cart count) and finish."""
        if "cart_count" not in kwargs:
            kwargs["cart_count"] = await self.header_cart_count()
        self.finish(self.render_string(template_name, **kwargs))

    async def header_cart_count(self) -> int:
        total = 0
        for counter in self.application.hook("cart_count"):
            total += await counter(self.redis, self.session)
        return total

    def reply(self, res: int, message: str = "", *, http_status: int = 200, **extra: Any) -> None:
        """Finish with the original's JSON shape {"res", "message"|"errmsg", ...} and a real HTTP status."""
        self.set_status(http_status)
        body = {"res": res}
        if message:
            body["message" if http_status < 400 else "errmsg"] = message
        body.update(extra)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json_encode(body))

    def redirect_to_next(self, default: str = "/") -> None:
        """Redirect to `next` when it is a path on this site, else to `default` (the open-redirect guard)."""
        target = self.get_argument("next", "", strip=True)
        self.redirect(target if is_safe_next(target) else default)

    # --- errors ------------------------------------------------------------------------------------------

    def wants_json(self) -> bool:
        return (
            self.ajax
            or self.request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or "application/json" in self.request.headers.get("Accept", "")
        )

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, DomainError):
            log.info("%s %s: %s", self.request_id, type(value).__name__, value.message)
        elif _is_unavailable(value):
            log.warning("%s service unavailable: %r", self.request_id, value)
        else:
            super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DomainError):
            status_code = exc.status
        elif _is_unavailable(exc):
            status_code = 503
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        extra: dict = {}
        if isinstance(exc, DomainError):
            res, message, extra = exc.res, exc.message, exc.extra
        else:
            res = 0
            message = STATUS_MESSAGES.get(status_code, "服务器开小差了，请稍后再试")
            if isinstance(exc, tornado.web.HTTPError) and "xsrf" in (exc.log_message or ""):
                message = "页面已过期（XSRF 校验失败），请刷新后重试"
        if self.wants_json():
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json_encode({"res": res, "errmsg": message, **extra}))
            return
        try:
            self.finish(self.render_string("error.html", status_code=status_code, message=message))
        except Exception:
            log.exception("%s error page failed to render", self.request_id)
            self.finish(f"{status_code}: {message}")


def _is_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, (db.DatabaseUnavailable, redis.exceptions.ConnectionError,
                            redis.exceptions.TimeoutError)) or (exc is not None and db.is_connection_lost(exc))


def login_required(method: Callable) -> Callable:
    """Pages redirect anonymous visitors to the login page (back here after); AJAX and POSTs get 401."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args, **kwargs):
        if not self.current_user:
            if self.request.method in ("GET", "HEAD") and not self.wants_json():
                self.redirect(f"{self.get_login_url()}?next={tornado.escape.url_escape(self.request.uri)}")
                return None
            raise NotLoggedIn()
        result = method(self, *args, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return wrapper


def staff_required(method: Callable) -> Callable:
    """Staff only; everyone else is sent to log in or refused with 403."""

    @functools.wraps(method)
    @login_required
    async def wrapper(self: BaseHandler, *args, **kwargs):
        if not self.current_user.is_staff:
            raise Forbidden("仅限管理员访问")
        result = method(self, *args, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return wrapper


class NotFoundHandler(BaseHandler):
    async def prepare(self) -> None:
        await super().prepare()
        raise NotFound("您访问的页面不存在")


class HealthHandler(BaseHandler):
    """Liveness: MariaDB and Redis each answer a trivial command within a second."""

    load_session = False
    ajax = True

    async def get(self) -> None:
        state = {}
        state["mariadb"] = await _probe(db.fetchone(self.db, "SELECT 1 AS ok"))
        state["redis"] = await _probe(self.redis.ping())
        ok = all(v == "ok" for v in state.values())
        self.set_status(200 if ok else 503)
        self.finish({"status": "ok" if ok else "degraded", **state})


async def _probe(awaitable: Awaitable) -> str:
    started = time.monotonic()
    try:
        await asyncio.wait_for(awaitable, 1.0)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    metrics.PROBE_SECONDS.observe(time.monotonic() - started)
    return "ok"


class MetricsHandler(BaseHandler):
    load_session = False

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(metrics.render())


def media_path(cfg: Settings) -> Path:
    return cfg.var_path / "media"
