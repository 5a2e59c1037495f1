"""make_app() and BaseHandler: sessions, current user, rendering, JSON replies and the one error path."""

from __future__ import annotations

import asyncio
import datetime
import enum
import functools
import ipaddress
import itertools
import logging
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import jinja2
import redis.exceptions
import tornado.web
import tornado.websocket
from tornado import httputil
from tornado.escape import json_encode
from tornado.httputil import parse_cookie

from fresh import db, live, logs, metrics, packages, proxy, replica, sessions
from fresh.errors import DomainError, Forbidden, NotFound, NotLoggedIn
from fresh.hashgate import HashGate
from fresh.hooks import Background, Hooks, Redirect
from fresh.redis_client import create_lane
from fresh.settings import ROOT, Settings, allowed_networks

log = logging.getLogger("fresh.web")
access_log = logging.getLogger("fresh.access")

# Domain packages in dependency order (DESIGN.md section 2); what each may expose: fresh/packages.py.
PACKAGES = packages.PACKAGES

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
class WebRes(enum.IntEnum):
    """res codes of the web layer itself, negative so they never collide with a domain's codes (static/js/common.js
    uses -1 for a failed fetch)."""

    NETWORK = -1
    # A missing or stale `_xsrf`: res 0 would read as "not logged in" to the pages' scripts.
    STALE_PAGE = -2


XSRF_RES = WebRes.STALE_PAGE
XSRF_MESSAGE = "页面已过期，请刷新后重试"


class StaleForm(Forbidden):
    """A form or AJAX call sent from a page whose `_xsrf` no longer matches the cookie (expired, cleared or
    replaced). Raised at the end of BaseHandler.prepare(), once the visitor is known."""

    res = XSRF_RES
    message = XSRF_MESSAGE

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
    """The Tornado application, holding the settings, the pool, the read pool, the Redis client, the hooks, the
    live-status broadcaster and the list of the process's background work (a fresh.hooks.Context)."""

    def __init__(self, cfg: Settings, *, pool, redis, routes, hooks: Hooks, background: list[Background],
                 reads=None, **tornado_settings):
        self.cfg = cfg
        self.db = pool
        # Reads that may lag (catalog pages, search, reports): the replica's when db.replica names one
        # (fresh.replica), else the primary's pool itself.
        self.reads = pool if reads is None else reads
        self.redis = redis
        # The hottest Redis commands (the cart's add) share one pipelined connection (fresh.redis_client.Lane), or
        # go through `redis` itself when redis.lane is off.
        self.redis_lane = create_lane(cfg.redis, redis)
        self.hooks = hooks
        # This process's order-status websockets; its pub/sub listener is the first background task.
        self.live = live.Broadcaster(redis)
        # Started and stopped by whoever serves the app (app.py's main(), test fixtures): fresh.background.
        self.background: list[Background] = [listen_live, *background]
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
        # True once the process has begun to drain on SIGTERM: /readyz answers 503 so the balancer stops sending
        # new requests here while the ones in flight finish.
        self.draining = False
        self.metrics_allow = allowed_networks(cfg.metrics.allow)
        self.trusted_proxies = proxy.parse_trusted(cfg.web.trusted_proxies) if cfg.web.xheaders else frozenset()
        # Requests being answered (websockets aside) and open websockets, for the drain (fresh.drain).
        self.in_flight: weakref.WeakSet[BaseHandler] = weakref.WeakSet()
        self.websockets: weakref.WeakSet[tornado.websocket.WebSocketHandler] = weakref.WeakSet()
        self.last_request_at = 0.0
        # The monotonic clock of the drain's quiet period and deadline (tests put one they move in its place).
        self.clock: Callable[[], float] = time.monotonic
        self.jinja.globals["current_year"] = lambda: datetime.date.today().year
        super().__init__(routes, **tornado_settings)
        self.route_names = _route_names(self)

    def render_shared(self, template_name: str, /, **context: Any) -> str:
        """Render a page served to many visitors (fresh.catalog.pages): its templates get URLs and what the caller
        passes, never a handler, request, session or token, so nothing of the visitor who caused the render stays
        in it."""
        static = self.settings["static_handler_class"]
        return self.jinja.get_template(template_name).render(
            reverse_url=self.reverse_url, static_url=lambda path: static.make_static_url(self.settings, path),
            **context)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        delegate = RequestGuard(self.cfg, super().start_request(server_conn, request_conn), request_conn)
        if self.trusted_proxies:
            # Outermost: the guard and the handlers see the visitor's address and scheme.
            delegate = proxy.TrustedProxyHeaders(delegate, request_conn, self.trusted_proxies)
        return delegate

    def close(self) -> None:
        """Drop what the application opened itself (the pools and the Redis client are the caller's)."""
        if self.redis_lane is not self.redis:
            self.redis_lane.close()
        self.hash_gate.close()


