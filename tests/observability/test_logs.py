"""Log lines: the request id on every line a request causes, JSON lines, domain events, and no secrets anywhere."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

from tornado.web import decode_signed_value

from fresh import db, logs, sessions
from fresh.orders.expiry import expire_orders
from fresh.orders.status import ActionRes
from fresh.payments.watcher import watch_once
from fresh.settings import ROOT, load_settings
from tests.helpers import DEFAULT_PASSWORD, Client, free_port, wait_until
from tests.observability.conftest import json_lines, moved, order_status, pay, place_order, scrape, series

# The local sandbox gateway runs in the test process: its own lines (Tornado's default access log of the gateway,
# with the signed query strings an Alipay gateway receives) are the outside party's, not the shop's.
OUTSIDE = ("fresh.payments.sandbox", "tornado.access")


def shop_records(records):
    return [r for r in records if not r.name.startswith(OUTSIDE)]


async def test_the_callers_request_id_is_on_every_line_of_its_request_and_in_its_response(
        base_url, catalog, make_buyer, captured):
    sku = await catalog(price="10.50", stock=5)
    buyer = await make_buyer("logger_01", {}, base_url)
    client = buyer["client"]
    added = await client.post("/cart/add", {"sku_id": str(sku), "count": "2"}, ajax=True)
    assert added.code == 200
    mark = captured.mark()
    r = await client.post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "3",
                                            "sku_ids": str(sku)}, ajax=True, headers={"X-Request-Id": "abc"})
    assert r.code == 200 and r.headers["X-Request-Id"] == "abc"
    order_id = r.json()["order_id"]
    records = captured.since(mark)
    assert records and all(rec.request_id == "abc" for rec in records), [(rec.name, rec.getMessage(), rec.request_id)
                                                                           for rec in records]
    lines = json_lines(captured.lines("json", records))
    placed = [line for line in lines if line.get("event") == "order_placed"]
    assert len(placed) == 1
    assert placed[0] | {"time": None} == {
        "time": None, "level": "INFO", "logger": "fresh.orders", "request_id": "abc", "route": "order_commit",
        "user_id": buyer["id"], "event": "order_placed", "order_id": order_id, "amount": "31.00",
        "strategy": "atomic", "message": f"order_placed order_id={order_id} user_id={buyer['id']} amount=31.00"
                                         " strategy=atomic"}
    access = [line for line in lines if line["logger"] == "fresh.access"]
    assert len(access) == 1
    assert access[0]["status"] == 200 and access[0]["method"] == "POST" and access[0]["path"] == "/order/commit"
    assert access[0]["route"] == "order_commit" and access[0]["user_id"] == buyer["id"]
    assert access[0]["request_id"] == "abc" and access[0]["duration_ms"] >= 0
    assert access[0]["time"].endswith("+00:00")
    text = captured.lines("text", records)
    assert all("[abc]" in line for line in text) and any("order_placed order_id=" in line for line in text)


async def test_requests_without_an_id_get_their_own_and_unsafe_ids_are_replaced(client, captured):
    first, second = await client.get("/healthz"), await client.get("/healthz")
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)
    assert (await client.get("/healthz", headers={"X-Request-Id": "from-nginx-42"})).headers["X-Request-Id"] == \
        "from-nginx-42"
    for unsafe in ("two words", "quote\"s", "x" * 65):
        mark = captured.mark()
        forged = await client.get("/healthz", headers={"X-Request-Id": unsafe})
        assert forged.headers["X-Request-Id"] != unsafe and len(forged.headers["X-Request-Id"]) == 16
        assert [rec.request_id for rec in captured.since(mark)] == [forged.headers["X-Request-Id"]]


async def test_payment_lines_carry_the_notify_request_or_the_watchers_unit_of_work(app, base_url, gateway, catalog,
                                                                                    make_buyer, pool, captured):
    sku = await catalog(price="5.00", stock=9)
    buyer = await make_buyer("logger_02", {}, base_url)
    client = buyer["client"]
    r = await place_order(client, buyer, sku, count=1)
    order_id = r.json()["order_id"]
    await pay(client, order_id)

    async def paid() -> bool:
        return await order_status(pool, order_id) == 2

    await wait_until(paid)
    lines = json_lines(captured.lines("json", shop_records(captured.records)))
    recorded = [line for line in lines if line.get("event") == "payment_recorded"]
    assert len(recorded) == 1 and recorded[0]["order_id"] == order_id and recorded[0]["source"] == "notify"
    assert recorded[0]["amount"] == "15.00" and recorded[0]["delay_seconds"] >= 0
    notify = [line for line in lines if line["logger"] == "fresh.access" and line.get("route") == "alipay_notify"]
    assert len(notify) == 1 and notify[0]["request_id"] == recorded[0]["request_id"] != "-"

    # A lost notify: the watcher finds the payment, and logs it under the order's own unit of work.
    gateway.drop_notifies = True
    r = await place_order(client, buyer, sku, count=1)
    second = r.json()["order_id"]
    await pay(client, second)
    mark = captured.mark()
    assert await watch_once(app) == [second]
    lines = json_lines(captured.lines("json", shop_records(captured.since(mark))))
    recorded = [line for line in lines if line.get("event") == "payment_recorded"]
    assert len(recorded) == 1 and recorded[0]["source"] == "watcher"
    assert recorded[0]["request_id"] == f"watch:{second}"


async def test_a_wrong_password_is_written_nowhere(client, user, captured):
    secret = "Wr0ngSecret-" + DEFAULT_PASSWORD[::-1]
    r = await client.post("/user/login", {"username": user["username"], "pwd": secret})
    assert r.code == 401 and "用户名或密码错误" in r.text
    assert captured.records  # the access line at least
    for fmt in ("text", "json"):
        for line in captured.lines(fmt):
            assert secret not in line and DEFAULT_PASSWORD not in line


async def test_no_line_holds_a_session_id_a_cookie_or_a_signature(base_url, gateway, catalog, make_buyer, pool,
                                                                   settings, captured):
    sku = await catalog(price="7.00", stock=9)
    buyer = await make_buyer("logger_03", {}, base_url)
    client = buyer["client"]
    r = await place_order(client, buyer, sku, count=1)
    order_id = r.json()["order_id"]
    done = await pay(client, order_id)

    async def paid() -> bool:
        return await order_status(pool, order_id) == 2

    await wait_until(paid)
    # Notifies whose signatures the test knows: a valid repeat, and one tampered with after signing.
    row = await db.fetchone(pool, "SELECT trade_no FROM order_info WHERE order_id=%s", (order_id,))
    repeat = gateway.signed_params({
        "notify_time": "2026-01-01 10:00:00", "notify_type": "trade_status_sync", "notify_id": "obs1",
        "app_id": settings.alipay.app_id, "charset": "utf-8", "version": "1.0", "trade_no": row["trade_no"],
        "out_trade_no": order_id, "trade_status": "TRADE_SUCCESS", "total_amount": "17.00",
        "seller_id": settings.alipay.seller_id, "gmt_payment": "2026-01-01 09:59:59"})
    notifier = Client(base_url)
    assert (await notifier.post("/order/notify/alipay", repeat, xsrf=False)).text == "success"
    assert (await notifier.post("/order/notify/alipay", {**repeat, "total_amount": "0.01"}, xsrf=False)).code == 400
    # The signed return URL (sign in its query string) is visited too, and a stale cookie is sent once.
    location = done.headers["Location"]
    page = await client.get(location[len(base_url):])
    assert page.code == 200
    cookie = client.cookies["sid"]
    claims = sessions.decode_cookie(decode_signed_value(settings.web.cookie_secret, "sid", cookie))
    stale = Client(base_url)
    stale.cookies["sid"] = cookie[:-4] + "0000"
    await stale.get("/user")
    await client.get("/user/logout")

    forbidden = [
        parse_qs(urlsplit(location).query)["sign"][0],  # the return URL's signature
        repeat["sign"],  # the notifies' signature
        cookie, cookie.rsplit("|", 1)[-1], stale.cookies["sid"],  # the signed cookie and its signature
        claims.sid,  # the session id
        client.xsrf,
        settings.web.cookie_secret,
    ]
    assert len(forbidden) >= 7
    # As written, and as they would appear in a logged URL.
    needles = {variant for value in forbidden for variant in (value, quote(value, safe=""), quote_plus(value))}
    records = shop_records(captured.records)
    assert any(r.name == "fresh.access" and "alipay_return" == r.route for r in records)
    for fmt in ("text", "json"):
        for line in captured.lines(fmt, records):
            for needle in needles:
                assert needle not in line, (needle, line)


def test_json_format_and_text_format_lines(monkeypatch):
    for fmt in ("json", "text"):
        stream = io.StringIO()
        root = logging.getLogger()
        saved = (list(root.handlers), root.level)
        try:
            logs.setup_logging(fmt, "INFO", stream=stream)
            with logs.unit_of_work("expire:2026"):
                logs.event(logging.getLogger("fresh.test"), "order_expired", order_id="2026", source="expiry")
            logging.getLogger("fresh.test").debug("not at INFO")
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
        lines = stream.getvalue().splitlines()
        assert len(lines) == 1
        if fmt == "json":
            line = json.loads(lines[0])
            assert line["event"] == "order_expired" and line["request_id"] == "expire:2026"
            assert line["level"] == "INFO" and line["logger"] == "fresh.test" and line["order_id"] == "2026"
        else:
            assert " INFO fresh.test [expire:2026]: order_expired order_id=2026 source=expiry" in lines[0]


def test_log_settings_come_from_fresh_log_format(tmp_path):
    cfg = load_settings(path="/nonexistent", env={"FRESH_LOG_FORMAT": "json", "FRESH_METRICS_ALLOW": "10.0.0.0/8"},
                        var_dir=str(tmp_path))
    assert cfg.log.format == "json" and cfg.metrics.allow == "10.0.0.0/8"
    for env in ({"FRESH_LOG_FORMAT": "xml"}, {"FRESH_METRICS_ALLOW": "not-a-network"}, {"FRESH_LOG_LEVEL": "LOUD"}):
        try:
            load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path))
        except ValueError as exc:
            assert list(env)[0].split("_", 1)[1].split("_")[0].lower() in str(exc)
        else:
            raise AssertionError(f"{env} accepted")


async def test_an_activation_token_in_the_path_stays_out_of_the_access_line(client, captured):
    token = "tok3n-that-activates-an-account.abcdef"
    r = await client.get(f"/user/active/{token}")
    assert r.code == 400
    access = [rec for rec in captured.records if rec.name == "fresh.access"]
    assert len(access) == 1 and access[0].path == "<activate>"
    for fmt in ("text", "json"):
        assert not [line for line in captured.lines(fmt) if token in line]


async def test_app_py_with_fresh_log_format_json_writes_only_json_lines(settings):
    port = free_port()
    env = dict(os.environ, FRESH_MODE="test", FRESH_DB_NAME=settings.db.name, FRESH_REDIS_URL=settings.redis.url,
               FRESH_VAR_DIR=str(settings.var_path), FRESH_WEB_COOKIE_SECRET=settings.web.cookie_secret,
               FRESH_ALIPAY_APP_PRIVATE_KEY=str(settings.alipay.app_private_key),
               FRESH_ALIPAY_ALIPAY_PUBLIC_KEY=str(settings.alipay.alipay_public_key), FRESH_LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), "--port", str(port), cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        client = Client(f"http://127.0.0.1:{port}")
        for _ in range(100):
            try:
                r = await client.get("/healthz", headers={"X-Request-Id": "json-e2e-1"})
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert r.code == 200 and r.headers["X-Request-Id"] == "json-e2e-1"
        assert (await client.get("/no/such/page")).code == 404
        proc.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(proc.stdout.read(), 15)).decode()
        assert await asyncio.wait_for(proc.wait(), 15) == 0, output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = json_lines([line for line in output.splitlines() if line.strip()])
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    health = [line for line in lines if line["request_id"] == "json-e2e-1"]
    assert len(health) == 1 and health[0]["route"] == "healthz" and health[0]["status"] == 200
    missing = [line for line in lines if line.get("route") == "not_found" and line["logger"] == "fresh.access"]
    assert len(missing) == 1 and missing[0]["status"] == 404 and missing[0]["request_id"] != "-"
    assert any(line["message"] == "shutting down" and line["request_id"] == "-" for line in lines)


async def test_expiry_and_cancel_log_and_count_each_close_under_its_own_id(app, base_url, catalog, make_buyer,
                                                                            pool, captured):
    sku = await catalog(price="4.00", stock=9)
    buyer = await make_buyer("logger_04", {}, base_url)
    client = buyer["client"]
    before = await scrape(client)
    expiring = (await place_order(client, buyer, sku, count=1)).json()["order_id"]
    cancelled = (await place_order(client, buyer, sku, count=1)).json()["order_id"]
    await db.execute(pool, "UPDATE order_info SET expires_at=UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE order_id=%s",
                     (expiring,))
    mark = captured.mark()
    assert (await expire_orders(app)).closed == [expiring]
    r = await client.post("/order/cancel", {"order_id": cancelled}, ajax=True, headers={"X-Request-Id": "cancel-1"})
    assert r.code == 200 and r.json()["res"] == ActionRes.DONE
    lines = json_lines(captured.lines("json", shop_records(captured.since(mark))))
    expired = [line for line in lines if line.get("event") == "order_expired"]
    assert len(expired) == 1 and expired[0]["order_id"] == expiring and expired[0]["request_id"] == f"expire:{expiring}"
    assert expired[0]["source"] == "expiry" and expired[0]["user_id"] == buyer["id"]
    closed = [line for line in lines if line.get("event") == "order_closed"]
    assert len(closed) == 1 and closed[0]["order_id"] == cancelled and closed[0]["request_id"] == "cancel-1"
    assert closed[0]["source"] == "web" and closed[0]["route"] == "order_cancel"
    after = await scrape(client)
    assert moved(before, after, "fresh_orders_closed", "fresh_orders_expiry") == {
        series("fresh_orders_closed_total", source="expiry"): 1,
        series("fresh_orders_closed_total", source="web"): 1,
        series("fresh_orders_expiry_total", outcome="closed"): 1,
    }
