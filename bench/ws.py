"""Websockets on one shop process: 10,000 idle order-status sockets (memory per connection), and the latency from
an Alipay notify POST to the status message on the buyer's socket, over 1,000 payments.

The notifies are built and signed by the local sandbox's own code (`SandboxApp.notify_params`), as the sandbox
sends them, and POSTed to the shop's real `/order/notify/alipay`; each order has its owner's socket open.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from bench.common import Result, percentile, progress, vm_rss_kib
from bench.orders import _buyers, bench_skus
from fresh import db
from fresh.payments import sandbox

CONNECT_CONCURRENCY = 100
# Alipay's notifies each come on their own connection: Tornado's client opens one per request, as many at once as
# the paced scenario has outstanding.
AsyncHTTPClient.configure(None, max_clients=1000)


def _ws_url(run, order_id: str) -> str:
    return run.base_url.replace("http://", "ws://", 1) + f"/ws/orders/{order_id}"


async def _open(run, shopper, order_id: str):
    """Open the owner's socket and read the current status the shop sends first."""
    request = HTTPRequest(_ws_url(run, order_id), headers={"Cookie": shopper.cookie_header}, connect_timeout=20,
                          request_timeout=20)
    conn = await asyncio.wait_for(websocket_connect(request, ping_interval=None), 30)
    first = await asyncio.wait_for(conn.read_message(), 20)
    if first is None:
        raise RuntimeError(f"socket for {order_id} closed at once ({conn.close_code} {conn.close_reason})")
    return conn, json.loads(first)


async def _orders(run, count: int) -> list[tuple[object, str]]:
    """(shopper, order_id) of unpaid orders: those the commit scenarios made, topped up with real commits."""
    people = await run.logged_in(run.opts.buyers)
    pairs = [(p, o) for p in people for o in getattr(p, "orders", []) if o not in run.paid]
    if len(pairs) < count:
        skus = bench_skus(run)[1:1 + run.opts.buyers]
        progress(f"committing {count - len(pairs)} orders to pay")
        await _buyers(run, lambda i: skus[i % len(skus)], seconds=120, budget=count - len(pairs))
        pairs = [(p, o) for p in people for o in getattr(p, "orders", []) if o not in run.paid]
    return pairs[:count]


async def idle_scenario(run) -> Result:
    target = run.opts.ws_idle
    (shopper, order_id), = await _orders(run, 1)
    pid = run.shop.pid if run.shop else None
    warm, _ = await _open(run, shopper, order_id)  # starts the process's pub/sub listener
    await asyncio.sleep(0.5)
    rss_before = vm_rss_kib(pid) if pid else 0
    sockets, failures = [], []
    deadline = time.monotonic() + max(60.0, 20 * run.opts.seconds)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.monotonic()

    async def one() -> None:
        async with gate:
            if time.monotonic() > deadline:
                return
            try:
                conn, _ = await _open(run, shopper, order_id)
                sockets.append(conn)
            except Exception as exc:
                failures.append(repr(exc))

    await asyncio.gather(*(one() for _ in range(target)))
    opened_in = time.monotonic() - started
    await asyncio.sleep(1.0)
    rss_after = vm_rss_kib(pid) if pid else 0
    still_open = sum(1 for c in sockets if c.protocol is not None)
    per_conn = (rss_after - rss_before) / len(sockets) if sockets else None
    for conn in [*sockets, warm]:
        conn.close()
    await asyncio.sleep(0.5)
    note = (f"{len(sockets):,} of {target:,} opened in {opened_in:.1f} s ({CONNECT_CONCURRENCY} at a time),"
            f" {still_open:,} still open after 1 s; shop VmRSS {rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB"
            + (f" = **{per_conn:.1f} KiB per connection**" if per_conn is not None else ""))
    result = Result(scenario=f"WS {target:,} idle connections, one process", rps=len(sockets) / opened_in,
                    requests=len(sockets), errors=len(failures), unit="opens/s", target=f"{target:,} open",
                    met=len(sockets) == target and still_open == target, note=note,
                    extra={"kib_per_connection": per_conn})
    if failures:
        result.extra["details"] = f"{len(failures)} failed, e.g. {failures[0][:200]}"
    return result


