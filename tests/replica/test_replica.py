"""The read pool against a real primary and replica: catalog pages, search and reports read from the replica; stock
and money decisions never do; a replica stopped or stalled leaves the shop serving from the primary."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from fresh import db, replica
from fresh.cart.cart import cart_key
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.search import sync_search_index
from fresh.web import make_app
from tests.helpers import Client, add_address, create_user
from tests.replica.conftest import forget_queries, shop_queries

# A piece of each read's SQL as the general log shows it.
LIST_ROWS = "LIMIT 12 OFFSET"  # a category page's rows (catalog.page_size is 12)
DETAIL = "AS spu_name"  # the detail page's SKU
SEARCH = "FROM sku_search"  # the search's matches
DASHBOARD = "paid_at>="  # the dashboard's figures
AUDIT = "FROM audit_log"


async def seed(pool) -> dict:
    """One category with two on-sale SKUs (stock 10 each), both on the index's floor and in the search index."""
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo, image) VALUES ('新鲜水果', 'fruit', '')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('草莓', '<p>甜</p>')")
        goods_id = cur.lastrowid
        skus = []
        for name in ("草莓", "蓝莓"):
            await cur.execute("INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock,"
                              " sales, status) VALUES (%s, %s, %s, '新鲜', %s, '500g', '', 10, 0, 1)",
                              (type_id, goods_id, name, Decimal("10.00")))
            skus.append(cur.lastrowid)
            await cur.execute("INSERT INTO index_type_goods (type_id, sku_id, display_type, `index`)"
                              " VALUES (%s, %s, 1, 0)", (type_id, cur.lastrowid))
    await sync_search_index(pool, sku_ids=skus)
    return {"type_id": type_id, "skus": skus}


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("fresh_db_replica_fallbacks_total", {"reason": reason}) or 0.0


def having(queries: list[str], marker: str) -> list[str]:
    return [q for q in queries if marker in q]


async def queries_of(pair) -> tuple[list[str], list[str]]:
    """(the primary's, the replica's) statements from the shop since forget_queries()."""
    return (await asyncio.to_thread(shop_queries, pair.primary),
            await asyncio.to_thread(shop_queries, pair.replica))


async def test_catalog_search_and_reports_read_from_the_replica(shop, mariadb_pair):
    rows = await seed(shop.pool)
    staff_id = await create_user(shop.pool, shop.cfg, "boss_01", staff=True)
    await asyncio.to_thread(mariadb_pair.sync)
    staff = Client(shop.base_url)
    await staff.login("boss_01")
    await asyncio.to_thread(forget_queries, mariadb_pair.primary, mariadb_pair.replica)

    shopper = Client(shop.base_url)
    for path in ("/", f"/list/{rows['type_id']}/1", f"/goods/{rows['skus'][0]}", "/search?q=%E8%8D%89%E8%8E%93"):
        r = await shopper.get(path)
        assert r.code == 200 and "草莓" in r.text, (path, r)
    for path in ("/admin/", "/admin/audit"):
        r = await staff.get(path)
        assert r.code == 200, (path, r)

    on_primary, on_replica = await queries_of(mariadb_pair)
    for marker in (LIST_ROWS, DETAIL, SEARCH, DASHBOARD, AUDIT):
        assert having(on_replica, marker), (marker, on_replica)
        assert not having(on_primary, marker), (marker, on_primary)
    assert shop.reads.healthy
    assert staff_id


async def test_cart_cap_and_order_commit_decide_on_the_primary_while_the_replica_lags(shop, mariadb_pair):
    rows = await seed(shop.pool)
    sku = rows["skus"][0]
    user_id = await create_user(shop.pool, shop.cfg, "alice_01")
    addr_id = await add_address(shop.pool, user_id)
    await asyncio.to_thread(mariadb_pair.sync)
    # The replica stops applying: it keeps stock 10 while the primary's falls to 2.
    await asyncio.to_thread(mariadb_pair.replica.root_sql, "STOP SLAVE SQL_THREAD")
    try:
        await db.execute(shop.pool, "UPDATE goods_sku SET stock=2 WHERE id=%s", (sku,))
        on_replica = await asyncio.to_thread(mariadb_pair.replica.root_sql,
                                             f"SELECT stock FROM {shop.cfg.db.name}.goods_sku WHERE id={sku}")  # noqa: S608 -- the test's own database name and int SKU id
        assert on_replica.strip() == "10"
        buyer = Client(shop.base_url)
        await buyer.login("alice_01")
        # The catalog page shows the replica's (lagging) figure: it did read the replica.
        page = await buyer.get(f"/goods/{sku}")
        assert page.code == 200 and "库  存：10" in page.text

        await asyncio.to_thread(forget_queries, mariadb_pair.primary, mariadb_pair.replica)
        refused = await buyer.post("/cart/add", {"sku_id": str(sku), "count": "5"}, ajax=True)
        assert refused.code == 409 and refused.json()["res"] == 4, refused
        added = await buyer.post("/cart/add", {"sku_id": str(sku), "count": "2"}, ajax=True)
        assert added.code == 200 and added.json()["res"] == 5, added

        # Three in the cart (set directly: the cap would refuse it): the primary's 2 refuse the order.
        await shop.redis.hset(cart_key(user_id), str(sku), "3")
        form = {"addr_id": str(addr_id), "pay_method": "1", "sku_ids": str(sku)}
        too_many = await buyer.post("/order/commit", {**form, "idem_key": "a" * 16}, ajax=True)
        assert too_many.code == 409, too_many
        await shop.redis.hset(cart_key(user_id), str(sku), "2")
        placed = await buyer.post("/order/commit", {**form, "idem_key": "b" * 16}, ajax=True)
        assert placed.code == 200 and placed.json()["res"] == 5, placed
        assert (await db.fetchone(shop.pool, "SELECT stock FROM goods_sku WHERE id=%s", (sku,)))["stock"] == 0

        on_primary, on_replica = await queries_of(mariadb_pair)
        assert on_replica == [], on_replica  # neither the cap nor the order asked the replica anything
        assert having(on_primary, "goods_sku")
    finally:
        await asyncio.to_thread(mariadb_pair.replica.root_sql, "START SLAVE SQL_THREAD")


