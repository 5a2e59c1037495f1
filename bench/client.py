"""A small HTTP client for the bench: one kept-alive connection and cookie jar per shopper, `_xsrf` on POSTs,
bounded timeouts.

Browsers keep their connection to the shop open between requests, and so does wrk; a client that connected anew
for every order would make the shop (and the client) pay a TCP handshake, an accept and a teardown per request,
which is not what the scenarios measure. Tornado accepts an unversioned hex `_xsrf` cookie equal to the form
field, which is what wrk replays too."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from tornado.httputil import HTTPHeaders


@dataclass
class Response:
    code: int
    headers: HTTPHeaders
    body: bytes


class KeepAlive:
    """One HTTP/1.1 connection, reused request after request (reopened when the server closes it, after an error,
    or when it belongs to an event loop that has ended)."""

    def __init__(self, base_url: str):
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.host_header = url.netloc
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.loop = None

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.transport.abort()
            except RuntimeError:  # its loop has ended
                pass
        self.reader = self.writer = None

    async def exchange(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Response:
        if self.writer is None or self.loop is not asyncio.get_running_loop() or self.writer.is_closing():
            self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.loop = asyncio.get_running_loop()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
        status_line = await self.reader.readuntil(b"\r\n")
        code = int(status_line.split(b" ", 2)[1])
        raw = await self.reader.readuntil(b"\r\n\r\n")
        response_headers = HTTPHeaders.parse(raw.decode("latin-1"))
        if response_headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            content = b"".join(c[:-2] for c in chunks)
        elif method == "HEAD" or code in (204, 304):
            content = b""
        else:
            content = await self.reader.readexactly(int(response_headers.get("Content-Length", "0")))
        if response_headers.get("Connection", "").lower() == "close":
            self.close()
        return Response(code, response_headers, content)


class Shopper:
    def __init__(self, base_url: str):
        self.xsrf = secrets.token_hex(16)
        self.cookies: dict[str, str] = {"_xsrf": self.xsrf}
        self.base_url = base_url

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        # The runner moves shoppers to the next shop process (another port): a new connection goes with it.
        if getattr(self, "http", None) is not None:
            self.http.close()
        self._base_url = value
        self.http = KeepAlive(value)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def form(self, data: dict | list) -> str:
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        return urlencode(pairs + [("_xsrf", self.xsrf)], doseq=True)

    async def request(self, method: str, path: str, data=None, *, timeout: float = 30.0) -> Response:
        headers = {"Cookie": self.cookie_header, "X-Requested-With": "XMLHttpRequest"}
        body = None
        if method == "POST":
            body = self.form(data or {}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = await asyncio.wait_for(self.http.exchange(method, path, headers, body), timeout)
        except BaseException:
            self.http.close()  # a half-read reply must not be read as the next one's
            raise
        for header in response.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or "1970" in (morsel["expires"] or ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    async def post(self, path: str, data=None, **kw) -> Response:
        return await self.request("POST", path, data, **kw)

    async def get(self, path: str, **kw) -> Response:
        return await self.request("GET", path, **kw)

    async def login(self, username: str, password: str) -> None:
        for attempt in range(20):
            response = await self.post("/user/login", {"username": username, "pwd": password})
            if response.code != 503:
                break
            # The shop's password-hash queue is full (50 shoppers log in at once): come back, as a person would.
            await asyncio.sleep(0.05 * (attempt + 1))
        if response.code != 302 or "sid" not in self.cookies:
            raise RuntimeError(f"login of {username} failed: {response.code} {response.body[:200]!r}")


async def timed(coro) -> tuple[float, object]:
    started = time.perf_counter()
    result = await coro
    return time.perf_counter() - started, result
