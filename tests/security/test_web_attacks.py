"""XSS in every stored text field and in reflected input, SQL injection strings in search, sort and ids, session
fixation, open redirects, and secrets (passwords, session ids) never in the logs."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

import pytest

from fresh import db
from fresh.cart.cart import cart_key
from fresh.orders.place import place_order
from tests.helpers import Client, count

XSS = ["<script>alert('x')</script>", "\"><img src=x onerror=alert(1)>", "'><svg onload=alert(1)>",
       "javascript:alert(1)//<b>"]


def _raw_markup_absent(text: str, payload: str) -> bool:
    """The payload's markup never appears unescaped (its text may, escaped)."""
    return payload not in text and all(m not in text for m in ("<script>alert", "<img src=x", "<svg onload"))


@pytest.mark.parametrize("payload", XSS)
async def test_stored_xss_in_address_order_and_comment_is_escaped(world, pool, redis, settings, payload, tally):
    r = await world.a.post("/user/address", {"receiver": payload[:20], "addr": payload, "zip_code": "100080",
                                             "phone": "13800138000", "is_default": "on"})
    assert r.code == 302, r
    addr_id = (await db.fetchone(pool, "SELECT id FROM addresses WHERE user_id=%s AND is_default=1",
                                 (world.a_id,)))["id"]
    await redis.hset(cart_key(world.a_id), str(world.sku), "1")
    order_id = await place_order(pool, redis, settings.orders, user_id=world.a_id, addr_id=addr_id, pay_method=3,
                                 sku_ids=[world.sku], idem_key=None)
    # A comment with the payload on a received order, shown on the goods page.
    await db.execute(pool, "UPDATE order_info SET order_status=4 WHERE order_id=%s", (order_id,))
    r = await world.a.post(f"/order/comment/{order_id}", {f"content_{world.sku}": payload})
    assert r.code == 302, r
    await redis.hset(cart_key(world.a_id), str(world.sku), "1")
    pages = [await world.a.get("/user/address"), await world.a.get("/user"), await world.a.get("/user/order/1"),
             await world.a.post("/order/place", {"sku_ids": str(world.sku)}), await world.anon.get(
                 f"/goods/{world.sku}")]
    for page in pages:
        tally.count("xss page checks")
        assert page.code == 200, page
        assert _raw_markup_absent(page.text, payload), page.raw.effective_url
    assert "&lt;" in pages[0].text  # it is there, escaped


@pytest.mark.parametrize("payload", XSS)
async def test_reflected_input_is_escaped(client, payload, tally):
    pages = [await client.get("/search?q=" + quote(payload)),
             await client.post("/user/login", {"username": payload, "pwd": "x"}),
             await client.post("/user/register", {"username": payload, "email": payload, "pwd": "1", "cpwd": "2"}),
             await client.get("/user/login?next=" + quote(payload)),
             await client.post("/user/activate/resend", {"username": payload})]
    # The search page, a wrong login (401), a refused registration (400), the login page, the resend page.
    assert [page.code for page in pages] == [200, 401, 400, 200, 200], pages
    for page in pages:
        tally.count("xss page checks")
        assert _raw_markup_absent(page.text, payload), page


SQLI = ["' OR '1'='1", "1 OR 1=1", "1; DROP TABLE users; --", "1) UNION SELECT password_hash FROM users -- ",
        "%' AND SLEEP(5) AND '%'='", "\\'; DELETE FROM order_info; --", "1' /*", "草莓' OR 1=1 #"]


