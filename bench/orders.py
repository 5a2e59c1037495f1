"""POST /order/commit with concurrent buyers (asyncio client): orders/s, p99, deadlock retries and oversell.

Each buyer is a logged-in shopper with an address. Before every commit the buyer's cart gets one unit of its SKU
through the cart's own domain function (one Redis script, as POST /cart/add would do), so the timed request is the
commit alone. Stock conservation is checked in MariaDB before and after: stock+sales unchanged per SKU, sales
increase equal to the order_goods counts, and a sell-out round where 50 buyers race for 100 units must sell exactly
100.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter

import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from tornado.web import decode_signed_value

from bench.common import LOGS, Result, percentile, progress
from bench.fixtures import BENCH_SKUS, BIG_STOCK
from fresh import db
from fresh.cart import cart
from fresh.catalog.cache import invalidate_catalog
from fresh.sessions import COOKIE_NAME, decode_cookie

SELLOUT_STOCK = 100


def session_of(run, shopper):
    """The Session behind a shopper's signed `sid` cookie."""
    raw = shopper.cookies[COOKIE_NAME].strip('"')
    return decode_cookie(decode_signed_value(run.cfg.web.cookie_secret, COOKIE_NAME, raw))


def bench_skus(run) -> list[int]:
    """The SKUs the fixtures added for the bench (the highest ids)."""
    return run.sku_ids[-BENCH_SKUS:]


async def _stock(pool, sku_ids: list[int]) -> dict[int, dict]:
    marks = ",".join(["%s"] * len(sku_ids))
    rows = await db.fetchall(
        pool,
        f"SELECT s.id, s.stock, s.sales, (SELECT COALESCE(SUM(g.count), 0) FROM order_goods g"  # noqa: S608 -- only %s marks formatted in
        f" WHERE g.sku_id = s.id) AS ordered FROM goods_sku s WHERE s.id IN ({marks})", sku_ids)
    return {r["id"]: r for r in rows}


def _oversell(before: dict, after: dict) -> tuple[int, list[str]]:
    """Units sold beyond what stock allowed or not backed by order_goods (must be 0), and the reasons."""
    bad, why = 0, []
    for sku_id, b in before.items():
        a = after[sku_id]
        if a["stock"] + a["sales"] != b["stock"] + b["sales"]:
            why.append(f"sku {sku_id}: stock+sales {b['stock'] + b['sales']} -> {a['stock'] + a['sales']}")
            bad += abs((a["stock"] + a["sales"]) - (b["stock"] + b["sales"]))
        sold, ordered = a["sales"] - b["sales"], int(a["ordered"]) - int(b["ordered"])
        if sold != ordered:
            why.append(f"sku {sku_id}: sales +{sold} but order_goods +{ordered}")
            bad += abs(sold - ordered)
        if sold > b["stock"]:
            why.append(f"sku {sku_id}: sold {sold} of {b['stock']}")
            bad += sold - b["stock"]
    return bad, why


def _log_retries(strategy: str) -> int:
    """Deadlock / lock-wait retries the orders code logged ("retrying once"); it exports no counter."""
    path = LOGS / f"shop-{strategy}.log"
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text(errors="replace").splitlines() if "retrying once" in line)


async def _metric_retries(shopper) -> float | None:
    """Deadlock retries from /metrics (fresh_order_retries_total{reason="deadlock"}); None if it is unreadable."""
    response = await shopper.get("/metrics")
    if response.code != 200:
        return None
    total = 0.0
    for family in text_string_to_metric_families(response.body.decode()):
        if family.name == "fresh_order_retries":
            total += sum(s.value for s in family.samples if s.labels.get("reason") == "deadlock")
    return total


async def _buy_loop(run, redis, shopper, sku_id: int, *, deadline: float, budget: list[int], latencies: list,
                    codes: Counter, stop_on_no_stock: bool = False) -> None:
    session = session_of(run, shopper)
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        await cart.add_to_cart(redis, session=session, sku_id=sku_id, count=1, stock=BIG_STOCK, max_count=999,
                               guest_ttl=0)
        started = time.perf_counter()
        response = await shopper.post("/order/commit", {
            "addr_id": shopper.user["addr_id"], "pay_method": "3", "sku_ids": str(sku_id),
            "idem_key": secrets.token_urlsafe(12)})
        latencies.append(time.perf_counter() - started)
        try:
            res = json.loads(response.body)["res"]
        except (ValueError, KeyError, TypeError):
            res = f"http {response.code}"
        codes[res] += 1
        if res == 5:
            shopper.orders.append(json.loads(response.body)["order_id"])
        if stop_on_no_stock and res == 6:
            return


