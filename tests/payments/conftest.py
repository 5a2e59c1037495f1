"""Payments fixtures: the Alipay client of the sandbox, a notify receiver, a browser on the cashier (the keys, the
sandbox and the paying shop are in tests/fixtures/payments.py)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path

import pytest
import tornado.web

from fresh.payments.alipay import AlipayClient, form_from_arguments
from fresh.settings import AlipaySettings
from tests.fixtures.payments import Buyer
from tests.helpers import AppServer


def alipay_settings(keys: Path, gateway: str, **overrides) -> AlipaySettings:
    values = dict(gateway=gateway, app_private_key=str(keys / "app_private.pem"),
                  alipay_public_key=str(keys / "sandbox_public.pem"), timeout=5.0)
    values.update(overrides)
    return AlipaySettings(**values)


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
    async with AppServer() as server:
        server.serve(app)
        rec.url = f"{server.url}/notify"
        rec.return_url = f"{server.url}/return?from=alipay"
        yield rec


@pytest.fixture
def buyer() -> Buyer:
    return Buyer()