async def test_what_is_kept_until_the_next_catalog_write_is_built_from_the_primary(shop, mariadb_pair):
    """The index data and a category's count live until the next catalog write: built from a replica still behind
    that write, they would show the catalog from before it for as long (an hour for the index)."""
    rows = await seed(shop.pool)
    copy_sku = ("INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock, sales, status)"
                " SELECT type_id, goods_id, %s, `desc`, price, unite, image, 10, 0, 1 FROM goods_sku WHERE id=%s")
    for i in range(10):  # a full first page: 12 SKUs (catalog.page_size)
        await db.execute(shop.pool, copy_sku, (f"莓{i}", rows["skus"][0]))
    await asyncio.to_thread(mariadb_pair.sync)
    client = Client(shop.base_url)
    assert "草莓" in (await client.get("/")).text
    assert (await client.get(f"/list/{rows['type_id']}/2")).code == 302  # one page: page 2 is page 1
    await asyncio.to_thread(mariadb_pair.replica.root_sql, "STOP SLAVE SQL_THREAD")
    try:
        # A catalog write the replica has not applied: a new name, and a 13th SKU that makes a second page.
        await db.execute(shop.pool, "UPDATE goods_sku SET name='奶油草莓' WHERE id=%s", (rows["skus"][0],))
        await db.execute(shop.pool, copy_sku, ("黑莓", rows["skus"][0]))
        await invalidate_catalog(shop.redis)
        assert "奶油草莓" in (await client.get("/")).text
        assert (await client.get(f"/list/{rows['type_id']}/2")).code == 200
    finally:
        await asyncio.to_thread(mariadb_pair.replica.root_sql, "START SLAVE SQL_THREAD")


async def test_a_stopped_replica_leaves_the_shop_on_the_primary_until_it_is_back(shop, mariadb_pair, caplog):
    rows = await seed(shop.pool)
    await asyncio.to_thread(mariadb_pair.sync)
    client = Client(shop.base_url)
    list_page = f"/list/{rows['type_id']}/1"
    assert (await client.get(list_page)).code == 200  # the replica's pool holds a connection now
    connect_before = fallbacks("connect")
    await asyncio.to_thread(mariadb_pair.replica.stop)
    try:
        await asyncio.to_thread(forget_queries, mariadb_pair.primary)
        with caplog.at_level(logging.WARNING, logger="fresh.replica"):
            for path in (list_page + "?sort=price", f"/goods/{rows['skus'][1]}", "/search?q=%E8%93%9D%E8%8E%93"):
                r = await client.get(path)
                assert r.code == 200 and "蓝莓" in r.text, (path, r)
        assert not shop.reads.healthy
        assert fallbacks("connect") == connect_before + 1  # the first read met it; the others went straight on
        assert [rec for rec in caplog.records if getattr(rec, "event", "") == "replica_down"]
        on_primary = await asyncio.to_thread(shop_queries, mariadb_pair.primary)
        for marker in (LIST_ROWS, DETAIL, SEARCH):
            assert having(on_primary, marker), (marker, on_primary)
    finally:
        await asyncio.to_thread(mariadb_pair.replica.start)
    await asyncio.to_thread(mariadb_pair.sync)

    # Still within db.replica_retry: the primary answers. Past it, the next read tries the replica and stays there.
    await asyncio.to_thread(forget_queries, mariadb_pair.primary, mariadb_pair.replica)
    assert (await client.get(list_page + "?sort=hot")).code == 200
    assert not having(await asyncio.to_thread(shop_queries, mariadb_pair.replica), LIST_ROWS)
    shop.clock.advance(shop.cfg.db.replica_retry)
    for sort in ("new", "default"):
        assert (await client.get(f"{list_page}?sort={sort}")).code == 200
    on_primary, on_replica = await queries_of(mariadb_pair)
    assert len(having(on_replica, LIST_ROWS)) == 2, on_replica
    assert len(having(on_primary, LIST_ROWS)) == 1, on_primary  # only the one within the retry window
    assert shop.reads.healthy


