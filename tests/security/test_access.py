"""The access matrix: every route × {anonymous, shopper A, shopper B, staff}, each request aimed at A's order,
address and cart. Only A acts on A's things; only staff reaches /admin; nobody else sees A's receiver or address.
And CSRF: every POST without a valid `_xsrf` is refused and changes nothing."""

from __future__ import annotations

import re

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from fresh import db
from fresh.cart.cart import cart_key
from fresh.payments.handlers import WS_FORBIDDEN, WS_NOT_LOGGED_IN
from fresh.web import XSRF_MESSAGE
from tests.security.conftest import A_ADDR, A_MARK
from tests.security.hostile import assert_answered, encode, message
from tests.security.routes import ROUTES, Route

WHO = ("anon", "a", "b", "staff")
CALLS = [(route, method) for route in ROUTES for method in route.methods if not route.is_websocket]


def aimed_at_a(world, route: Route) -> tuple[str, list[tuple[str, str]]]:
    """The route's path and fields filled with A's ids wherever a group or a field can take one."""
    candidates = [world.a_paid_order, world.a_order, str(world.a_addr), str(world.sku), "1"]
    values = [next(c for c in candidates if re.fullmatch(group, c)) if any(re.fullmatch(group, c) for c in candidates)
              else "x" for group in route.groups]
    pairs = []
    for name in route.fields:
        if "order" in name:
            pairs.append((name, world.a_order))
        elif "addr_id" in name:
            pairs.append((name, str(world.a_addr)))
        elif "sku" in name:
            pairs.append((name, str(world.sku)))
        elif name == "content_":
            pairs.append((f"content_{world.sku}", "好吃"))
        elif name == "username":
            pairs.append((name, "shopper_a"))
        elif name in ("receiver", "addr"):
            pairs.append((name, "改掉了"))
        elif name == "next":
            pairs.append((name, "/"))
        else:
            pairs.append((name, "1"))
    return route.fill(values), pairs


async def a_state(world, pool, redis) -> tuple:
    """Everything of A's that another visitor must not change."""
    orders = await db.fetchall(pool, "SELECT order_id, order_status, trade_no FROM order_info WHERE user_id=%s"
                                     " ORDER BY order_id", (world.a_id,))
    goods = await db.fetchall(pool, "SELECT og.order_id, og.sku_id, og.comment FROM order_goods og JOIN order_info o"
                                    " ON o.order_id=og.order_id WHERE o.user_id=%s ORDER BY og.id", (world.a_id,))
    addrs = await db.fetchall(pool, "SELECT * FROM addresses WHERE user_id=%s ORDER BY id", (world.a_id,))
    cart = await redis.hgetall(cart_key(world.a_id))
    return orders, goods, addrs, cart, await redis.smembers(f"user_sessions:{world.a_id}")


@pytest.mark.parametrize("route,method", CALLS, ids=[f"{m} {r.pattern}" for r, m in CALLS])
async def test_access_matrix(route, method, world, pool, redis, tally):
    await redis.hset(cart_key(world.a_id), str(world.sku), "2")
    path, pairs = aimed_at_a(world, route)
    for who in WHO:
        if who != "anon" and "sid" not in world.client(who).cookies:
            await world.client(who).login({"a": "shopper_a", "b": "shopper_b", "staff": "staff_01"}[who])
        client = world.client(who)
        before = await a_state(world, pool, redis)
        url, body, headers = encode(route, method, path, pairs, as_json=False, xsrf=None)
        if body is not None and not route.exempt_from_xsrf:
            body += b"&_xsrf=" + client.xsrf.encode()
        r = await client.request(method, url, body=body, headers=headers)
        tally.count("access matrix requests")
        assert_answered(method, r, route)
        if route.is_admin:
            if who == "staff":
                # Staff get in (the page, a 302 after a write, or a 4xx for this matrix's filler ids and fields).
                assert r.code not in (401, 403), (who, r)
                # The back office shows and acts on every shopper's orders by design: that is its job.
                continue
            if who != "anon":
                assert r.code == 403, (who, r)  # a shopper
            elif method in ("GET", "HEAD"):
                assert r.code == 302 and r.headers["Location"].startswith("/user/login?next="), (who, r)
            else:
                assert r.code == 401, (who, r)  # a write cannot be redirected to the login page
        if who != "a":
            assert A_MARK not in r.text and A_ADDR not in r.text, (who, method, url, r)
            assert world.a_order not in r.text, (who, method, url, r)
            assert await a_state(world, pool, redis) == before, f"{who} changed A's data with {method} {url}"


async def test_order_socket_only_for_its_owner(world, base_url, tally):
    [route] = [r for r in ROUTES if r.is_websocket]
    path = route.fill([world.a_order])
    for who in ("anon", "b", "staff", "a"):
        client = world.client(who)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        ws = await websocket_connect(HTTPRequest(base_url.replace("http", "ws") + path, headers={"Cookie": cookie}))
        message = await ws.read_message()
        tally.count("websocket access checks")
        if who == "a":
            assert message is not None and '"status"' in message
        else:
            expected = WS_NOT_LOGGED_IN if who == "anon" else WS_FORBIDDEN  # staff too: a shopper's own page
            assert message is None and ws.close_code == expected, (who, message, ws.close_code)
        ws.close()


POSTS = [route for route in ROUTES if "POST" in route.methods]


@pytest.mark.parametrize("route", POSTS, ids=[r.pattern for r in POSTS])
@pytest.mark.parametrize("token", ["missing", "forged"])
async def test_csrf_on_every_post(route, token, world, snapshot, tally):
    path, pairs = aimed_at_a(world, route)
    if token == "forged":
        pairs.append(("_xsrf", "2|deadbeef|" + "0" * 32 + "|1700000000"))
    url, body, headers = encode(route, "POST", path, pairs, as_json=False, xsrf=None)
    before = await snapshot.take()
    r = await world.a.request("POST", url, body=body, headers=headers)
    tally.count("csrf requests")
    if route.exempt_from_xsrf:
        assert r.code == 400 and r.text == "fail"  # no _xsrf, but no valid Alipay signature either
    else:
        assert r.code == 403 and XSRF_MESSAGE in message(r), r
    assert await snapshot.take() == before
