"""/metrics: prometheus-client's exposition, read back with its own parser; who may read it."""

from __future__ import annotations

from fresh.orders.place import CommitRes
from fresh.web import make_app
from tests.conftest import make_settings
from tests.fixtures.payments import next_status, open_socket
from tests.helpers import AppServer, Client, wait_until
from tests.observability.conftest import moved, order_status, pay, place_order, scrape, series

DOMAIN = ("fresh_order_commits", "fresh_order_retries", "fresh_order_deadlock", "fresh_payments",
          "fresh_payment_record_delay_seconds_count", "fresh_cart_operations", "fresh_alipay_notify_refused",
          "fresh_websocket_messages", "fresh_websocket_publish_delay_seconds_count")


def histogram_moved_by_one(before, after, name: str, **labels) -> None:
    """Exactly one observation: _count +1, +Inf +1, every bucket +0 or +1, and once +1 every larger bucket too."""
    assert after[series(f"{name}_count", **labels)] - before.get(series(f"{name}_count", **labels), 0) == 1
    buckets = sorted((float(dict(key[1])["le"]), after[key] - before.get(key, 0)) for key in after
                      if key[0] == f"{name}_bucket" and {k: v for k, v in key[1] if k != "le"} == labels)
    assert buckets and buckets[-1] == (float("inf"), 1)
    changes = [change for _, change in buckets]
    assert set(changes) <= {0, 1} and changes == sorted(changes)
    assert after[series(f"{name}_sum", **labels)] >= before.get(series(f"{name}_sum", **labels), 0)


async def test_one_order_and_one_payment_move_the_metrics_by_exactly_that(base_url, gateway, catalog, make_buyer,
                                                                          pool):
    sku = await catalog(price="10.50", stock=5)
    buyer = await make_buyer("metric_01", {}, base_url)
    client = buyer["client"]
    before = await scrape(client)

    r = await place_order(client, buyer, sku)
    assert r.code == 200 and r.json()["res"] == CommitRes.CREATED, r
    order_id = r.json()["order_id"]
    ws = await open_socket(base_url, client, order_id)
    assert (await next_status(ws))["status"] == 1
    await pay(client, order_id)
    assert (await next_status(ws))["paid"]

    async def paid() -> bool:
        return await order_status(pool, order_id) == 2

    await wait_until(paid)
    after = await scrape(client)
    ws.close()

    assert moved(before, after, *DOMAIN) == {
        series("fresh_cart_operations_total", op="add", result="ok"): 1,
        series("fresh_order_commits_total", res="5", strategy="atomic"): 1,
        series("fresh_payments_total", source="notify", outcome="recorded"): 1,
        series("fresh_payment_record_delay_seconds_count", source="notify"): 1,
        series("fresh_websocket_messages_total"): 1,
        series("fresh_websocket_publish_delay_seconds_count"): 1,
    }
    histogram_moved_by_one(before, after, "fresh_http_request_duration_seconds", route="order_commit", method="POST",
                           status="200")
    histogram_moved_by_one(before, after, "fresh_payment_record_delay_seconds", source="notify")
    histogram_moved_by_one(before, after, "fresh_websocket_publish_delay_seconds")
    requests = moved(before, after, "fresh_http_requests_total")
    assert requests[series("fresh_http_requests_total", route="order_commit", method="POST", status="200")] == 1
    assert requests[series("fresh_http_requests_total", route="alipay_notify", method="POST", status="200")] == 1
    assert requests[series("fresh_http_requests_total", route="order_pay", method="POST", status="200")] == 1
    assert requests[series("fresh_http_requests_total", route="order_ws", method="GET", status="101")] == 1
    # The socket was open at the second scrape; the pool gauges describe the session's pool.
    assert after[series("fresh_websockets_open")] == before.get(series("fresh_websockets_open"), 0) + 1
    assert after[series("fresh_db_pool_max")] == 40
    assert 1 <= after[series("fresh_db_pool_size")] <= 40
    assert after[series("fresh_db_pool_waiting")] == 0
    build = [dict(labels) for name, labels in after if name == "fresh_build_info"]
    assert len(build) == 1 and build[0]["version"] and build[0]["commit"]


async def test_refused_commits_are_counted_by_res_code(base_url, catalog, make_buyer):
    sku = await catalog(price="3.00", stock=1)
    buyer = await make_buyer("metric_02", {}, base_url)
    client = buyer["client"]
    before = await scrape(client)
    r = await client.post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "9",
                                            "sku_ids": str(sku)}, ajax=True)
    assert r.code == 400 and r.json()["res"] == CommitRes.BAD_PAY_METHOD
    r = await client.post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "3",
                                            "sku_ids": str(sku)}, ajax=True)
    assert r.code == 404 and r.json()["res"] == CommitRes.NO_SUCH_SKU  # not in the cart
    r = await client.post("/order/commit", {"addr_id": "1", "pay_method": "3", "sku_ids": str(sku)}, ajax=True,
                          xsrf=False)
    assert r.code == 403
    after = await scrape(client)
    assert moved(before, after, "fresh_order_commits") == {
        series("fresh_order_commits_total", res="2", strategy="atomic"): 1,
        series("fresh_order_commits_total", res="4", strategy="atomic"): 1,
        series("fresh_order_commits_total", res="error", strategy="atomic"): 1,
    }


async def test_a_refused_notify_is_counted_by_reason(base_url, client):
    before = await scrape(client)
    r = await client.post("/order/notify/alipay", {"out_trade_no": "x", "sign": "forged"}, xsrf=False)
    assert r.code == 400 and r.text == "fail"
    after = await scrape(client)
    assert moved(before, after, "fresh_alipay_notify_refused") == {
        series("fresh_alipay_notify_refused_total", reason="bad signature"): 1}


async def test_metrics_answer_local_scrapers_and_refuse_requests_relayed_by_nginx(client):
    assert (await client.get("/metrics")).code == 200
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"X-Real-IP": "203.0.113.9"},
                   {"X-Real-IP": "127.0.0.1", "X-Forwarded-For": "127.0.0.1"}):
        r = await client.get("/metrics", headers=header)
        assert r.code == 403 and "fresh_http_requests" not in r.text, header


async def test_metrics_refuse_peers_outside_the_allowed_networks(pool, redis, tmp_path):
    async with AppServer() as server:
        cfg = make_settings(tmp_path, server.port, metrics={"allow": "10.0.0.0/8"})
        server.serve(make_app(cfg, pool=pool, redis=redis))
        r = await Client(server.url).get("/metrics")
    assert r.code == 403 and "fresh_" not in r.text


async def test_unusual_methods_make_no_series_of_their_own(client):
    before = await scrape(client)
    r = await client.request("BREW", "/healthz")
    assert r.code == 405
    after = await scrape(client)
    assert moved(before, after, "fresh_http_requests_total") == {
        series("fresh_http_requests_total", route="healthz", method="other", status="405"): 1,
        series("fresh_http_requests_total", route="metrics", method="GET", status="200"): 1,
    }


async def test_requests_refused_before_routing_are_counted(client, settings):
    before = await scrape(client)
    r = await client.get("/" + "a" * (settings.web.max_url_length + 10))
    assert r.code == 414
    after = await scrape(client)
    assert moved(before, after, "fresh_http_requests_total") == {
        series("fresh_http_requests_total", route="refused", method="GET", status="414"): 1,
        series("fresh_http_requests_total", route="metrics", method="GET", status="200"): 1,
    }