async def test_a_stalled_replica_costs_a_read_its_timeout_then_the_primary_answers(shop, mariadb_pair):
    rows = await seed(shop.pool)
    await asyncio.to_thread(mariadb_pair.sync)
    client = Client(shop.base_url)
    list_page = f"/list/{rows['type_id']}/1"
    assert (await client.get(list_page)).code == 200
    query_before = fallbacks("query")
    mariadb_pair.replica.stall()
    try:
        r = await client.get(list_page + "?sort=price")
        assert r.code == 200 and "草莓" in r.text
        assert not shop.reads.healthy, (fallbacks("query"), fallbacks("connect"), fallbacks("down"))
        assert fallbacks("query") == query_before + 1
    finally:
        mariadb_pair.replica.resume()


async def test_a_replica_behind_by_more_than_max_lag_is_left_until_it_catches_up(shop, mariadb_pair):
    rows = await seed(shop.pool)
    sku = rows["skus"][0]
    await asyncio.to_thread(mariadb_pair.sync)
    reads = replica.ReplicaReads(shop.pool, shop.reads.replica, timeout=1.0, retry=30.0, max_lag=5.0)
    assert replica.background(reads) == [replica.watch_replica_lag] and replica.background(shop.pool) == []
    name = "SELECT name FROM goods_sku WHERE id=%s"
    await reads.check_lag()
    assert not reads.lagging
    await asyncio.to_thread(mariadb_pair.replica.root_sql, "STOP SLAVE SQL_THREAD")
    try:
        await db.execute(shop.pool, "UPDATE goods_sku SET name='奶油草莓' WHERE id=%s", (sku,))
        assert (await db.fetchone(reads, name, (sku,)))["name"] == "草莓"  # the replica, behind
        await reads.check_lag()  # replication stopped: Seconds_Behind_Master is unknown
        assert reads.lagging
        assert (await db.fetchone(reads, name, (sku,)))["name"] == "奶油草莓"  # the primary
    finally:
        await asyncio.to_thread(mariadb_pair.replica.root_sql, "START SLAVE SQL_THREAD")
    await asyncio.to_thread(mariadb_pair.sync)
    await reads.check_lag()
    assert not reads.lagging
    await asyncio.to_thread(forget_queries, mariadb_pair.replica)
    assert (await db.fetchone(reads, name, (sku,)))["name"] == "奶油草莓"
    assert having(await asyncio.to_thread(shop_queries, mariadb_pair.replica), "SELECT name FROM goods_sku")


async def test_a_lag_check_the_replica_refuses_is_logged_once_and_reads_stay_on_it(shop, mariadb_pair, caplog):
    await asyncio.to_thread(mariadb_pair.primary.root_sql,
                            "CREATE USER IF NOT EXISTS 'reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw';"
                            f" GRANT SELECT ON `{shop.cfg.db.name}`.* TO 'reader'@'127.0.0.1'")
    await asyncio.to_thread(mariadb_pair.sync)
    reader_cfg = dataclasses.replace(shop.cfg.db, port=mariadb_pair.replica.port, user="reader", password="reader-pw")
    pool = await db.create_pool(reader_cfg, minsize=0)
    try:
        reads = replica.ReplicaReads(shop.pool, pool, timeout=1.0, retry=30.0, max_lag=5.0)
        with caplog.at_level(logging.WARNING, logger="fresh.replica"):
            await reads.check_lag()
            await reads.check_lag()
        assert not reads.lagging
        assert len([r for r in caplog.records if "SLAVE MONITOR" in r.getMessage()]) == 1
    finally:
        pool.close()
        await pool.wait_closed()


async def test_the_read_pool_refuses_writes(shop):
    with pytest.raises(ValueError, match="reads only"):
        await db.execute(shop.reads, "UPDATE goods_sku SET stock=0")
    with pytest.raises(ValueError, match="reads only"):
        await db.execute(shop.reads, "DELETE FROM goods_sku")


async def test_without_a_replica_every_read_takes_the_primary_pool(pool, redis, settings):
    assert settings.db.replica == ""
    reads = await replica.open_reads(settings.db, pool)
    assert reads is pool
    app = make_app(settings, pool=pool, redis=redis)
    try:
        assert app.reads is app.db is pool
    finally:
        app.close()
    await replica.close_reads(reads, pool)
    assert not pool.closed
