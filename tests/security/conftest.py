"""Fixtures of the security suite: the session's app behind a second server that trusts X-Real-IP (so one test
can speak from many addresses), and servers with short connection timeouts."""

from __future__ import annotations

import dataclasses

import pytest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from fresh.web import server_options
from tests.helpers import Client


@pytest.fixture(scope="session")
async def proxied_url(app, settings):
    """The session's application on another port, trusting X-Real-IP as it does behind nginx."""
    sock, port = bind_unused_port()
    server = HTTPServer(app, **dict(server_options(settings), xheaders=True))
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{port}"
    server.stop()
    await server.close_all_connections()


class FromIP(Client):
    """A client whose requests claim to come from `ip` (through the X-Real-IP-trusting server)."""

    def __init__(self, base_url: str, ip: str):
        super().__init__(base_url)
        self.ip = ip

    async def request(self, method, path, data=None, *, headers=None, **kw):
        return await super().request(method, path, data, headers={"X-Real-IP": self.ip, **(headers or {})}, **kw)


@pytest.fixture
def from_ip(proxied_url):
    return lambda ip: FromIP(proxied_url, ip)


@pytest.fixture
async def impatient_port(app, settings):
    """The session's application behind a server that gives idle connections and bodies one second."""
    cfg = dataclasses.replace(settings, web=dataclasses.replace(settings.web, idle_connection_timeout=1.0,
                                                                body_timeout=1.0))
    sock, port = bind_unused_port()
    server = HTTPServer(app, **server_options(cfg))
    server.add_sockets([sock])
    yield port
    server.stop()
    await server.close_all_connections()
