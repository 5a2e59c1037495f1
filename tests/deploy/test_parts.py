"""The deployment's parts in one process: rendered configurations, proxy headers from trusted peers only, the static
index file, the drain."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httputil import HTTPHeaders, RequestStartLine

from fresh import db, deploy, drain, proxy
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.static_index import _keys, refresh_static_index
from fresh.web import BaseHandler, listen_live, make_app, server_options
from tests.clock import ManualClock
from tests.conftest import make_settings
from tests.fixtures.orders import commit_form
from tests.fixtures.payments import next_status, open_socket
from tests.helpers import AppServer, free_ports


@pytest.mark.parametrize("processes", [1, 4])
def test_rendered_configurations_pass_nginx_t(settings, tmp_path, processes):
    first, public = free_ports(2)
    layout = deploy.make_layout(settings, processes=processes, public_port=public, first_app_port=first)
    layout = dataclasses.replace(layout, var=tmp_path / "var")
    deploy.render(layout)
    deploy.nginx_test(layout)  # raises with nginx's words unless clean (warnings included)
    site = (layout.deploy_dir / "fresh.conf").read_text()
    ports = [first + i for i in range(processes)]
    assert re.findall(r"server 127\.0\.0\.1:(\d+) max_fails=0;", site) == [str(p) for p in ports]
    assert f"listen {public};" in site and str(tmp_path / "var" / "www") in site
    supervisor = (layout.deploy_dir / "supervisord.conf").read_text()
    assert re.findall(r"\[program:app-(\d+)\]", supervisor) == [str(p) for p in ports]
    assert "[program:nginx]" in supervisor and "[program:sandbox]" in supervisor  # not production
    assert 'FRESH_WEB_XHEADERS="true"' in supervisor


def test_production_runs_no_sandbox(settings, tmp_path):
    cfg = dataclasses.replace(settings, mode="production")
    layout = dataclasses.replace(deploy.make_layout(cfg, public_port=free_ports(1)[0]), var=tmp_path / "var")
    deploy.render(layout)
    assert "[program:sandbox]" not in (layout.deploy_dir / "supervisord.conf").read_text()


class _Context:
    def __init__(self, peer: str):
        self.address = (peer, 40000)
        self.remote_ip, self.protocol = peer, "http"


class _Delegate:
    def __init__(self, context):
        self.context, self.seen = context, None

    def headers_received(self, start_line, headers):
        self.seen = (self.context.remote_ip, self.context.protocol)

    def finish(self):
        pass


@pytest.mark.parametrize("peer,expected", [
    ("127.0.0.1", ("203.0.113.9", "https")),  # nginx
    ("192.0.2.7", ("192.0.2.7", "http")),  # anyone else: the headers are ignored
])
def test_proxy_headers_are_believed_from_trusted_peers_only(peer, expected):
    context = _Context(peer)
    connection = type("Conn", (), {"context": context})()
    inner = _Delegate(context)
    adapter = proxy.TrustedProxyHeaders(inner, connection, proxy.parse_trusted("127.0.0.1,::1"))
    headers = HTTPHeaders({"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "1.2.3.4, 203.0.113.9",
                           "X-Forwarded-Proto": "https"})
    adapter.headers_received(RequestStartLine("GET", "/", "HTTP/1.1"), headers)
    assert inner.seen == expected
    adapter.finish()
    assert (context.remote_ip, context.protocol) == (peer, "http")  # the next request on the connection starts clean


def test_client_address_prefers_x_real_ip_then_the_last_forwarded_hop():
    assert proxy.client_address(HTTPHeaders({"X-Forwarded-For": "6.6.6.6, 198.51.100.2"})) == "198.51.100.2"
    assert proxy.client_address(HTTPHeaders({"X-Real-IP": "not an ip"})) is None


def serve(settings, pool, redis, **web) -> AppServer:
    """A shop of its own (with `web` settings changed, if any) and the websockets' listener, as in tests/conftest.py."""
    server = AppServer()
    cfg = make_settings(settings.var_path, server.port, web=web) if web else settings
    return server.serve(make_app(cfg, pool=pool, redis=redis), background=[listen_live], **server_options(cfg))


@pytest.mark.parametrize("trusted,secure", [("127.0.0.1", True), ("192.0.2.1", False)])
async def test_cookies_are_secure_behind_https_from_a_trusted_proxy(settings, pool, redis, trusted, secure):
    async with serve(settings, pool, redis, xheaders=True, trusted_proxies=trusted) as shop:
        r = await AsyncHTTPClient().fetch(f"{shop.url}/user/login",
                                          headers={"X-Forwarded-Proto": "https", "X-Real-IP": "203.0.113.9"})
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("_xsrf=") and ("Secure" in cookie) is secure