def server_options(cfg: Settings) -> dict:
    """HTTPServer keyword arguments: body and head limits, and how long idle or slow connections are kept."""
    return dict(
        # No xheaders here: Tornado's would believe X-Real-IP from anyone; the application reads them from
        # web.trusted_proxies only (Application.start_request, fresh.proxy).
        max_body_size=max(cfg.web.max_body_size, cfg.web.max_upload_size),
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
        method = getattr(start_line, "method", "")
        method = method if method in _METHODS else "other"
        metrics.HTTP_REQUESTS.labels("refused", method, str(status)).inc()
        access_log.info("%d %s (refused before routing)", status, method,
                        extra={"status": status, "method": method})
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
    limit = cfg.web.max_upload_size if target.startswith("/admin/") else cfg.web.max_body_size
    if length is not None and length.strip().isdigit() and int(length) > limit:
        return 413
    raw_path = unquote_to_bytes(target.split("?", 1)[0])
    try:
        path = raw_path.decode("utf-8")
    except UnicodeDecodeError:
        return 400
    if any(c < " " or c == "\x7f" for c in path):
        return 400
    return None


async def listen_live(app: Application) -> None:
    """Background task: the process's one pub/sub listener feeding its order-status websockets."""
    await app.live.run()


def make_app(cfg: Settings, *, pool, redis, reads=None) -> Application:
    """Build the application from the packages' ROUTES, HOOKS and BACKGROUND (fresh/packages.py); does no I/O.

    `reads` is the read pool (fresh.replica.open_reads); None: the primary's `pool` serves every read."""
    parts = packages.collect()
    routes: list = [
        tornado.web.url(r"/healthz", HealthHandler, name="healthz"),
        tornado.web.url(r"/readyz", ReadyHandler, name="readyz"),
        tornado.web.url(r"/metrics", MetricsHandler, name="metrics"),
        tornado.web.url(r"/media/(.*)", StaticHandler, {"path": str(cfg.var_path / "media")},
                        name="media"),
        *(tornado.web.url(r.pattern, RedirectHandler, {"url": r.url}) if isinstance(r, Redirect) else r
          for r in parts.routes),
    ]
    logs.install()
    metrics.set_build_info()
    return Application(
        cfg,
        pool=pool,
        reads=reads,
        redis=redis,
        routes=routes,
        hooks=parts.hooks,
        background=[*parts.background, *replica.background(reads)],
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


def _route_names(app: Application) -> dict[type, str]:
    """Handler class -> the route name its url() gave it: the `route` of the metrics and the log lines. A class
    serving several routes under different names (StaticFileHandler) is labelled with its class name."""
    names: dict[type, set] = {}
    for rule in app.wildcard_router.rules:
        if isinstance(rule.target, type):
            names.setdefault(rule.target, set()).add(rule.name)
    labels = {cls: next(iter(n)) if len(n) == 1 and None not in n else cls.__name__ for cls, n in names.items()}
    labels[NotFoundHandler] = "not_found"
    return labels


def route_name(handler: tornado.web.RequestHandler) -> str:
    cls = type(handler)
    return handler.application.route_names.get(cls, cls.__name__)


# Method labels come from the request line: anything unusual is counted as "other", so a client cannot make series.
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))
# (handler class, method, status) -> the label children of the request counter and histogram: labels() takes a
# lock and builds a key per call, which showed on the hot paths.
_REQUEST_SERIES: dict[tuple, tuple] = {}


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Count and time every answered request, and write its access line (path only: a query string may carry a
    signature or a token)."""
    status = handler.get_status()
    request = handler.request
    seconds = request.request_time()
    method = request.method if request.method in _METHODS else "other"
    key = (type(handler), method, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        labels = (route_name(handler), method, str(status))
        series = _REQUEST_SERIES[key] = (metrics.HTTP_REQUESTS.labels(*labels), metrics.HTTP_LATENCY.labels(*labels))
    series[0].inc()
    series[1].observe(seconds)
    level = logging.INFO if status < 500 else logging.ERROR
    if not access_log.isEnabledFor(level):
        return
    path = request.path if not getattr(handler, "secret_path", False) else f"<{route_name(handler)}>"
    ms = round(1000.0 * seconds, 1)
    # makeRecord + handle instead of log(): the same line without logging's caller lookup (a stack walk per
    # request, measurable on the hot paths).
    access_log.handle(access_log.makeRecord(
        access_log.name, level, __file__, 0, "%d %s %s %.1fms", (status, method, path, ms), None,
        extra={"status": status, "method": method, "path": path, "duration_ms": ms},
    ))


# Request ids only need to be unique, not unguessable: a random prefix per process and a counter (the system
# random source per request showed in the profiles of the hot paths).
_REQUEST_PREFIX = secrets.token_hex(4)
_REQUEST_COUNTER = itertools.count(1)
# What an incoming X-Request-Id may be (nginx's $request_id is 32 hex digits): anything else would let a client
# write into our log lines, so it is replaced by our own id.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def new_request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_REQUEST_COUNTER):08x}"


def secure_cookies(cfg: Settings) -> bool:
    """Cookies are Secure when configured, and always in production (BaseHandler.set_cookie also makes them Secure
    for a request that came over https through a trusted proxy)."""
    return cfg.web.secure_cookies or cfg.production


def request_id_of(request) -> str:
    """The caller's X-Request-Id when it is a plain token, else a new id."""
    given = request.headers.get("X-Request-Id", "")
    return given if _REQUEST_ID_RE.fullmatch(given) else new_request_id()


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

    # The `res` code this request answered with (reply() or a DomainError), for metrics; None when it had none.
    answered_res: int | None = None
    # True where the path itself is a secret (an activation token): the access line names the route instead.
    secret_path = False

    def initialize(self) -> None:
        self.session: sessions.Session | None = None
        self.stale_form = False
        self.request_id = request_id_of(self.request)
        self.log_context = logs.LogContext(self.request_id, route_name(self))
        if not isinstance(self, tornado.websocket.WebSocketHandler):
            self.application.in_flight.add(self)
            self.application.last_request_at = self.application.clock()

    def on_finish(self) -> None:
        self.application.in_flight.discard(self)

    async def _execute(self, transforms, *args: bytes, **kwargs: bytes) -> None:
        # Tornado runs _execute as the request's own task: the log context bound here covers every line of the
        # request (the XSRF check, which runs before prepare(), included) and goes away with the task, so it never
        # leaks into the connection's next request.
        logs.bind(self.log_context)
        await super()._execute(transforms, *args, **kwargs)

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
        if secure_cookies(self.cfg) or self.request.protocol == "https":
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
    def reads(self):
        """The read pool, for reads that may lag (fresh.replica); never for a read that decides a write."""
        return self.application.reads

    @property
    def redis(self):
        return self.application.redis

    @property
    def redis_lane(self):
        return self.application.redis_lane

    def check_xsrf_cookie(self) -> None:
        """Tornado checks `_xsrf` before prepare(), i.e. before the visitor is known; the check is only noted here
        and enforced at the end of prepare(), so the stale-form answer shows the real visitor and can re-render
        the form with what was typed."""
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            self.stale_form = True

    async def prepare(self) -> None:
        self.set_header("X-Request-Id", self.request_id)
        await self.load_visitor()
        if self.stale_form:
            raise StaleForm()

    async def load_visitor(self) -> None:
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
        else:
            self.session = await sessions.load_session(self.redis_lane, claims)
            if self.session is None:
                # The session ended (logout, expiry, user deactivated): the visitor is anonymous now.
                self.clear_cookie(sessions.COOKIE_NAME)
        if self.session is not None and not self.session.is_guest:
            self.log_context.user_id = self.session.user_id

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
        count = self.application.hooks.cart_count
        return await count(self.redis, self.session) if count else 0

    def reply(self, res: int, message: str = "", *, http_status: int = 200, **extra: Any) -> None:
        """Finish with the original's JSON shape {"res", "message"|"errmsg", ...} and a real HTTP status."""
        self.set_status(http_status)
        self.answered_res = int(res)
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
        headers = self.request.headers
        if headers.get("X-Requested-With") == "XMLHttpRequest" or "application/json" in headers.get("Accept", ""):
            return True
        # An AJAX endpoint posted by a plain form (a browser without JavaScript) answers like a page.
        return self.ajax and not self.is_form_navigation()

    def is_form_navigation(self) -> bool:
        """A browser navigating here itself (a plain form or a link), not a script: it asks for HTML."""
        headers = self.request.headers
        return headers.get("X-Requested-With") != "XMLHttpRequest" and "text/html" in headers.get("Accept", "")

    def log_exception(self, typ, value, tb) -> None:
        # Tornado's own lines name the full URI (a query string may carry a signature or a token): path only here.
        # The request id comes with every line (fresh.logs).
        if isinstance(value, DomainError):
            log.info("%s: %s", type(value).__name__, value.message)
        elif _is_unavailable(value):
            if isinstance(value, REDIS_ERRORS):
                metrics.REDIS_ERRORS.labels("request").inc()
            log.warning("service unavailable in %s %s: %r", self.request.method, self.request.path, value)
        elif isinstance(value, tornado.web.HTTPError):
            if value.log_message:
                log.warning("%d %s %s: %s", value.status_code, self.request.method, self.request.path,
                            value.log_message % value.args if value.args else value.log_message)
        else:
            log.error("uncaught exception in %s %s", self.request.method, self.request.path,
                      exc_info=(typ, value, tb))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, DomainError):
            status_code = exc.status
        elif _is_unavailable(exc):
            status_code = 503
        if self._headers_written or self.wants_json() or status_code == 304 or self.request.method == "HEAD":
            super().send_error(status_code, **kwargs)
            return
        # The error page shows the visitor's header (name, cart count), which takes a Redis read: it is
        # rendered in a task that finishes the request (Tornado keeps the connection until finish()).
        self.clear()
        self.set_status(status_code)
        self._error_page = asyncio.ensure_future(self.send_error_page(status_code, exc))

    def error_message(self, status_code: int, exc: BaseException | None) -> tuple[int, str, dict]:
        """(res, message, extra fields) of an error reply; notes the res for metrics and sends Retry-After."""
        if isinstance(exc, DomainError):
            if "retry_after" in exc.extra:
                self.set_header("Retry-After", str(exc.extra["retry_after"]))
            if not isinstance(exc, StaleForm):  # metrics count a refused token as "error", as before prepare()
                self.answered_res = int(exc.res)
            return exc.res, exc.message, exc.extra
        if isinstance(exc, tornado.web.HTTPError) and "xsrf" in (exc.log_message or "").lower():
            return int(XSRF_RES), XSRF_MESSAGE, {}
        return 0, STATUS_MESSAGES.get(status_code, "服务器开小差了，请稍后再试"), {}

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        res, message, extra = self.error_message(status_code, kwargs.get("exc_info", (None, None, None))[1])
        if self.wants_json():
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json_encode({"res": res, "errmsg": message, **extra}))
            return
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(f"{status_code}: {message}")

    async def send_error_page(self, status_code: int, exc: BaseException | None) -> None:
        _, message, _ = self.error_message(status_code, exc)
        try:
            if isinstance(exc, StaleForm) and await self.render_stale_form(exc.message):
                return
            try:
                count = await asyncio.wait_for(self.header_cart_count(), 1.0)
            except Exception:  # the page that says the shop is unavailable must not wait on Redis
                count = 0
            self.finish(self.render_string("error.html", status_code=status_code, message=message,
                                           cart_count=count, stale=isinstance(exc, StaleForm),
                                           back=self.same_site_referer()))
        except Exception:
            log.exception("the error page failed to render")
            if not self._finished:
                self.finish(f"{status_code}: {message}")

    async def render_stale_form(self, message: str) -> bool:
        """Answer a stale form by showing it again with what was typed and `message`; False when this handler
        has no form of its own to show (the error page then says the same and links back)."""
        return False

    def same_site_referer(self) -> str:
        """The path of the page that sent this request when it is one of ours, else ""."""
        referer = urlsplit(self.request.headers.get("Referer", ""))
        if referer.netloc != self.request.host:
            return ""
        path = referer.path + (f"?{referer.query}" if referer.query else "")
        return path if is_safe_next(path) else ""


