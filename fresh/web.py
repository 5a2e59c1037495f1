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
from urllib.parse import unquote_to_bytes, urlsplit

import jinja2
import redis.exceptions
import tornado.web
from tornado import httputil
from tornado.escape import json_encode
from tornado.httputil import parse_cookie

from fresh import db, metrics, sessions
from fresh.errors import DomainError, Forbidden, NotFound, NotLoggedIn
from fresh.hashgate import HashGate
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
    414: "请求地址过长",
    429: "操作过于频繁，请稍后再试",
    431: "请求头过大",
    503: "服务暂时不可用，请稍后再试",
}
# res of the JSON error for a missing or stale `_xsrf` (res 0 means "not logged in" to the pages' scripts).
XSRF_RES = 7
XSRF_MESSAGE = "页面已过期，请刷新后重试"

# Headers on every response of the app (nginx sets them too; the app must not depend on it).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}
# Tornado reads a request's head up to this many bytes; the app's own (smaller) limits answer 414 and 431 below
# it, a head larger still gets the connection closed.
HEAD_READ_LIMIT = 1024 * 1024


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
        self.hash_gate = HashGate(cfg.accounts.hash_concurrency, cfg.accounts.hash_queue)
        super().__init__(routes, **tornado_settings)

    def hook(self, name: str) -> list[Callable]:
        return self.hooks.get(name, [])

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return RequestGuard(self.cfg, super().start_request(server_conn, request_conn), request_conn)

    def close(self) -> None:
        """Drop what the application opened itself (the pool and the Redis client are the caller's)."""
        self.redis_lane.close()
        self.hash_gate.close()


def server_options(cfg: Settings) -> dict:
    """HTTPServer keyword arguments: body and head limits, and how long idle or slow connections are kept."""
    return dict(
        xheaders=cfg.web.xheaders,
        max_body_size=cfg.web.max_body_size,
        max_header_size=max(HEAD_READ_LIMIT, cfg.web.max_header_size + cfg.web.max_url_length),
        # Tornado applies this to each request's head too: a client trickling its headers is cut off after it.
        idle_connection_timeout=cfg.web.idle_connection_timeout,
        body_timeout=cfg.web.body_timeout,
    )


class RequestGuard(httputil.HTTPMessageDelegate):
    """Answers malformed requests before routing, from the request head alone: 414 for an over-long target, 431
    for over-large headers, 413 for a declared body over the limit (without reading it), 400 for a path with NUL,
    control characters or bytes that are not UTF-8 (which would otherwise reach the file system for /static and
    /media). Refused requests get a small JSON answer and the connection is closed."""

    def __init__(self, cfg: Settings, delegate: httputil.HTTPMessageDelegate, conn: httputil.HTTPConnection):
        self.cfg = cfg
        self.delegate = delegate
        self.conn = conn
        self.refused = False

    def headers_received(self, start_line, headers: httputil.HTTPHeaders):
        status = _refusal(self.cfg, start_line, headers)
        if status is None:
            return self.delegate.headers_received(start_line, headers)
        self.refused = True
        metrics.REQUESTS.inc(status="4xx")
        access_log.info("- %d %s (refused before routing)", status, getattr(start_line, "method", "-"))
        body = json_encode({"res": 0, "errmsg": STATUS_MESSAGES.get(status, "请求参数有误")}).encode()
        head = [f"HTTP/1.1 {status} {httputil.responses.get(status, 'Error')}",
                "Content-Type: application/json; charset=UTF-8", f"Content-Length: {len(body)}",
                "Connection: close", *(f"{k}: {v}" for k, v in SECURITY_HEADERS.items())]
        # Detached, the connection reads nothing more (an unread body stays unread) and closes once this is sent.
        stream = self.conn.detach()
        stream.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body).add_done_callback(
            lambda _: stream.close())
        return None

    def data_received(self, chunk: bytes):
        if not self.refused:
            return self.delegate.data_received(chunk)
        return None

    def finish(self) -> None:
        if not self.refused:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.delegate.on_connection_close()


