"""The several-machines rehearsal (issue #20): one cluster for the module, its tests in the order written.

The cluster's machines are network namespaces; shoppers come from the root namespace through nginx on `lb`, as a
browser on this machine would. Faults are real: a Redis server killed with SIGKILL, a MariaDB replica shut down, an
app machine's cable unplugged.
"""

from __future__ import annotations

import asyncio
import re
import time

from fresh import cluster, db
from tests.cluster.conftest import body, make_shopper, make_sku, wait_for


def upstreams_served(rehearsal, since: int = 0) -> list[str]:
    log = rehearsal.log("lb", "nginx-access.log")[since:]
    return re.findall(r"upstream=(\S+)", log)


async def test_shoppers_through_lb_reach_both_app_hosts(rehearsal, primary_pool):
    start = len(rehearsal.log("lb", "nginx-access.log"))
    shopper = await make_shopper(rehearsal, primary_pool, "reach_01")
    for page in range(12):
        r = await shopper["client"].get(f"/list/1/1?sort={('default', 'price', 'hot')[page % 3]}")
        assert r.code == 200, r
    hosts = {upstream.split(":")[0] for upstream in upstreams_served(rehearsal, start)}
    assert {rehearsal.c.addr("app1"), rehearsal.c.addr("app2")} <= hosts, hosts


async def test_session_and_cart_made_on_app1_work_on_app2(rehearsal, primary_pool):
    sku = await make_sku(primary_pool, stock=50, name="跨机草莓")
    on_app1 = await make_shopper(rehearsal, primary_pool, "travel_01", base_url=rehearsal.app_url("app1"))
    r = await on_app1["client"].post("/cart/add", {"sku_id": str(sku), "count": "2"}, ajax=True)
    assert r.code == 200 and r.json()["total_count"] == 2, r

    # The same browser (cookies, _xsrf) now talks to the other machine.
    on_app2 = rehearsal.client(rehearsal.app_url("app2", cluster.APP_PORTS[1]))
    on_app2.cookies, on_app2.xsrf = dict(on_app1["client"].cookies), on_app1["client"].xsrf
    r = await on_app2.get("/cart")
    assert r.code == 200 and "跨机草莓" in r.text, r
    r = await on_app2.post("/cart/add", {"sku_id": str(sku), "count": "1"}, ajax=True)
    assert r.code == 200 and r.json()["total_count"] == 3, r
    r = await on_app2.get("/user")
    assert r.code == 200 and "travel_01" in r.text, r


async def _keep_ordering(shopper, sku: int, stop: asyncio.Event, acked: list, codes: list) -> None:
    client = shopper["client"]
    while not stop.is_set():
        r = await client.post("/cart/add", {"sku_id": str(sku), "count": "1"}, ajax=True)
        codes.append(r.code)
        if r.code != 200:
            await asyncio.sleep(0.1)
            continue
        r = await client.post("/order/commit", {"addr_id": str(shopper["addr_id"]), "pay_method": "1",
                                                "sku_ids": str(sku)}, ajax=True)
        codes.append(r.code)
        if r.code == 200 and body(r).get("res") == 5:
            acked.append((time.monotonic(), r.json()["order_id"]))
        else:
            await asyncio.sleep(0.1)


async def test_an_app_host_cut_off_under_load_loses_no_committed_order(rehearsal, primary_pool):
    c = rehearsal.c
    stock = 100000
    sku = await make_sku(primary_pool, stock=stock, name="断网苹果")
    shoppers = await asyncio.gather(*(make_shopper(rehearsal, primary_pool, f"cutoff_{i:02d}") for i in range(24)))
    stop, acked, codes = asyncio.Event(), [], []
    load = asyncio.gather(*(_keep_ordering(s, sku, stop, acked, codes) for s in shoppers))
    try:
        await wait_for("orders before the cut", lambda: asyncio.sleep(0.2, len(acked) >= 20), timeout=60)
        cluster.set_link(c, "app1", up=False)
        cut_at = time.monotonic()
        try:
            # The other machine takes every new order while app1 is away.
            await wait_for("orders through app2 alone",
                           lambda: asyncio.sleep(0.2, len([t for t, _ in acked if t > cut_at + 3]) >= 40),
                           timeout=90)
        finally:
            cluster.set_link(c, "app1", up=True)
        for port in cluster.APP_PORTS:
            await wait_for(f"app1:{port} back", lambda p=port: asyncio.to_thread(
                cluster.answers, f"{rehearsal.app_url('app1', p)}/readyz"), timeout=60)
        await asyncio.sleep(2)
    finally:
        stop.set()
        await asyncio.wait_for(load, 120)

    stored = {row["order_id"]: row for row in await db.fetchall(
        primary_pool, "SELECT o.order_id, o.total_count, COALESCE(SUM(g.count), 0) AS units, COUNT(g.id) AS n"
                      " FROM order_info o LEFT JOIN order_goods g ON g.order_id=o.order_id"
                      " WHERE o.user_id IN (SELECT id FROM users WHERE username LIKE 'cutoff\\_%%')"
                      " GROUP BY o.order_id, o.total_count")}
    acknowledged = {order_id for _, order_id in acked}
    assert acknowledged <= set(stored), acknowledged - set(stored)  # nothing a shopper was told about is lost
    for row in stored.values():  # nor half-written: every order has its line and the right total
        assert row["n"] == 1 and row["units"] == row["total_count"] >= 1, row
    row = await db.fetchone(primary_pool, "SELECT stock, sales FROM goods_sku WHERE id=%s", (sku,))
    # The stock moved once per stored order (committed but unacknowledged ones included), never twice or not at all.
    bought = sum(order["units"] for order in stored.values())
    assert stock - row["stock"] == row["sales"] == bought, (row, bought)
    assert set(codes) <= {200, 502, 503, 504}, sorted(set(codes))