@pytest.mark.parametrize("payload", SQLI)
async def test_sql_injection_strings_change_and_reveal_nothing(world, pool, payload, tally):
    users, orders = await count(pool, "users"), await count(pool, "order_info")
    type_id = (await db.fetchone(pool, "SELECT type_id FROM goods_sku WHERE id=%s", (world.sku,)))["type_id"]
    answers = [await world.anon.get("/search?q=" + quote(payload)),
               await world.anon.get(f"/list/{type_id}/1?sort={quote(payload)}"),
               await world.anon.get("/search?q=a&sort=" + quote(payload) + "&page=" + quote(payload)),
               await world.a.post("/cart/add", {"sku_id": payload, "count": payload}, ajax=True),
               await world.a.post("/order/cancel", {"order_id": payload}, ajax=True),
               await world.a.post("/order/check", {"order_id": payload}, ajax=True),
               await world.a.post("/user/address/default", {"addr_id": payload}),
               await world.a.post("/order/commit", {"addr_id": payload, "pay_method": payload, "sku_ids": payload},
                                  ajax=True),
               await world.anon.post("/user/login", {"username": payload, "pwd": payload})]
    # Pages with an unknown sort fall back to the default; ids that are no number are 400, order numbers that
    # match no order 404; the login is a wrong one.
    assert [r.code for r in answers] == [200, 200, 200, 400, 404, 404, 400, 400, 401], answers
    for r in answers:
        tally.count("sql injection requests")
        assert "$argon2" not in r.text and "SQL" not in r.text, r
    assert await count(pool, "users") == users and await count(pool, "order_info") == orders
    assert (await db.fetchone(pool, "SELECT order_status FROM order_info WHERE order_id=%s",
                              (world.a_order,)))["order_status"] == 1


async def test_session_fixation_a_planted_session_id_is_replaced_at_login(base_url, world, redis):
    attacker = Client(base_url)
    r = await attacker.post("/cart/add", {"sku_id": str(world.sku), "count": "1"}, ajax=True)
    assert r.code == 200 and "sid" in attacker.cookies  # the attacker's own guest session
    victim = Client(base_url)
    victim.cookies["sid"] = attacker.cookies["sid"]  # planted (e.g. through a sibling subdomain)
    await victim.login("shopper_b")
    assert victim.cookies["sid"] != attacker.cookies["sid"]
    # The planted id did not become B's session: the attacker is still anonymous.
    page = await attacker.get("/user")
    assert page.code == 302 and page.location.startswith("/user/login")
    assert "shopper_b" not in (await attacker.get("/")).text


OPEN_REDIRECTS = ["//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
                  "/%5Cevil.example", "http:evil.example", "https:/evil.example", "\t//evil.example",
                  " //evil.example", "/\t/evil.example", "//evil.example/%2e%2e", "javascript:alert(1)",
                  "data:text/html,x", "/%09/evil.example", "///evil.example", "evil.example"]


def _on_site(location: str | None) -> bool:
    return bool(location) and location.startswith("/") and not location.startswith(("//", "/\\")) and \
        "\\" not in location and not urlsplit(location).netloc and not any(c < " " for c in location)


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
async def test_no_open_redirects(world, base_url, target, tally):
    fresh = Client(base_url)
    answers = [await fresh.post("/user/login?next=" + quote(target, safe=""),
                                {"username": "shopper_b", "pwd": "password123"}),
               await world.a.get("/user/login?next=" + quote(target, safe="")),
               await world.a.post("/user/address/default?next=" + quote(target, safe=""),
                                  {"addr_id": str(world.a_addr)}),
               await world.a.post("/user/address", {"receiver": "张三", "addr": "北京", "zip_code": "100080",
                                                    "phone": "13800138000", "next": target})]
    for r in answers:
        tally.count("open redirect requests")
        assert r.code == 302 and _on_site(r.location), (target, r.code, r.location)


async def test_passwords_and_session_ids_never_reach_the_logs(base_url, caplog, pool, settings):
    from tornado.web import decode_signed_value

    secret = "Secr3t-Passw0rd!"
    caplog.set_level(logging.DEBUG)
    c = Client(base_url)
    await c.post("/user/register", {"username": "logged_1", "pwd": secret, "cpwd": secret,
                                    "email": "logged_1@example.com", "allow": "on"})
    await db.execute(pool, "UPDATE users SET is_active=1 WHERE username='logged_1'")
    await c.post("/user/login", {"username": "logged_1", "pwd": "wrong-" + secret})
    await c.post("/user/login?pwd=" + quote(secret), {"username": "logged_1", "pwd": secret})
    cookie = c.cookies["sid"]
    sid = decode_signed_value(settings.web.cookie_secret, "sid", cookie).decode().split("|")[0]
    await c.get("/user?sid=" + quote(sid))
    await c.post("/cart/add", {"sku_id": "1", "count": "1"}, ajax=True)
    await c.post("/user/logout")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records  # the requests were logged
    assert secret not in text
    assert cookie not in text and sid not in text