def _refusal(cfg: Settings, start_line, headers: httputil.HTTPHeaders) -> int | None:
    """The status a request head must be refused with, or None."""
    target = start_line.path
    if len(target) > cfg.web.max_url_length:
        return 414
    if sum(len(k) + len(v) + 4 for k, v in headers.get_all()) > cfg.web.max_header_size:
        return 431
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > cfg.web.max_body_size:
        return 413
    raw_path = unquote_to_bytes(target.split("?", 1)[0])
    try:
        path = raw_path.decode("utf-8")
    except UnicodeDecodeError:
        return 400
    if any(c < " " or c == "\x7f" for c in path):
        return 400
    return None


def make_app(cfg: Settings, *, pool, redis) -> Application:
    """Build the application from the packages' ROUTES and HOOKS; does no I/O."""
    routes: list = [
        tornado.web.url(r"/healthz", HealthHandler, name="healthz"),
        tornado.web.url(r"/metrics", MetricsHandler, name="metrics"),
        tornado.web.url(r"/media/(.*)", StaticHandler, {"path": str(cfg.var_path / "media")},
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
        xsrf_cookie_kwargs={"httponly": False, "samesite": "Lax", "secure": secure_cookies(cfg)},
        login_url="/user/login",
        static_path=str(ROOT / "static"),
        static_url_prefix="/static/",
        static_handler_class=StaticHandler,
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


def secure_cookies(cfg: Settings) -> bool:
    """Cookies are Secure behind https, and always in production."""
    return cfg.web.secure_cookies or cfg.production


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

    def set_default_headers(self) -> None:
        # Also run by clear() when an error replaces a response, so error pages keep these headers.
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        if getattr(self, "session", None) is not None:
            self.set_header("Cache-Control", "no-store")

    def head(self, *args, **kwargs):
        """HEAD wherever GET works: the same handler, and Tornado sends the headers without the body."""
        if type(self).get is tornado.web.RequestHandler.get:
            raise tornado.web.HTTPError(405)
        return self.get(*args, **kwargs)

    def set_cookie(self, name: str, value: str | bytes, **kwargs: Any) -> None:
        """Every cookie of the shop (session, `_xsrf`, the remembered username, their deletions) is SameSite=Lax,
        and Secure when `secure_cookies()` says so."""
        kwargs.setdefault("samesite", "Lax")
        if secure_cookies(self.cfg):
            kwargs["secure"] = True
        super().set_cookie(name, value, **kwargs)

    @property
    def remote_ip(self) -> str:
        return self.request.remote_ip or "-"

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
        # A session means a personal page (a name, a cart): never kept by browsers or proxies.
        self.set_header("Cache-Control", "no-store")
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
                sessions.COOKIE_NAME, sessions.encode_cookie(session), expires_days=days, httponly=True,
            )
            self.set_header("Cache-Control", "no-store")
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
        # ASCII only: int() would also read full-width and other Unicode digits.
        if not value or len(value) > 18 or not value.isascii():
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
            if "retry_after" in extra:
                self.set_header("Retry-After", str(extra["retry_after"]))
        else:
            res = 0
            message = STATUS_MESSAGES.get(status_code, "服务器开小差了，请稍后再试")
            if isinstance(exc, tornado.web.HTTPError) and "xsrf" in (exc.log_message or "").lower():
                res, message = XSRF_RES, XSRF_MESSAGE
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


class RedirectHandler(tornado.web.RedirectHandler):
    """Tornado's fixed redirect, answering HEAD too and with the app's security headers."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def head(self, *args: Any) -> None:
        self.get(*args)


class StaticHandler(tornado.web.StaticFileHandler):
    """Static and media files with the app's security headers; a path the file system cannot take (NUL,
    undecodable bytes) is a 400, never a 500."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        if "\x00" in absolute_path:
            raise tornado.web.HTTPError(400)
        return super().validate_absolute_path(root, absolute_path)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(f"{status_code}: {STATUS_MESSAGES.get(status_code, '请求无效')}")


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
