"""Through nginx in front of two app processes under supervisor (the `deployment` fixture): what a visitor of a
`make up` shop gets."""

from __future__ import annotations

import asyncio
import re
import time

from fresh import db
from fresh.cart.cart import AddRes
from fresh.catalog.cache import invalidate_catalog
from tests.fixtures.payments import next_status, open_socket, signed_notify
from tests.helpers import Client, create_user

NGINX_ETAG = re.compile(r'^(W/)?"[0-9a-f]+-[0-9a-f]+"$')  # nginx's own: mtime-size in hex (weak when gzipped)
SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "frame-ancestors 'none'"}


def assert_security_headers(response) -> None:
    for name, value in SECURITY.items():
        # Exactly one copy: nginx's, the app's hidden.
        assert response.headers.get_list(name) == [value], (name, response.headers.get_list(name))


async def test_login_and_cart_made_on_one_instance_hold_on_the_other(deployment, pool, settings, catalog):
    sku = await catalog(stock=20)
    await create_user(pool, settings, "across_01")
    a, b = Client(deployment.app_url(0)), Client(deployment.app_url(1))
    await a.login("across_01")
    r = await a.post("/cart/add", {"sku_id": str(sku), "count": "3"}, ajax=True)
    assert r.code == 200 and r.json()["res"] == AddRes.OK, r
    b.cookies, b.xsrf = dict(a.cookies), a.xsrf  # the same browser, now on the other instance
    r = await b.get("/user")
    assert r.code == 200 and "across_01" in r.text
    r = await b.post("/cart/add", {"sku_id": str(sku), "count": "2"}, ajax=True)
    assert r.json()["total_count"] == 5, r
    # And through nginx, whichever instance answers.
    c = Client(deployment.base_url)
    c.cookies, c.xsrf = dict(a.cookies), a.xsrf
    for _ in range(4):
        r = await c.get("/cart")
        assert r.code == 200 and "across_01" in r.text and "草莓" in r.text


async def test_payment_recorded_by_one_instance_reaches_the_socket_on_the_other(deployment, signer, catalog,
                                                                                make_buyer):
    sku = await catalog(price="10.50", stock=5)
    buyer = await make_buyer("payer_dep1", {sku: 2}, deployment.base_url)
    r = await buyer["client"].post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "3",
                                                     "sku_ids": str(sku)})
    assert r.code == 200, r
    order_id = r.json()["order_id"]
    ws = await open_socket(deployment.app_url(0), buyer["client"], order_id)
    try:
        assert (await next_status(ws))["status"] == 1
        r = await Client(deployment.app_url(1)).post("/order/notify/alipay", signed_notify(signer, order_id),
                                                     xsrf=False)
        assert r.code == 200 and r.text == "success"
        update = await next_status(ws)
        assert update["paid"] and update["status"] == 2
    finally:
        ws.close()


async def test_static_and_media_are_served_by_nginx(deployment):
    media = deployment.layout.media_dir / "deploy-test.txt"
    media.write_text("media from nginx")
    client = Client(deployment.base_url)
    for path, max_age in (("/static/css/base.css", 30 * 86400), ("/media/deploy-test.txt", 7 * 86400)):
        r = await client.get(path)
        assert r.code == 200 and r.body
        assert r.headers["Cache-Control"] == f"max-age={max_age}" and "Expires" in r.headers
        assert NGINX_ETAG.match(r.headers["ETag"]) and "X-Request-Id" not in r.headers  # no app answered
        assert_security_headers(r)
    assert "base.css" not in deployment.app_logs() and "deploy-test.txt" not in deployment.app_logs()


