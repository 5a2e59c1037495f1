"""Registration, the activation mail and its link."""

from __future__ import annotations

import time

import pytest

from fresh.accounts import tokens
from tests.helpers import activation_path, count, create_user, outbox_messages

GOOD = {"username": "bob_123", "pwd": "password123", "cpwd": "password123", "email": "bob@example.com",
        "allow": "on"}


async def test_register_activate_login_address_logout(client, pool, settings):
    r = await client.post("/user/register", GOOD)
    assert r.code == 200 and "激活邮件已发送" in r.text
    row = await pool_user(pool, "bob_123")
    assert row["is_active"] == 0 and row["password_hash"].startswith("$argon2id$")

    # Not active yet: login is refused with a hint to activate.
    r = await client.post("/user/login", {"username": "bob_123", "pwd": "password123"})
    assert r.code == 403 and "账户未激活" in r.text

    [mail] = outbox_messages(settings)
    assert mail["To"] == "bob@example.com"
    r = await client.get(activation_path(mail))
    assert r.code == 200 and "激活成功" in r.text
    assert (await pool_user(pool, "bob_123"))["is_active"] == 1

    r = await client.post("/user/login", {"username": "bob_123", "pwd": "password123"})
    assert r.code == 302 and r.location == "/"
    r = await client.get("/user")
    assert r.code == 200 and "欢迎您：" in r.text and "bob_123" in r.text and "无默认" in r.text

    r = await client.post("/user/address", {"receiver": "李四", "addr": "上海市浦东新区世纪大道100号",
                                            "zip_code": "200120", "phone": "13912345678"})
    assert r.code == 302
    r = await client.get("/user")
    assert "13912345678" in r.text and "世纪大道100号" in r.text

    r = await client.post("/user/logout")
    assert r.code == 302
    r = await client.get("/user")
    assert r.code == 302 and r.location.startswith("/user/login?next=")


async def pool_user(pool, username):
    from fresh import db

    return await db.fetchone(pool, "SELECT * FROM users WHERE username=%s", (username,))


@pytest.mark.parametrize("field,value,message", [
    ("username", "", "请输入用户名"),
    ("username", "abcd", "请输入5-20个字符的用户名"),
    ("username", "a" * 21, "请输入5-20个字符的用户名"),
    ("username", "bad name!", "请输入5-20个字符的用户名"),
    ("pwd", "short", "密码最少8位，最长20位"),
    ("pwd", "x" * 21, "密码最少8位，最长20位"),
    ("cpwd", "different1", "两次输入的密码不一致"),
    ("email", "not-an-email", "你输入的邮箱格式不正确"),
    ("email", "", "请输入邮箱"),
    ("allow", "", "请同意协议"),
])
async def test_each_bad_field_is_reported_next_to_it_and_others_are_kept(client, pool, field, value, message):
    form = dict(GOOD, **{field: value})
    if field == "pwd":
        form["cpwd"] = value
    r = await client.post("/user/register", form)
    assert r.code == 400
    assert message in r.text
    # The error sits in the tip of its own field.
    assert f'data-for="{field}">{message}' in r.text
    # Other non-secret fields keep what was typed.
    if field != "email":
        assert 'value="bob@example.com"' in r.text
    if field != "username":
        assert 'value="bob_123"' in r.text
    assert await count(pool, "users") == 0


async def test_missing_fields_and_wrong_types_are_400(client, pool):
    r = await client.post("/user/register", {})
    assert r.code == 400 and "请输入用户名" in r.text
    r = await client.post("/user/register", [("username", "x" * 5000), ("pwd", "1"), ("allow", "yes")])
    assert r.code == 400
    assert await count(pool, "users") == 0


async def test_taken_name(client, pool, settings):
    await create_user(pool, settings, "bob_123")
    r = await client.post("/user/register", GOOD)
    assert r.code == 409 and "用户名已存在" in r.text
    assert await count(pool, "users") == 1


async def test_register_without_xsrf_is_refused(client, pool):
    r = await client.post("/user/register", GOOD, xsrf=False)
    assert r.code == 403
    assert await count(pool, "users") == 0


async def test_expired_token_offers_resend(client, pool, settings):
    user_id = await create_user(pool, settings, "carol_1", active=False)
    token = tokens.make_activation_token(settings.web.cookie_secret, user_id, 3600, now=time.time() - 7200)
    r = await client.get(f"/user/active/{token}")
    assert r.code == 400 and "激活链接已过期" in r.text and "重新发送激活邮件" in r.text
    assert (await pool_user(pool, "carol_1"))["is_active"] == 0

    r = await client.post("/user/activate/resend", {"username": "carol_1"})
    assert r.code == 200
    [mail] = outbox_messages(settings)
    r = await client.get(activation_path(mail))
    assert "激活成功" in r.text


async def test_reused_token_says_so(client, pool, settings):
    user_id = await create_user(pool, settings, "carol_1", active=False)
    token = tokens.make_activation_token(settings.web.cookie_secret, user_id, 3600)
    assert "激活成功" in (await client.get(f"/user/active/{token}")).text
    r = await client.get(f"/user/active/{token}")
    assert r.code == 200 and "该账户已经激活" in r.text


@pytest.mark.parametrize("token", ["garbage", "1.99999999999.AAAA", "1.2.3.4", "x" * 150])
async def test_forged_tokens(client, pool, settings, token):
    await create_user(pool, settings, "carol_1", active=False)
    r = await client.get(f"/user/active/{token}")
    assert r.code == 400 and "激活链接无效" in r.text
    assert (await pool_user(pool, "carol_1"))["is_active"] == 0


async def test_token_signed_with_another_secret_is_forged(client, pool, settings):
    user_id = await create_user(pool, settings, "carol_1", active=False)
    token = tokens.make_activation_token("another-secret-" + "y" * 40, user_id, 3600)
    r = await client.get(f"/user/active/{token}")
    assert r.code == 400 and "激活链接无效" in r.text


async def test_resend_does_not_reveal_unknown_names(client, settings):
    r = await client.post("/user/activate/resend", {"username": "nobody_here"})
    assert r.code == 200 and "如果账户" in r.text
    assert outbox_messages(settings) == []
