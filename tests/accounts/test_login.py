"""Login, sessions, the `next` guard and the failure rate limit."""

from __future__ import annotations

import pytest

from fresh import sessions
from tests.helpers import Client


async def test_session_id_changes_at_login_and_logout(client, user, redis):
    await client.get("/user/login")
    # A guest session (as a guest cart would start) must not survive the login.
    guest = await sessions.create_session(redis, user_id=0, username="", is_staff=False, ttl=600)
    from tornado.web import create_signed_value

    client.cookies["sid"] = create_signed_value(
        "test-secret-" + "x" * 40, "sid", sessions.encode_cookie(guest)).decode()
    await client.login(user["username"])
    logged_in = sessions.decode_cookie(_unsigned(client.cookies["sid"]))
    assert logged_in.sid != guest.sid and logged_in.user_id == user["id"]
    assert not await redis.exists(sessions.session_key(guest.sid))
    assert await redis.exists(sessions.session_key(logged_in.sid))

    stolen = dict(client.cookies)
    await client.post("/user/logout")
    assert "sid" not in client.cookies
    assert not await redis.exists(sessions.session_key(logged_in.sid))
    # The old cookie is worthless after logout.
    thief = Client(client.base_url)
    thief.cookies = stolen
    r = await thief.get("/user")
    assert r.code == 302


def _unsigned(value: str) -> str:
    from tornado.web import decode_signed_value

    return decode_signed_value("test-secret-" + "x" * 40, "sid", value).decode()


async def test_two_logins_get_distinct_sessions(new_client, user):
    a, b = new_client(), new_client()
    await a.login(user["username"])
    await b.login(user["username"])
    assert a.cookies["sid"] != b.cookies["sid"]


async def test_wrong_password_and_unknown_user(client, user):
    r = await client.post("/user/login", {"username": user["username"], "pwd": "wrong-password"})
    assert r.code == 401 and "用户名或密码错误" in r.text and "sid" not in client.cookies
    r = await client.post("/user/login", {"username": "nobody_x", "pwd": "whatever123"})
    assert r.code == 401 and "用户名或密码错误" in r.text
    r = await client.post("/user/login", {"username": user["username"]})
    assert r.code == 400 and "数据不完整" in r.text


@pytest.mark.parametrize("target,expected", [
    ("/user/address", "/user/address"),
    ("/goods/1?x=1", "/goods/1?x=1"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("http:/evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
async def test_next_only_redirects_on_site(client, user, target, expected):
    from urllib.parse import quote

    r = await client.post(f"/user/login?next={quote(target, safe='')}",
                          {"username": user["username"], "pwd": "password123"})
    assert r.code == 302 and r.location == expected


async def test_rate_limit_after_five_failures(client, new_client, user):
    for _ in range(5):
        r = await client.post("/user/login", {"username": user["username"], "pwd": "wrong-password"})
        assert r.code == 401
    # Even the right password is refused now, for this name from this address.
    r = await client.post("/user/login", {"username": user["username"], "pwd": "password123"})
    assert r.code == 429 and "登录失败次数过多" in r.text
    assert "sid" not in client.cookies


async def test_success_clears_failures(client, user):
    for _ in range(4):
        await client.post("/user/login", {"username": user["username"], "pwd": "wrong-password"})
    await client.login(user["username"])
    await client.post("/user/logout")
    for _ in range(4):
        r = await client.post("/user/login", {"username": user["username"], "pwd": "wrong-password"})
        assert r.code == 401
    await client.login(user["username"])


async def test_remember_username(client, user):
    r = await client.post("/user/login", {"username": user["username"], "pwd": "password123", "remember": "on"})
    assert r.code == 302
    await client.post("/user/logout")
    r = await client.get("/user/login")
    assert f'value="{user["username"]}"' in r.text


async def test_header_shows_name_and_logout(user_client, user):
    r = await user_client.get("/user")
    assert "欢迎您：" in r.text and user["username"] in r.text and "退出" in r.text
    r = await Client(user_client.base_url).get("/user/login")
    assert "登录" in r.text


async def test_deleted_user_session_becomes_anonymous(user_client, user, redis):
    await sessions.destroy_user_sessions(redis, user["id"])
    r = await user_client.get("/user")
    assert r.code == 302
