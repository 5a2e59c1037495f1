"""No oversell, no deadlock, nothing partial: for each stock strategy, with real concurrent HTTP requests."""

from __future__ import annotations

import asyncio
from collections import Counter

from fresh import db
from fresh.cart.cart import cart_key
from fresh.orders.place import CommitRes
from tests.fixtures.orders import commit_form, make_buyers, sku_row
from tests.helpers import count


async def test_100_buyers_for_10_in_stock(pool, shop, catalog, make_buyer):
    base_url, _cfg = shop
    sku = await catalog("车厘子", stock=10, sales=3)
    buyers = await make_buyers(make_buyer, 100, {sku: 1}, base_url)
    replies = await asyncio.gather(*(
        b["client"].post("/order/commit", commit_form(b, [sku], idem_key=f"key-{b['id']:08d}"), ajax=True)
        for b in buyers
    ))
    outcome = Counter((r.code, r.json()["res"]) for r in replies)
    assert outcome == {(200, 5): 10, (409, 6): 90}, outcome
    row = await sku_row(pool, sku)
    assert row["stock"] == 0 and row["sales"] == 13
    assert await count(pool, "order_info") == 10
    assert await count(pool, "order_goods") == 10
    assert await count(pool, "order_info", "total_count=1") == 10


async def test_crossed_orders_never_deadlock(pool, redis, shop, catalog, make_buyer):
    base_url, _cfg = shop
    a = await catalog("A", stock=1000)
    b = await catalog("B", stock=1000)
    one = await make_buyer("cross_ab", {}, base_url)
    two = await make_buyer("cross_ba", {}, base_url)
    rounds = 15
    for _ in range(rounds):
        await redis.hset(cart_key(one["id"]), mapping={str(a): "1", str(b): "1"})
        await redis.hset(cart_key(two["id"]), mapping={str(a): "1", str(b): "1"})
        replies = await asyncio.gather(*(
            [one["client"].post("/order/commit", commit_form(one, [a, b]), ajax=True) for _ in range(3)]
            + [two["client"].post("/order/commit", commit_form(two, [b, a]), ajax=True) for _ in range(3)]
        ))
        # The first commit of each buyer empties their cart; later ones may answer "not in the cart" (NO_SUCH_SKU),
        # never a deadlock or failure.
        assert all(r.json()["res"] in (CommitRes.NO_SUCH_SKU, CommitRes.CREATED) for r in replies), replies
        assert sum(r.json()["res"] == CommitRes.CREATED for r in replies) >= 2
    orders = await count(pool, "order_info")
    assert await count(pool, "order_goods") == 2 * orders
    assert (await sku_row(pool, a))["stock"] == 1000 - orders == (await sku_row(pool, b))["stock"]


async def test_crossed_orders_from_many_buyers(pool, shop, catalog, make_buyer):
    base_url, _cfg = shop
    a = await catalog("A", stock=500)
    b = await catalog("B", stock=500)
    c = await catalog("C", stock=500)
    buyers = await make_buyers(make_buyer, 30, {a: 1, b: 2, c: 3}, base_url, prefix="multi")
    orders = [[a, b, c], [c, b, a], [b, a, c]]
    replies = await asyncio.gather(*(
        x["client"].post("/order/commit", commit_form(x, orders[i % 3]), ajax=True) for i, x in enumerate(buyers)
    ))
    assert [r.json()["res"] for r in replies] == [CommitRes.CREATED] * 30, [r for r in replies if r.code != 200]
    assert [(await sku_row(pool, s))["stock"] for s in (a, b, c)] == [470, 440, 410]


async def test_last_sku_lacking_stock_leaves_nothing(pool, shop, catalog, make_buyer):
    base_url, _cfg = shop
    skus = [await catalog(f"S{i}", stock=5) for i in range(3)]
    last = await catalog("最后", stock=1)
    buyer = await make_buyer("alice_01", {**{s: 2 for s in skus}, last: 2}, base_url)
    r = await buyer["client"].post("/order/commit", commit_form(buyer, [*skus, last]), ajax=True)
    assert (r.code, r.json()["res"], r.json()["sku_id"]) == (409, CommitRes.NO_STOCK, last)
    assert await count(pool, "order_info") == 0 and await count(pool, "order_goods") == 0
    assert await count(pool, "order_events") == 0
    assert [(await sku_row(pool, s))["stock"] for s in skus] == [5, 5, 5]
    assert (await sku_row(pool, last))["stock"] == 1


