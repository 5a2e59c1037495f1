"""Instances dying and restarting under load, behind nginx: kill -9 loses nothing committed and leaves nothing half
written; a SIGTERM restart of every instance, one by one, fails no non-idempotent request, every status socket
reconnects and ends with the order's status, and no process needs SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from fresh import db
from tests.fixtures.orders import commit_form, sku_row
from tests.fixtures.payments import signed_notify, unsigned

STOCK = 10_000


async def shop_and_buy(buyer: dict, sku: int, rounds: int, outcomes: list) -> None:
    """Add one to the cart, commit it; `rounds` times. Each outcome: (kind, HTTP status, order_id or None)."""
    client = buyer["client"]
    for i in range(rounds):
        r = await client.post("/cart/add", {"sku_id": str(sku), "count": "1"}, ajax=True)
        outcomes.append(("add", r.code, None))
        r = await client.post("/order/commit", commit_form(buyer, [sku], idem_key=f"{buyer['username']}-{i}"))
        order_id = r.json().get("order_id") if r.code == 200 else None
        outcomes.append(("commit", r.code, order_id))


async def assert_orders_intact(pool, sku: int) -> int:
    """Every order has its lines, totals and creation event; stock and sales moved by exactly the lines."""
    orders = await db.fetchall(pool, "SELECT o.order_id, o.total_count, COALESCE(SUM(g.count), 0) AS line_count,"
                                     " COUNT(g.id) AS n FROM order_info o LEFT JOIN order_goods g"
                                     " ON g.order_id=o.order_id GROUP BY o.order_id, o.total_count")
    for order in orders:
        assert order["n"] == 1 and order["line_count"] == order["total_count"] >= 1, order
    created = await db.fetchone(pool, "SELECT COUNT(DISTINCT order_id) AS n FROM order_events WHERE to_status=1")
    assert created["n"] == len(orders)
    taken = sum(order["line_count"] for order in orders)
    row = await sku_row(pool, sku)
    assert row["stock"] == STOCK - taken and row["sales"] == taken
    return len(orders)


async def test_kill_9_of_an_instance_during_orders_loses_nothing(deployment, pool, catalog,
                                                                 make_buyer):
    sku = await catalog(stock=STOCK)
    buyers = await asyncio.gather(*(make_buyer(f"killer_{i:02d}", {}, deployment.base_url) for i in range(40)))
    outcomes: list = []
    victim = deployment.pid(0)
    load = asyncio.gather(*(shop_and_buy(b, sku, 5, outcomes) for b in buyers))
    while len(outcomes) < 60:  # noqa: ASYNC110  (in the middle of the 200 commits and 200 adds)
        await asyncio.sleep(0.01)
    os.kill(victim, signal.SIGKILL)
    await load
    assert len([o for o in outcomes if o[0] == "commit"]) == 200

    committed = {o[2] for o in outcomes if o[0] == "commit" and o[1] == 200}
    stored = {row["order_id"] for row in await db.fetchall(pool, "SELECT order_id FROM order_info")}
    assert committed <= stored  # every order a buyer was told about exists; others died with the instance
    assert len(committed) >= 100  # the other instance kept taking orders
    await assert_orders_intact(pool, sku)

    # supervisor brings the instance back, and requests after it succeed.
    deployment.wait_running(0, other_than=victim)
    after: list = []
    await asyncio.gather(*(shop_and_buy(b, sku, 1, after) for b in buyers[:10]))
    assert [o[1] for o in after] == [200] * 20, after
    await assert_orders_intact(pool, sku)


class StatusWatcher:
    """The order page's watcher (static/js/pay.js) in Python: a status socket through nginx that reconnects after
    any close but the final ones, and remembers every status and close code it saw."""

    def __init__(self, base_url: str, client, order_id: str):
        self.url = base_url.replace("http", "ws") + f"/ws/orders/{order_id}"
        self.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        self.statuses: list[int] = []
        self.closes: list[int | None] = []
        self.connected = asyncio.Event()
        self.ws = None
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        while True:
            try:
                ws = await websocket_connect(HTTPRequest(self.url, headers={"Cookie": self.cookie},
                                                         connect_timeout=5, request_timeout=5))
            except Exception:  # a refused or reset handshake while an instance restarts: try again
                await asyncio.sleep(0.2)
                continue
            self.ws = ws
            self.connected.set()
            while (message := await ws.read_message()) is not None:
                body = json.loads(message)
                if body.get("type") == "status":
                    self.statuses.append(body["status"])
            self.connected.clear()
            self.closes.append(ws.close_code)
            ws.close()
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        if self.ws is not None:
            self.ws.close()


async def keep_adding(client, sku: int, stop: asyncio.Event, results: list) -> None:
    while not stop.is_set():
        r = await client.post("/cart/add", {"sku_id": str(sku), "count": "1"}, ajax=True)
        results.append(r.code)
        r = await client.get(f"/goods/{sku}")
        results.append(r.code)


async def test_rolling_sigterm_restart_under_load(deployment, pool, signer, catalog, make_buyer):
    sku = await catalog(price="10.50", stock=STOCK)
    buyers = await asyncio.gather(*(make_buyer(f"roller_{i:02d}", {sku: 1}, deployment.base_url) for i in range(6)))
    orders = []
    for buyer in buyers:
        r = await buyer["client"].post("/order/commit", commit_form(buyer, [sku]))
        assert r.code == 200, r
        orders.append(r.json()["order_id"])
    watchers = [StatusWatcher(deployment.base_url, b["client"], o) for b, o in zip(buyers, orders, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(w.connected.wait() for w in watchers)), 30)

    stop, results = asyncio.Event(), []
    shoppers = await asyncio.gather(*(make_buyer(f"loader_{i:02d}", {}, deployment.base_url) for i in range(8)))
    load = asyncio.gather(*(keep_adding(s["client"], sku, stop, results) for s in shoppers))
    old_pids = [deployment.pid(i) for i in range(2)]
    log_start = len(deployment.log("supervisord.log"))
    try:
        for index in range(2):
            # Half the orders are paid while this instance restarts (the notify goes through nginx).
            for order_id in orders[index * 3:index * 3 + 2]:
                form = signer.signed_params({**unsigned(signed_notify(signer, order_id)), "total_amount": "20.50"})
                r = await buyers[0]["client"].post("/order/notify/alipay", form, xsrf=False)
                assert r.text == "success", r
            output = await asyncio.to_thread(deployment.ctl, "restart", deployment.program(index))
            assert "started" in output, output
            await asyncio.to_thread(deployment.wait_running, index, other_than=old_pids[index])
    finally:
        stop.set()
        await load
    assert results and set(results) == {200}, sorted(set(results))

    # Every socket was sent away (1001) at least once, came back and ends with the order's status.
    paid = set(orders[0:2] + orders[3:5])
    for watcher, order_id in zip(watchers, orders, strict=True):
        expected = 2 if order_id in paid else 1
        for _ in range(100):
            if watcher.statuses and watcher.statuses[-1] == expected and watcher.connected.is_set():
                break
            await asyncio.sleep(0.1)
        assert 1001 in watcher.closes and watcher.statuses[-1] == expected, (watcher.closes, watcher.statuses)
        await watcher.stop()

    log = deployment.log("supervisord.log")[log_start:]
    assert "SIGKILL" not in log, log
    for index in range(2):
        name = f"app-{deployment.layout.app_ports[index]}"
        assert re.search(rf"stopped: {name} \(exit status 0\)", log), log