async def test_static_index_is_rendered_once_per_catalog_version(app, redis, tmp_path, catalog, pool, settings):
    path = tmp_path / "www" / "index.html"
    path.parent.mkdir()
    await catalog("首页上的草莓")
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO index_type_goods (type_id, sku_id) SELECT type_id, id FROM goods_sku")
    await invalidate_catalog(redis)
    assert await refresh_static_index(app, path)
    page = path.read_text()
    assert "首页上的草莓" in page and "登录" in page  # the anonymous page
    assert not await refresh_static_index(app, path)  # same version: nothing to do

    await invalidate_catalog(redis)
    lease, _ = _keys(path)
    await redis.set(lease, "another-process", ex=30)
    assert not await refresh_static_index(app, path) and path.read_text() == page  # the lease holder renders
    await redis.delete(lease)
    path.unlink()
    assert await refresh_static_index(app, path) and path.is_file()
    assert await redis.get(lease) is None  # released


class SlowHandler(BaseHandler):
    release: asyncio.Event

    async def get(self) -> None:
        await type(self).release.wait()
        self.finish("done")


async def polls() -> None:
    """Long enough for the drain to look at the clock a few times (it polls; the test's clock is what moves)."""
    await asyncio.sleep(3 * drain.POLL_SECONDS)


async def start_slow(app, base: str) -> asyncio.Future:
    """A request to /slow, once it is in flight."""
    slow = asyncio.ensure_future(AsyncHTTPClient().fetch(f"{base}/slow", request_timeout=30))
    while not app.in_flight:  # noqa: ASYNC110  (a set the app fills)
        await asyncio.sleep(0.01)
    return slow


async def test_drain_finishes_requests_and_sends_sockets_away(settings, pool, redis, catalog, make_buyer):
    shop = serve(settings, pool, redis)
    app, server, port, base = shop.app, shop.server, shop.port, shop.url
    app.clock = clock = ManualClock()
    SlowHandler.release = asyncio.Event()
    app.add_handlers(r".*", [tornado.web.url(r"/slow", SlowHandler)])
    try:
        sku = await catalog(stock=5)
        buyer = await make_buyer("drainer_01", {sku: 1}, base)
        r = await buyer["client"].post("/order/commit", commit_form(buyer, [sku]))
        ws = await open_socket(base, buyer["client"], r.json()["order_id"])
        assert (await next_status(ws))["status"] == 1
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # an idle keep-alive connection
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b"\r\n\r\n")
        assert b"Connection: close" not in first
        await reader.readexactly(int(re.search(rb"Content-Length: (\d+)", first).group(1)))
        slow = await start_slow(app, base)

        draining = asyncio.ensure_future(drain.drain(app, [server], timeout=10))
        assert await asyncio.wait_for(ws.read_message(), 5) is None and ws.close_code == drain.GOING_AWAY
        ws.close()
        with pytest.raises((ConnectionError, HTTPClientError, OSError)):
            await AsyncHTTPClient().fetch(f"{base}/healthz", request_timeout=5)  # no new connections
        # A request on a connection opened before is still served, then the connection is closed.
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 5)
        assert rest.startswith(b"HTTP/1.1 200") and b"Connection: close" in rest
        writer.close()
        clock.advance(5 * drain.QUIET_SECONDS)  # quiet long enough, but /slow is still in flight
        await polls()
        assert not draining.done()
        SlowHandler.release.set()
        assert (await slow).body == b"done"
        assert await asyncio.wait_for(draining, 10) is True
        assert app.draining
    finally:
        SlowHandler.release.set()
        await shop.close()


async def test_drain_gives_up_at_its_deadline(settings, pool, redis):
    shop = serve(settings, pool, redis)
    app = shop.app
    app.clock = clock = ManualClock()
    SlowHandler.release = asyncio.Event()
    app.add_handlers(r".*", [tornado.web.url(r"/slow", SlowHandler)])
    try:
        slow = await start_slow(app, shop.url)
        draining = asyncio.ensure_future(drain.drain(app, [shop.server], timeout=10))
        await asyncio.sleep(0)  # the drain starts, and takes its deadline from the clock
        clock.advance(9.5)
        await polls()
        assert not draining.done()
        clock.advance(0.5)
        assert await asyncio.wait_for(draining, 5) is False  # /slow never finished: the caller closes what is left
        SlowHandler.release.set()
        assert (await slow).body == b"done"  # its connection was still open
    finally:
        SlowHandler.release.set()
        await shop.close()


async def test_a_socket_opened_while_draining_is_sent_away(settings, pool, redis, catalog, make_buyer):
    async with serve(settings, pool, redis) as shop:
        sku = await catalog(stock=5)
        buyer = await make_buyer("drainer_02", {sku: 1}, shop.url)
        r = await buyer["client"].post("/order/commit", commit_form(buyer, [sku]))
        shop.app.draining = True
        ws = await open_socket(shop.url, buyer["client"], r.json()["order_id"])
        assert await asyncio.wait_for(ws.read_message(), 5) is None and ws.close_code == drain.GOING_AWAY
        ws.close()