async def _waiting_connection(pool, holder_id: int) -> int:
    for _ in range(500):
        row = await db.fetchone(
            pool,
            # Only this run's database: the server is shared, and another run's order must not be the one killed.
            "SELECT id FROM information_schema.processlist WHERE id<>%s AND id<>CONNECTION_ID() AND db=DATABASE()"
            " AND command='Query' AND info LIKE %s AND info NOT LIKE %s LIMIT 1",
            (holder_id, "%goods_sku%", "%processlist%"),
        )
        if row:
            return row["id"]
        await asyncio.sleep(0.01)
    raise AssertionError("the order never waited on the SKU lock")


async def test_connection_killed_mid_transaction(pool, shop, catalog, make_buyer):
    base_url, _cfg = shop
    free = await catalog("先锁的", stock=5)
    locked = await catalog("被锁的", stock=5)
    buyer = await make_buyer("alice_01", {free: 1, locked: 1}, base_url)
    async with db.connection(pool) as holder:
        async with holder.cursor() as cur:
            await cur.execute("SELECT CONNECTION_ID() AS id")
            holder_id = (await cur.fetchone())["id"]
            await holder.begin()
            # Hold the second SKU's row: the order takes the first SKU, inserts its line, then waits here.
            await cur.execute("SELECT id FROM goods_sku WHERE id=%s FOR UPDATE", (locked,))
            request = asyncio.ensure_future(
                buyer["client"].post("/order/commit", commit_form(buyer, [free, locked]), ajax=True))
            victim = await _waiting_connection(pool, holder_id)
            await db.execute(pool, "KILL %s", (victim,))
            r = await request
            await holder.rollback()
    assert r.code == 503 and r.json()["res"] == CommitRes.FAILED, r
    assert await count(pool, "order_info") == 0 and await count(pool, "order_goods") == 0
    assert await count(pool, "order_events") == 0
    assert (await sku_row(pool, free))["stock"] == 5 and (await sku_row(pool, locked))["stock"] == 5
    # The pool recovers: the next order goes through.
    r = await buyer["client"].post("/order/commit", commit_form(buyer, [free, locked]), ajax=True)
    assert r.json()["res"] == CommitRes.CREATED


async def test_double_commit_with_one_idem_key(pool, shop, catalog, make_buyer):
    base_url, _cfg = shop
    sku = await catalog(stock=3)
    buyer = await make_buyer("alice_01", {sku: 1}, base_url)
    form = commit_form(buyer, [sku], idem_key="double-click-0001")
    replies = await asyncio.gather(*(buyer["client"].post("/order/commit", form, ajax=True) for _ in range(10)))
    assert {(r.code, r.json()["res"]) for r in replies} == {(200, CommitRes.CREATED)}
    assert len({r.json()["order_id"] for r in replies}) == 1
    assert await count(pool, "order_info") == 1
    assert (await sku_row(pool, sku))["stock"] == 2


async def test_refusal_names_the_short_sku_not_one_this_order_took(pool, shop, catalog, make_buyer):
    base_url, _cfg = shop
    exact = await catalog("刚好够", stock=2)  # taken first (lower id): its stock reads 0 inside the transaction
    short = await catalog("不够", stock=1)
    buyer = await make_buyer("alice_01", {exact: 2, short: 3}, base_url)
    r = await buyer["client"].post("/order/commit", commit_form(buyer, [exact, short]), ajax=True)
    assert (r.code, r.json()["res"], r.json()["sku_id"]) == (409, CommitRes.NO_STOCK, short)
    assert (await sku_row(pool, exact))["stock"] == 2 and (await sku_row(pool, short))["stock"] == 1


async def test_order_taking_all_of_one_sku_while_others_race_for_another(pool, shop, catalog, make_buyer):
    # The optimistic strategy's lost races on `busy` must not count this order's own take of `exact` against it.
    base_url, _cfg = shop
    exact = await catalog("刚好够", stock=2)
    busy = await catalog("抢购", stock=1000)
    buyer = await make_buyer("alice_01", {exact: 2, busy: 1}, base_url)
    others = await make_buyers(make_buyer, 30, {busy: 1}, base_url)
    replies = await asyncio.gather(
        buyer["client"].post("/order/commit", commit_form(buyer, [exact, busy]), ajax=True),
        *(b["client"].post("/order/commit", commit_form(b, [busy]), ajax=True) for b in others),
    )
    assert all(r.json()["res"] in (CommitRes.CREATED, CommitRes.FAILED) for r in replies), [r.json() for r in replies]
    mine = replies[0].json()
    assert mine["res"] == CommitRes.CREATED or (mine["res"] == CommitRes.FAILED and "sku_id" not in mine), mine
    row = await sku_row(pool, exact)
    assert row["stock"] + row["sales"] == 2 and row["stock"] in (0, 2)