async def notify_scenario(run, *, count: int | None = None, rate: float | None = None,
                          in_flight: int = 10) -> Result:
    """Signed notifies POSTed to the shop, each timed until its status message arrives on the order's socket.

    With `rate`, the notifies arrive open-loop at that many per second, each timed from its scheduled moment (so a
    stalled shop cannot hide its backlog): the latency a payer sees at that load. Without it, `in_flight`
    notifies are kept outstanding back to back: the throughput, where the latency is mostly queueing
    (in flight / rate, by Little's law)."""
    count = count or run.opts.payments
    pairs = await _orders(run, count)
    bodies = await _signed_notifies(run, pairs)
    pairs = [(s, o) for s, o in pairs if o in bodies]
    progress(f"opening {len(pairs)} order sockets")
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(shopper, order_id):
        async with gate:
            conn, _ = await _open(run, shopper, order_id)
            return order_id, conn

    sockets = dict(await asyncio.gather(*(open_one(s, o) for s, o in pairs)))
    notify_url = run.base_url + "/order/notify/alipay"
    http = AsyncHTTPClient()
    latencies: list[float] = []
    failures: list[str] = []

    async def pay(order_id: str, started: float) -> None:
        conn = sockets[order_id]
        reply = asyncio.ensure_future(http.fetch(notify_url, method="POST", body=bodies[order_id],
                                                 request_timeout=10, raise_error=False))
        try:
            while True:
                message = await asyncio.wait_for(conn.read_message(), 10)
                if message is None:
                    raise RuntimeError("socket closed")
                if json.loads(message).get("paid"):
                    latencies.append(time.perf_counter() - started)
                    run.paid.add(order_id)
                    break
            response = await reply
            if response.body != b"success":
                failures.append(f"{order_id}: notify answered {response.code} {response.body[:40]!r}")
        except Exception as exc:
            failures.append(f"{order_id}: {exc!r}")

    queue = list(sockets)
    started = time.monotonic()
    if rate:
        first = time.perf_counter()
        tasks = []
        for n, order_id in enumerate(queue):
            due = first + n / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.ensure_future(pay(order_id, due)))
        await asyncio.gather(*tasks)
        name = f"notify → browser, {len(latencies):,} payments at {rate:g}/s"
        load = f"notifies arrive at {rate:g}/s (open loop, timed from their scheduled moment)"
    else:
        deadline = time.monotonic() + max(60.0, 10 * run.opts.seconds)

        async def pay_loop() -> None:
            while queue and time.monotonic() < deadline:
                await pay(queue.pop(), time.perf_counter())

        await asyncio.gather(*(pay_loop() for _ in range(in_flight)))
        name = f"notify → browser, saturated: {len(latencies):,} payments, {in_flight} in flight"
        load = f"{in_flight} notifies in flight back to back (the throughput; latency is mostly queueing)"
    elapsed = time.monotonic() - started
    for conn in sockets.values():
        conn.close()
    p99 = percentile(latencies, 99)
    result = Result(
        scenario=name, rps=len(latencies) / elapsed if elapsed else None,
        p50_ms=None if not latencies else 1000 * percentile(latencies, 50),
        p99_ms=None if p99 is None else 1000 * p99, requests=len(latencies), errors=len(failures),
        unit="payments/s", note=f"signed notify POST → status message on the order's open socket; {load};"
                                f" {len(sockets):,} sockets open")
    if rate:
        result.target = "p99 < 50 ms"
        result.met = p99 is not None and p99 < 0.050 and not failures
    if failures:
        result.extra["details"] = f"{len(failures)} failed, e.g. {failures[0][:200]}"
    return result


async def _signed_notifies(run, pairs) -> dict[str, str]:
    """The form body of a TRADE_SUCCESS notify per unpaid order, signed by the sandbox's own code."""
    gateway = sandbox.SandboxApp(run.cfg.sandbox)
    pool = await db.create_pool(run.cfg.db)
    try:
        marks = ",".join(["%s"] * len(pairs))
        rows = await db.fetchall(
            pool,
            f"SELECT order_id, total_price, transit_price FROM order_info"  # noqa: S608 -- only %s marks formatted in
            f" WHERE order_status=1 AND order_id IN ({marks})", [o for _, o in pairs])
    finally:
        pool.close()
        await pool.wait_closed()
    notify_url = run.base_url + "/order/notify/alipay"
    bodies = {}
    for row in rows:
        now = sandbox.now_beijing()
        trade = sandbox.Trade(out_trade_no=row["order_id"], trade_no=gateway.new_trade_no(),
                              total_amount=Decimal(row["total_price"]) + Decimal(row["transit_price"]),
                              subject="天天生鲜订单", body="", notify_url=notify_url, return_url="", time_expire=None,
                              gmt_create=now, status=sandbox.TRADE_SUCCESS, gmt_payment=now)
        bodies[row["order_id"]] = urlencode(gateway.notify_params(trade))
    return bodies