async def _buyers(run, sku_for, *, seconds: float, budget: int, stop_on_no_stock: bool = False):
    people = await run.logged_in(run.opts.buyers)
    for p in people:
        p.base_url = run.base_url
        p.orders = getattr(p, "orders", [])
    # The cart-add scenario left units in these carts: empty them, so every order is exactly one unit.
    await run.empty_carts(people)
    redis = aioredis.from_url(run.cfg.redis.url, decode_responses=True)
    latencies: list[float] = []
    codes: Counter = Counter()
    box = [budget]
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    try:
        await asyncio.gather(*(
            _buy_loop(run, redis, p, sku_for(i), deadline=deadline, budget=box, latencies=latencies, codes=codes,
                      stop_on_no_stock=stop_on_no_stock) for i, p in enumerate(people)))
    finally:
        await redis.aclose()
    return time.monotonic() - started, latencies, codes


async def commit_scenario(run, *, strategy: str, kind: str) -> Result:
    skus = bench_skus(run)
    hot = skus[0]
    distinct = skus[1:1 + run.opts.buyers]

    def sku_for(i: int) -> int:
        return hot if kind == "hot" else distinct[i % len(distinct)]

    watched = [hot] if kind == "hot" else distinct
    pool = await db.create_pool(run.cfg.db)
    try:
        before = await _stock(pool, watched)
        retries_before = _log_retries(strategy)
        metric_before = await _metric_retries((await run.logged_in(1))[0])
        elapsed, latencies, codes = await _buyers(run, sku_for, seconds=run.opts.seconds, budget=run.opts.max_orders)
        after = await _stock(pool, watched)
    finally:
        pool.close()
        await pool.wait_closed()
    metric_after = await _metric_retries((await run.logged_in(1))[0])
    oversell, why = _oversell(before, after)
    created = codes.get(5, 0)
    retries = (metric_after - metric_before if metric_after is not None and metric_before is not None
               else _log_retries(strategy) - retries_before)
    source = "/metrics" if metric_after is not None else "the shop's log"
    errors = sum(n for res, n in codes.items() if res != 5)
    label = "hot SKU" if kind == "hot" else "distinct SKUs"
    result = Result(
        scenario=f"POST /order/commit {strategy}, {label}", rps=created / elapsed if elapsed else None,
        p50_ms=_ms(percentile(latencies, 50)), p99_ms=_ms(percentile(latencies, 99)), requests=len(latencies),
        errors=errors, unit="orders/s",
        note=f"{run.opts.buyers} buyers; deadlock retries {retries:g} ({source}); res 7: {codes.get(7, 0)};"
             f" oversell {oversell}",
        extra={"oversell": oversell, "retries": retries, "codes": dict(codes)},
    )
    if why:
        result.extra["details"] = "; ".join(why[:5])
    return result


async def sellout_scenario(run, *, strategy: str) -> Result:
    """50 buyers race for SELLOUT_STOCK units of one SKU: exactly that many orders, stock 0, nothing more."""
    index = {"atomic": 0, "pessimistic": 1, "optimistic": 2}[strategy]
    sku_id = bench_skus(run)[-1 - index]
    pool = await db.create_pool(run.cfg.db)
    try:
        await db.execute(pool, "UPDATE goods_sku SET stock=%s WHERE id=%s", (SELLOUT_STOCK, sku_id))
        before = await _stock(pool, [sku_id])
        elapsed, latencies, codes = await _buyers(run, lambda i: sku_id, seconds=max(run.opts.seconds, 10),
                                                  budget=SELLOUT_STOCK * 4, stop_on_no_stock=True)
        after = await _stock(pool, [sku_id])
    finally:
        # Restocked as an admin would (the write, then the catalog's version): a sold-out SKU left behind made every
        # later scenario's adds of it answer 409 (no stock), counted as errors.
        await db.execute(pool, "UPDATE goods_sku SET stock=%s WHERE id=%s", (BIG_STOCK, sku_id))
        redis = aioredis.from_url(run.cfg.redis.url)
        try:
            await asyncio.wait_for(invalidate_catalog(redis), 10)
        finally:
            await redis.aclose()
        pool.close()
        await pool.wait_closed()
    oversell, why = _oversell(before, after)
    sold = after[sku_id]["sales"] - before[sku_id]["sales"]
    ok = oversell == 0 and sold == SELLOUT_STOCK and after[sku_id]["stock"] == 0 and codes.get(5, 0) == sold
    result = Result(
        scenario=f"sell-out {strategy}: {run.opts.buyers} buyers race for {SELLOUT_STOCK} units",
        rps=codes.get(5, 0) / elapsed if elapsed else None, p50_ms=_ms(percentile(latencies, 50)),
        p99_ms=_ms(percentile(latencies, 99)), requests=len(latencies), unit="orders/s",
        target="sells exactly the stock, oversell 0", met=ok,
        note=f"sold {sold} units in {codes.get(5, 0)} orders, stock left {after[sku_id]['stock']},"
             f" replies {_codes(codes)}, oversell {oversell}",
        extra={"oversell": oversell},
    )
    if why:
        result.extra["details"] = "; ".join(why[:5])
    return result


def _codes(codes: Counter) -> str:
    names = {5: "created", 6: "no stock", 7: "failed"}
    return ", ".join(f"{names.get(k, f'res {k}')} {n}" for k, n in sorted(codes.items(), key=str))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def summary(results: list[Result]) -> None:
    for r in results:
        progress(f"{r.scenario}: {r.note}")
