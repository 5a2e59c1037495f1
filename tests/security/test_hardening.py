"""Abuse resistance: throttles, bounded hashing, malformed requests, HEAD, security headers, cookies, logout,
ASCII digits and the stale-page (_xsrf) answer."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from http.cookies import SimpleCookie

import pytest

from fresh.errors import Unavailable
from fresh.hashgate import HashGate
from fresh.web import XSRF_MESSAGE, XSRF_RES, make_app, server_options
from tests.conftest import make_settings
from tests.helpers import AppServer, Client, count, create_user, outbox_messages
from tests.security.rawhttp import exchange, message_of, status_of

# --- throttles ---------------------------------------------------------------------------------------------


async def test_failures_across_usernames_from_one_ip_are_throttled(app, from_ip, user):
    limit = app.cfg.accounts.login_ip_max_failures
    attacker = from_ip("203.0.113.7")
    for i in range(limit):
        r = await attacker.post("/user/login", {"username": f"guess_{i:03d}", "pwd": "wrong-password"})
        assert r.code == 401
    # A full hash lane would answer 503: a 429 proves the refusal came before any hash.
    app.hash_gate.pending = app.hash_gate.capacity
    try:
        r = await attacker.post("/user/login", {"username": user["username"], "pwd": "password123"})
    finally:
        app.hash_gate.pending = 0
    assert r.code == 429 and "登录失败次数过多" in r.text and int(r.headers["Retry-After"]) > 0
    assert "sid" not in attacker.cookies
    # Another address is not affected.
    r = await from_ip("198.51.100.1").post("/user/login", {"username": user["username"], "pwd": "password123"})
    assert r.code == 302


async def test_failures_for_one_username_from_many_ips_are_throttled(app, from_ip, user):
    limit = app.cfg.accounts.login_max_failures
    for i in range(limit):
        r = await from_ip(f"203.0.113.{i + 1}").post("/user/login",
                                                    {"username": user["username"], "pwd": "wrong-password"})
        assert r.code == 401
    r = await from_ip("198.51.100.9").post("/user/login", {"username": user["username"], "pwd": "password123"})
    assert r.code == 429 and 0 < int(r.headers["Retry-After"]) <= app.cfg.accounts.login_window


async def test_register_is_throttled_per_email(app, from_ip, pool):
    limit = app.cfg.accounts.register_email_max
    for i in range(limit):
        r = await from_ip(f"203.0.113.{i + 1}").post("/user/register", {
            "username": f"mallory{i}", "pwd": "password123", "cpwd": "password123", "email": "victim@example.com",
            "allow": "on"})
        assert r.code == 200
    r = await from_ip("198.51.100.1").post("/user/register", {
        "username": "mallory_x", "pwd": "password123", "cpwd": "password123", "email": "victim@example.com",
        "allow": "on"})
    assert r.code == 429 and "注册过于频繁" in r.text and int(r.headers["Retry-After"]) > 0
    assert await count(pool, "users") == limit


async def test_register_is_throttled_per_ip(app, from_ip, pool):
    limit = app.cfg.accounts.register_ip_max
    attacker = from_ip("203.0.113.50")
    for i in range(limit):
        r = await attacker.post("/user/register", {"username": f"bulk_{i:03d}", "pwd": "password123",
                                                   "cpwd": "password123", "email": f"b{i}@example.com",
                                                   "allow": "on"})
        assert r.code == 200
    r = await attacker.post("/user/register", {"username": "bulk_last", "pwd": "password123",
                                               "cpwd": "password123", "email": "last@example.com", "allow": "on"})
    assert r.code == 429 and "Retry-After" in r.headers
    assert await count(pool, "users") == limit


async def test_resend_is_throttled_per_email_and_per_ip(app, from_ip, pool, settings):
    await create_user(pool, settings, "sleepy_1", active=False)
    email_limit, ip_limit = app.cfg.accounts.resend_email_max, app.cfg.accounts.resend_ip_max
    for i in range(email_limit + 2):
        r = await from_ip(f"203.0.113.{i + 1}").post("/user/activate/resend", {"username": "sleepy_1"})
        assert r.code == (200 if i < email_limit else 429)
    assert len(outbox_messages(settings)) == email_limit  # not a mail bomb
    prober = from_ip("198.51.100.77")
    for _ in range(ip_limit):
        assert (await prober.post("/user/activate/resend", {"username": "nobody_x"})).code == 200
    r = await prober.post("/user/activate/resend", {"username": "nobody_x"})
    assert r.code == 429 and "发送过于频繁" in r.text and "Retry-After" in r.headers


async def test_hash_lane_refuses_beyond_its_queue():
    gate = HashGate(1, 1)
    release = threading.Event()
    try:
        running = [asyncio.ensure_future(gate.run(release.wait, 5)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Unavailable):
            await gate.run(release.wait, 5)
        release.set()
        assert await asyncio.gather(*running) == [True, True]
        assert gate.pending == 0
    finally:
        release.set()
        gate.close()


async def test_login_flood_beyond_the_hash_lane_is_a_503_not_a_wait(app, client, user):
    app.hash_gate.pending = app.hash_gate.capacity
    try:
        r = await client.post("/user/login", {"username": user["username"], "pwd": "password123"})
    finally:
        app.hash_gate.pending = 0
    assert r.code == 503 and "登录人数过多" in r.text


# --- malformed requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/static/css/base.css%00.png", "/media/x%00.png", "/static/%ff%fe.css", "/goods/1%00", "/cart%0a",
    "/user/login%c0%af",
])
async def test_bad_bytes_in_paths_are_400(app_server, app, path):
    response = await exchange(app_server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status_of(response) == 400 and "请求参数有误" in message_of(response)
    assert b"X-Content-Type-Options: nosniff" in response


async def test_huge_url_is_414_and_huge_headers_431(app_server, app):
    response = await exchange(app_server.port, b"GET /search?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 414 and "请求地址过长" in message_of(response)
    response = await exchange(app_server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n")
    assert status_of(response) == 431 and "请求头过大" in message_of(response)


async def test_declared_huge_body_is_413_without_reading_it(app_server, app, pool):
    head = (b"POST /user/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 52428800\r\n\r\n")
    response = await exchange(app_server.port, head + b"username=" + b"a" * 65536)
    assert status_of(response) == 413 and "提交的内容过大" in message_of(response)
    assert await count(pool, "users") == 0


async def test_idle_and_slow_connections_are_closed(impatient_port):
    # exchange() raises TimeoutError after 20 s: returning at all means the server closed the connection.
    assert await exchange(impatient_port, b"") == b""
    assert await exchange(impatient_port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1") == b""
    body_cut = await exchange(impatient_port, b"POST /user/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                                              b"Content-Type: application/x-www-form-urlencoded\r\n\r\nusername=")
    assert body_cut == b""


async def test_garbage_request_line_gets_an_http_answer(app_server, app):
    assert status_of(await exchange(app_server.port, b"\x00\x01\x02 nonsense\r\n\r\n")) == 400


# --- HEAD, headers, cookies --------------------------------------------------------------------------------


@pytest.mark.parametrize("path,code", [("/", 200), ("/healthz", 200), ("/user/login", 200),
                                       ("/static/css/base.css", 200), ("/cart/", 301)])
async def test_head_answers_like_get_without_a_body(client, path, code):
    get, head = await client.get(path), await client.request("HEAD", path)
    assert get.code == head.code == code and head.body == b"", (get, head)


async def test_security_headers_on_pages_errors_and_files(client, user_client):
    for r in (await client.get("/"), await client.get("/no/such/page"), await client.get("/static/css/base.css"),
              await user_client.get("/user"), await client.post("/cart/add", {"sku_id": 1}, xsrf=False)):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] == "same-origin"


async def test_personal_pages_are_no_store(user_client, client):
    for path in ("/user", "/user/address", "/cart", "/user/order/1", "/"):
        assert (await user_client.get(path)).headers.get("Cache-Control") == "no-store", path
    assert "no-store" not in (await client.get("/")).headers.get("Cache-Control", "")


async def test_every_cookie_is_secure_in_production(pool, redis, tmp_path, user, settings):
    async with AppServer() as server:
        cfg = make_settings(tmp_path, server.port, mode="production",
                            db={"user": settings.db.user, "password": settings.db.password})
        server.serve(make_app(cfg, pool=pool, redis=redis), **server_options(cfg))
        c, fresh = Client(server.url), Client(server.url)
        fresh.cookies.clear()  # no _xsrf yet: the page sets one
        responses = [await fresh.get("/user/login"),
                     await c.post("/user/login", {"username": user["username"], "pwd": "password123",
                                                  "remember": "on"}),
                     await c.post("/user/logout")]
    names = set()
    for r in responses:
        for header in r.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                names.add(name)
                assert morsel["secure"] and morsel["samesite"] == "Lax", header
    assert {"_xsrf", "sid", "username"} <= names


# --- logout, digits, stale pages ---------------------------------------------------------------------------


async def test_logout_is_a_post_with_xsrf(user_client):
    assert (await user_client.get("/user/logout")).code == 405
    assert (await user_client.post("/user/logout", xsrf=False)).code == 403
    page = await user_client.get("/user")
    assert page.code == 200  # still logged in
    assert 'action="/user/logout"' in page.text and 'method="post"' in page.text
    assert (await user_client.post("/user/logout")).code == 302
    assert (await user_client.get("/user")).code == 302


@pytest.mark.parametrize("field,value", [
    ("zip_code", "１０００８０"), ("zip_code", "١٠٠٠٨٠"), ("zip_code", "10008０"),
    ("phone", "１３８００１３８０００"), ("phone", "1٣800138000"), ("phone", "1380013800०"),
])
async def test_only_ascii_digits_in_zip_and_phone(user_client, pool, field, value):
    form = {"receiver": "王五", "addr": "广州市天河区体育西路1号", "zip_code": "510620", "phone": "13600000000"}
    r = await user_client.post("/user/address", dict(form, **{field: value}))
    assert r.code == 400
    assert await count(pool, "addresses") == 0


def test_trailing_newline_is_not_a_digit():
    from fresh.accounts import addresses, users

    with pytest.raises(addresses.AddressError):
        addresses.clean_address({"receiver": "王五", "addr": "x", "zip_code": "100080\n", "phone": "13600000000"})
    assert not users.USERNAME_RE.match("alice_01\n")


async def test_unicode_digits_are_not_ids(user_client, pool):
    r = await user_client.post("/user/address/default", {"addr_id": "１"})
    assert r.code == 400


async def test_stale_xsrf_says_so_on_pages_and_ajax(user_client):
    page = await user_client.post("/user/address", {"receiver": "x"}, xsrf=False)
    assert page.code == 403 and XSRF_MESSAGE in page.text
    ajax = await user_client.post("/cart/add", {"sku_id": 1, "_xsrf": "stale"}, xsrf=False, ajax=True)
    assert ajax.code == 403 and ajax.json() == {"res": XSRF_RES, "errmsg": XSRF_MESSAGE}


async def test_settings_keep_the_query_timeout_above_the_lock_wait(tmp_path):
    from fresh.settings import SettingsError

    with pytest.raises(SettingsError):
        make_settings(tmp_path, 1, db={"query_timeout": 3.0, "lock_wait_timeout": 5})
    assert dataclasses.is_dataclass(make_settings(tmp_path, 1).db)
