"""Payments fixtures: dev keys in a tmp dir, the sandbox gateway on a free port, a notify receiver, the client."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from pathlib import Path

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from fresh.keys import ensure_dev_keys
from fresh.payments.alipay import AlipayClient, form_from_arguments
from fresh.payments.sandbox import make_sandbox_app
from fresh.settings import AlipaySettings, SandboxSettings


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    ensure_dev_keys(folder)
    return folder


def sandbox_settings(keys: Path, port: int, **overrides) -> SandboxSettings:
    return SandboxSettings(port=port, public_url=f"http://127.0.0.1:{port}",
                           private_key=str(keys / "sandbox_private.pem"),
                           app_public_key=str(keys / "app_public.pem"),
                           notify_schedule="0.05,0.05,0.05,0.05", **overrides)


def alipay_settings(keys: Path, gateway: str, **overrides) -> AlipaySettings:
    values = dict(gateway=gateway, app_private_key=str(keys / "app_private.pem"),
                  alipay_public_key=str(keys / "sandbox_public.pem"), timeout=5.0)
    values.update(overrides)
    return AlipaySettings(**values)


async def serve(app) -> tuple[HTTPServer, int]:
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    return server, port


@pytest.fixture
async def sandbox(keys_dir):
    sock, port = bind_unused_port()
    app = make_sandbox_app(sandbox_settings(keys_dir, port))
    server = HTTPServer(app)
    server.add_sockets([sock])
    app.port = port
    app.gateway = f"http://127.0.0.1:{port}/gateway.do"
    yield app
    app.cancel_notifies()
    server.stop()
    await server.close_all_connections()


@pytest.fixture
def alipay(keys_dir, sandbox) -> AlipayClient:
    return AlipayClient(alipay_settings(keys_dir, sandbox.gateway), "http://127.0.0.1")


class NotifyHandler(tornado.web.RequestHandler):
    def post(self) -> None:
        rec = self.application.receiver
        form = form_from_arguments(self.request.body_arguments)
        rec.notifies.append({"form": form, "content_type": self.request.headers.get("Content-Type", "")})
        self.write(rec.answers.popleft() if rec.answers else "success")


class ReturnHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("shop return page")


class Receiver:
    """The shop's side of the notify: records every delivery and answers the queued bodies, then `success`."""

    def __init__(self):
        self.notifies: list[dict] = []
        self.answers: deque[str] = deque()
        self.url = ""
        self.return_url = ""

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.notifies) < count:
            assert time.monotonic() < deadline, f"expected {count} notifies, got {len(self.notifies)}"
            await asyncio.sleep(0.02)
        return self.notifies


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = tornado.web.Application([(r"/notify", NotifyHandler), (r"/return", ReturnHandler)])
    app.receiver = rec
    server, port = await serve(app)
    rec.url = f"http://127.0.0.1:{port}/notify"
    rec.return_url = f"http://127.0.0.1:{port}/return?from=alipay"
    yield rec
    server.stop()
    await server.close_all_connections()


class Buyer:
    """A browser on the sandbox cashier."""

    def __init__(self):
        self.http = AsyncHTTPClient()

    async def open(self, url: str):
        return await self.http.fetch(url, raise_error=False)

    async def confirm(self, cashier_page, *, token: str | None = None):
        html = cashier_page.body.decode()
        action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
        if token is None:
            token = re.search(r'name="token" value="([^"]+)"', html).group(1)
        base = cashier_page.effective_url.split("/gateway.do")[0]
        request = HTTPRequest(base + action, method="POST", body=f"token={token}", follow_redirects=False)
        return await self.http.fetch(request, raise_error=False)


@pytest.fixture
def buyer() -> Buyer:
    return Buyer()
