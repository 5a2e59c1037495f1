"""The web layer: health, errors, body limits."""

from __future__ import annotations

from tornado.web import create_signed_value

from fresh.redis_client import create_redis
from fresh.web import is_safe_next, make_app
from tests.conftest import make_settings
from tests.helpers import AppServer, Client, count, free_port


async def test_a_dead_redis_gives_503_pages_not_tracebacks(pool, tmp_path):
    # A second app pointed at a port where no Redis listens; the shared services are never stopped.
    server = AppServer()
    cfg = make_settings(tmp_path, server.port, redis={"url": f"redis://127.0.0.1:{free_port()}/0", "timeout": 0.5})
    redis = create_redis(cfg.redis)
    try:
        async with server.serve(make_app(cfg, pool=pool, redis=redis)):
            r = await Client(server.url).get("/readyz")
            assert r.code == 503
            body = r.json()
            assert body["mariadb"] == "ok" and body["redis"].startswith("error")
            # A page that must load the session answers 503 with the error page, not a traceback.
            c = Client(server.url)
            c.cookies["sid"] = create_signed_value(cfg.web.cookie_secret, "sid", "abc|1|alice").decode()
            r = await c.get("/user/login")
            assert r.code == 503 and "服务暂时不可用" in r.text and "Traceback" not in r.text
    finally:
        await redis.aclose()


async def test_unknown_page_is_a_chinese_404(client):
    r = await client.get("/no/such/page")
    assert r.code == 404 and "您访问的页面不存在" in r.text and "Traceback" not in r.text


async def test_unknown_ajax_is_json_404(client):
    r = await client.get("/no/such/page", ajax=True)
    assert r.code == 404 and r.json()["errmsg"]


async def test_oversized_body_is_refused(client, pool):
    # Refused from its Content-Length before any of it is read (fresh.web.RequestGuard): a 413 the client gets.
    r = await client.post("/user/register", body=b"username=" + b"a" * (2 * 1024 * 1024),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.code == 413 and r.json()["errmsg"] == "提交的内容过大", r
    assert await count(pool, "users") == 0


def test_is_safe_next():
    assert is_safe_next("/cart")
    for bad in ("", "cart", "//x", "/\\x", "https://x/", "/\x00", "http:/x"):
        assert not is_safe_next(bad)


async def test_pages_carry_no_etag_but_static_files_do(client):
    page = await client.get("/")
    assert page.code == 200 and "Etag" not in page.headers
    css = await client.get("/static/css/base.css")
    assert css.code == 200 and css.headers.get("Etag")
