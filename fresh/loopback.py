"""Requests the process makes to its own Tornado application, without a socket (the static index's render).

Below the web layer (it needs only tornado.httputil), so a domain's background work can use it without importing
fresh.web.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tornado import httputil


class _CapturedResponse(httputil.HTTPConnection):
    """The connection of a request the process makes to itself (fetch_internal): keeps what the handler writes."""

    def __init__(self) -> None:
        self.code = 0
        self.headers = httputil.HTTPHeaders()
        self.chunks: list[bytes] = []
        self.done = asyncio.get_running_loop().create_future()

    def set_close_callback(self, callback) -> None:
        pass

    def write_headers(self, start_line, headers, chunk=None):
        self.code, self.headers = start_line.code, headers
        return self.write(chunk or b"")

    def write(self, chunk: bytes):
        self.chunks.append(chunk)
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def fetch_internal(app: Callable[[httputil.HTTPServerRequest], Any], uri: str, *, request_id: str,
                         timeout: float = 10.0) -> tuple[int, bytes]:
    """GET `uri` from the Tornado application `app` without a socket, as a visitor without cookies: (status, body).

    The page is exactly the one such a visitor gets (same handler, templates and caches); the access log shows
    it under `request_id`."""
    connection = _CapturedResponse()
    request = httputil.HTTPServerRequest(
        start_line=httputil.RequestStartLine("GET", uri, "HTTP/1.1"), connection=connection,
        headers=httputil.HTTPHeaders({"Host": "localhost", "X-Request-Id": request_id}),
    )
    app(request)
    await asyncio.wait_for(asyncio.shield(connection.done), timeout)
    return connection.code, b"".join(connection.chunks)
