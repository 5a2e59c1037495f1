"""Test helpers: an HTTP client with a cookie jar and `_xsrf` handling, an app served on a free port, users."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import time
from datetime import UTC
from email import message_from_bytes
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from fresh import db
from fresh.accounts import users
from fresh.background import BackgroundTasks
from fresh.web import Application

DEFAULT_PASSWORD = "password123"


def free_ports(n: int) -> list[int]:
    """`n` different ports of 127.0.0.1 nobody listens on now: for child processes to listen on, or as addresses
    where nothing answers (all bound at once, so they differ, then released)."""
    sockets = [bind_unused_port() for _ in range(n)]
    for sock, _ in sockets:
        sock.close()
    return [port for _, port in sockets]


def free_port() -> int:
    return free_ports(1)[0]


def end_process(proc: subprocess.Popen | None, grace: float) -> None:
    """Stop a server this test started: SIGTERM, up to `grace` seconds to shut down cleanly, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class AppServer:
    """A Tornado application served in this process on a free port of 127.0.0.1: the one way tests serve an app.

    The port is taken when the object is made, so settings that name it (`web.base_url`) can be built before the
    application. `serve()` starts answering (and starts the background work it is given); `close()` stops listening,
    closes the open connections, stops that background work and, unless the app was served with `owned=False`
    (a second server in front of the session's app), closes the app's websockets and what a shop application
    opened itself (never the pool or the Redis client: those are the caller's). Usable as `async with`."""

    def __init__(self):
        self.socket, self.port = bind_unused_port()
        self.app = None
        self.server: HTTPServer | None = None
        self.tasks: BackgroundTasks | None = None
        self.owned = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, app, *, background=(), owned: bool = True, backlog: int | None = None,
              **server_options) -> AppServer:
        self.app, self.owned = app, owned
        self.server = HTTPServer(app, **server_options)
        if backlog is not None:
            self.socket.listen(backlog)  # bind_unused_port listens with Tornado's default of 128
        self.server.add_sockets([self.socket])
        if background:
            self.tasks = BackgroundTasks(app, background)
            self.tasks.start()
        return self

    async def close(self) -> None:
        if self.server is None:
            self.socket.close()
            return
        self.server.stop()
        shop = self.owned and isinstance(self.app, Application)
        if shop:
            self.app.live.close_all()
        if self.tasks is not None:
            await self.tasks.stop()
        await asyncio.wait_for(self.server.close_all_connections(), 10)
        if shop:
            self.app.close()
        self.server = None

    async def __aenter__(self) -> AppServer:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class Response:
    def __init__(self, raw: HTTPResponse):
        self.raw = raw
        self.code = raw.code
        self.headers = raw.headers
        self.body = raw.body or b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.text[:200]!r}>"


class Client:
    """One browser: keeps cookies, sends the `_xsrf` token with POSTs (Tornado accepts a client-chosen token
    as long as the cookie and the field match, which is what a browser with the page's cookie does)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.xsrf = secrets.token_hex(16)
        self.cookies: dict[str, str] = {"_xsrf": self.xsrf}
        self.http = AsyncHTTPClient()

    async def request(self, method: str, path: str, data=None, *, ajax: bool = False, xsrf: bool = True,
                      headers: dict | None = None, body: bytes | str | None = None, follow: bool = False,
                      ) -> Response:
        hdrs = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if ajax:
            hdrs["X-Requested-With"] = "XMLHttpRequest"
        if method in ("POST", "PUT", "DELETE") and body is None:
            pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
            if xsrf:
                pairs.append(("_xsrf", self.xsrf))
            body = urlencode(pairs, doseq=True)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        hdrs.update(headers or {})
        raw = await self.http.fetch(
            self.base_url + path, method=method, body=body, headers=hdrs, follow_redirects=False,
            raise_error=False, request_timeout=60, allow_nonstandard_methods=True,
        )
        self._store_cookies(raw)
        response = Response(raw)
        if follow and response.code in (301, 302, 303, 307) and response.location:
            location = response.location
            if location.startswith(self.base_url):
                location = location[len(self.base_url):]
            return await self.request("GET", location, ajax=ajax, follow=True)
        return response

    def _store_cookies(self, raw: HTTPResponse) -> None:
        for header in raw.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]) or (
                    morsel["expires"] and _in_past(morsel["expires"])
                ):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def get(self, path: str, **kw) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, data=None, **kw) -> Response:
        return await self.request("POST", path, data, **kw)

    async def login(self, username: str, password: str = DEFAULT_PASSWORD) -> Response:
        response = await self.post("/user/login", {"username": username, "pwd": password})
        assert response.code == 302, response
        return response


def _in_past(expires: str) -> bool:
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(expires) < datetime.now(UTC)
    except (TypeError, ValueError):
        return False


async def create_user(pool, settings, username: str = "alice_01", *, password: str = DEFAULT_PASSWORD,
                      email: str | None = None, active: bool = True, staff: bool = False) -> int:
    return await users.register_user(pool, settings.accounts, username=username, password=password,
                                     email=email or f"{username}@example.com", is_active=active, is_staff=staff)


async def add_address(pool, user_id: int, *, default: bool = True, receiver: str = "张三") -> int:
    from fresh.accounts import addresses

    return await addresses.add_address(pool, user_id=user_id, make_default=default, fields={
        "receiver": receiver, "addr": "北京市海淀区中关村大街1号", "zip_code": "100080", "phone": "13800138000"})


def outbox_messages(settings) -> list:
    folder = Path(settings.var_path) / "outbox"
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))] if folder.is_dir() else []


def activation_path(message) -> str:
    body = message.get_payload(decode=True).decode("utf-8")
    match = re.search(r"https?://[^/\s]+(/user/active/\S+)", body)
    assert match, body
    return match.group(1)


def process_env(settings, *, base_url: str = "") -> dict:
    """The environment for a child process of the shop (app.py, python -m fresh ...) with the test settings as
    FRESH_* variables: the test database and Redis database, the session's sandbox gateway and keys."""
    env = dict(os.environ)
    env.update(
        FRESH_CONFIG="/nonexistent", FRESH_MODE="test", FRESH_VAR_DIR=str(settings.var_path),
        FRESH_WEB_COOKIE_SECRET=settings.web.cookie_secret, FRESH_WEB_BASE_URL=base_url or settings.web.base_url,
        FRESH_DB_NAME=settings.db.name, FRESH_REDIS_URL=settings.redis.url,
        FRESH_ALIPAY_GATEWAY=settings.alipay.gateway, FRESH_ALIPAY_APP_PRIVATE_KEY=settings.alipay.app_private_key,
        FRESH_ALIPAY_ALIPAY_PUBLIC_KEY=settings.alipay.alipay_public_key,
        # Background tasks run often, so a served process is busy with them when a signal comes.
        FRESH_ORDERS_EXPIRY_INTERVAL="1", FRESH_ALIPAY_WATCH_INTERVAL="0.2",
    )
    return env


async def wait_until(predicate, timeout: float = 15.0) -> None:
    """Poll `predicate` (a coroutine function) until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def count(pool, table: str, where: str = "1", args=()) -> int:
    row = await db.fetchone(pool, f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", args)  # noqa: S608 -- the test's own SQL
    return row["n"]