# ReadOnlyError: a write reached a replica (a primary demoted by a failover, while redis.url still names it).
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


def _is_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, (db.DatabaseUnavailable, *REDIS_ERRORS)) or (exc is not None and db.is_connection_lost(exc))


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
    """Liveness: the process answers. No I/O, so a MariaDB or Redis outage never gets every instance restarted;
    whether this instance can serve is /readyz's question."""

    load_session = False
    ajax = True

    def get(self) -> None:
        self.finish({"status": "ok"})


class ReadyHandler(BaseHandler):
    """Readiness: 200 while MariaDB (a pooled connection) and Redis each answer within a second and the process is
    not draining; 503 otherwise, so the balancer sends requests elsewhere."""

    load_session = False
    ajax = True

    async def get(self) -> None:
        if self.application.draining:
            self.set_status(503)
            self.finish({"status": "draining"})
            return
        mariadb, redis_state = await asyncio.gather(_probe(db.fetchone(self.db, "SELECT 1 AS ok")),
                                                    _probe(self.redis.ping(), source="readyz"))
        ok = mariadb == "ok" and redis_state == "ok"
        self.set_status(200 if ok else 503)
        self.finish({"status": "ok" if ok else "unavailable", "mariadb": mariadb, "redis": redis_state})


async def _probe(awaitable: Awaitable, *, source: str = "") -> str:
    try:
        await asyncio.wait_for(awaitable, 1.0)
    except Exception as exc:
        if source and isinstance(exc, REDIS_ERRORS):
            metrics.REDIS_ERRORS.labels(source).inc()
        return f"error: {type(exc).__name__}"
    return "ok"


def metrics_allowed(request, networks) -> bool:
    """/metrics is for direct connections from `metrics.allow`. nginx adds X-Real-IP and X-Forwarded-For to every
    request it relays, so their presence marks a request that came through the public server: refused. Without
    them Tornado's remote_ip is the TCP peer, even with xheaders on."""
    if "X-Forwarded-For" in request.headers or "X-Real-IP" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.remote_ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


class MetricsHandler(BaseHandler):
    """This process's Prometheus metrics (text format), for scrapers on the networks in `metrics.allow`."""

    load_session = False

    def get(self) -> None:
        if not metrics_allowed(self.request, self.application.metrics_allow):
            raise Forbidden("仅限内部监控直接访问")
        metrics.sample_pool(self.db)
        body, content_type = metrics.render()
        self.set_header("Content-Type", content_type)
        self.finish(body)


def media_path(cfg: Settings) -> Path:
    return cfg.var_path / "media"