async def test_body_over_the_limit_is_refused_by_nginx(deployment):
    r = await Client(deployment.base_url).post("/user/login", body=b"x" * (deployment.layout.max_body_size + 1),
                                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.code == 413
    assert_security_headers(r)
    # The back office's uploads may be larger (web.max_upload_size), up to their own limit.
    layout = deployment.layout
    r = await Client(deployment.base_url).post("/admin/goods/new", body=b"x" * (layout.max_body_size + 1),
                                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.code == 403 and "天天生鲜" in r.text  # the app answered (not staff: refused), not nginx
    r = await Client(deployment.base_url).post("/admin/goods/new", body=b"x" * (layout.max_upload_size + 1),
                                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.code == 413


async def test_proxied_pages_carry_one_copy_of_each_security_header(deployment):
    r = await Client(deployment.base_url).get("/user/login")
    assert r.code == 200 and r.headers["X-Request-Id"]
    assert_security_headers(r)
    missing = await Client(deployment.base_url).get("/no/such/page")
    assert missing.code == 404
    assert_security_headers(missing)


async def test_metrics_are_refused_through_nginx_but_not_on_an_instance(deployment):
    for path in ("/metrics", "/metrics?x=1", "/%6detrics", "//metrics"):
        r = await Client(deployment.base_url).get(path)
        assert r.code == 404, path
        assert b"fresh_" not in r.body
    direct = await Client(deployment.app_url(0)).get("/metrics")
    assert direct.code == 200 and b"fresh_" in direct.body


async def wait_for_index(deployment, predicate, timeout: float = 15.0):
    """The static index (GET / without cookies) once `predicate(response)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        r = await Client(deployment.base_url).request("GET", "/", xsrf=False, headers={"Cookie": ""})
        if predicate(r):
            return r
        assert time.monotonic() < deadline, f"static index never matched: {r}"
        await asyncio.sleep(0.1)


async def test_static_index_without_cookies_live_page_with_a_session(deployment, pool, redis, settings, catalog):
    await catalog("静态首页草莓", stock=5)
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO index_type_goods (type_id, sku_id, display_type, `index`)"
                          " SELECT type_id, id, 1, 0 FROM goods_sku")
    await invalidate_catalog(redis)
    r = await wait_for_index(deployment, lambda r: r.code == 200 and "静态首页草莓" in r.text)
    # nginx answered from the file: its ETag, no request id (the app sets one on every answer) ...
    assert NGINX_ETAG.match(r.headers["ETag"]) and "X-Request-Id" not in r.headers
    assert r.headers["Cache-Control"] == "no-cache"
    assert_security_headers(r)
    # ... and its access log shows no upstream, the app's no such request.
    line = deployment.log("nginx-access.log").strip().splitlines()[-1]
    assert '"GET / HTTP/1.1" 200' in line and "upstream=-" in line, line
    rid = re.search(r"rid=(\w+)", line).group(1)
    assert rid not in deployment.app_logs()
    assert deployment.layout.static_index.read_text().count("静态首页草莓") >= 1

    await create_user(pool, settings, "indexer_01")
    shopper = Client(deployment.base_url)
    await shopper.login("indexer_01")
    live = await shopper.get("/")
    assert live.code == 200 and "indexer_01" in live.text and live.headers["X-Request-Id"]
    assert "静态首页草莓" in live.text

    # A staff edit of the catalog (the SQL and the invalidation an admin write does): the file follows.
    before = deployment.layout.static_index.stat().st_mtime_ns
    async with db.cursor(pool) as cur:
        await cur.execute("UPDATE goods_sku SET name='改名后的草莓'")
    await invalidate_catalog(redis)
    r = await wait_for_index(deployment, lambda r: "改名后的草莓" in r.text)
    assert "静态首页草莓" not in r.text and "X-Request-Id" not in r.headers
    assert deployment.layout.static_index.stat().st_mtime_ns != before


async def test_a_post_to_the_index_and_a_guest_with_a_cart_reach_the_app(deployment, catalog):
    sku = await catalog(stock=5)
    guest = Client(deployment.base_url)
    r = await guest.post("/cart/add", {"sku_id": str(sku), "count": "1"}, ajax=True)
    assert r.code == 200 and "sid" in guest.cookies
    page = await guest.get("/")
    assert page.code == 200 and page.headers["X-Request-Id"]  # live: the app answered
    posted = await Client(deployment.base_url).post("/", {})
    assert posted.code == 405 and "不支持的请求方式" in posted.text  # the app's answer, not nginx's
