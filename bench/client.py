"""A small HTTP client for the bench: one cookie jar per shopper, `_xsrf` on POSTs, bounded timeouts.

Tornado accepts an unversioned hex `_xsrf` cookie equal to the form field, which is what wrk replays too."""

from __future__ import annotations

import secrets
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPResponse

AsyncHTTPClient.configure(None, max_clients=1000)


class Shopper:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.xsrf = secrets.token_hex(16)
        self.cookies: dict[str, str] = {"_xsrf": self.xsrf}
        self.http = AsyncHTTPClient()

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def form(self, data: dict | list) -> str:
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        return urlencode(pairs + [("_xsrf", self.xsrf)], doseq=True)

    async def request(self, method: str, path: str, data=None, *, timeout: float = 30.0) -> HTTPResponse:
        headers = {"Cookie": self.cookie_header, "X-Requested-With": "XMLHttpRequest"}
        body = None
        if method == "POST":
            body = self.form(data or {})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await self.http.fetch(self.base_url + path, method=method, body=body, headers=headers,
                                         follow_redirects=False, raise_error=False, request_timeout=timeout)
        for header in response.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or "1970" in (morsel["expires"] or ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    async def post(self, path: str, data=None, **kw) -> HTTPResponse:
        return await self.request("POST", path, data, **kw)

    async def get(self, path: str, **kw) -> HTTPResponse:
        return await self.request("GET", path, **kw)

    async def login(self, username: str, password: str) -> None:
        response = await self.post("/user/login", {"username": username, "pwd": password})
        if response.code != 302 or "sid" not in self.cookies:
            raise RuntimeError(f"login of {username} failed: {response.code} {response.body[:200]!r}")


async def timed(coro) -> tuple[float, object]:
    started = time.perf_counter()
    result = await coro
    return time.perf_counter() - started, result
