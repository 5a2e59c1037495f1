"""POST /cart/add reads a SKU's stock from the catalog's per-process cache, checked against the catalog version."""

from __future__ import annotations

import asyncio

from fresh import db
from fresh.cart import cart
from fresh.catalog import goods
from fresh.catalog.cache import VERSION_KEY, LocalCache, in_flight, invalidate_catalog
from tests.cart.test_add import add
from tests.clock import ManualClock


async def set_stock(pool, sku_id: int, stock: int) -> None:
    await db.execute(pool, "UPDATE goods_sku SET stock=%s WHERE id=%s", (stock, sku_id))


async def test_cached_add_reads_nothing_from_mariadb(user_client, skus, pool, redis, user):
    assert (await add(user_client, skus["apple"], 1)).code == 200
    # Off sale in MariaDB without an invalidation: within the cache's lifetime the add still works, so it read
    # nothing there.
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=%s", (skus["apple"],))
    assert (await add(user_client, skus["apple"], 1)).json()["total_count"] == 2
    # A catalog write invalidates every process's cache: the off-sale SKU is refused at once.
    await invalidate_catalog(redis)
    r = await add(user_client, skus["apple"], 1)
    assert r.code == 404 and r.json()["res"] == cart.AddRes.NO_SKU
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2}


async def test_cap_follows_a_stock_change_after_invalidation(user_client, skus, pool, redis, user):
    assert (await add(user_client, skus["kiwi"], 10)).code == 200  # stock 30, now cached
    await set_stock(pool, skus["kiwi"], 12)
    await invalidate_catalog(redis)
    r = await add(user_client, skus["kiwi"], 3)
    assert r.code == 409 and r.json()["res"] == cart.AddRes.NO_STOCK and r.json()["stock"] == 12
    assert (await add(user_client, skus["kiwi"], 2)).json()["total_count"] == 12
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["kiwi"]: 12}


async def test_stale_cached_stock_is_only_advisory_and_forget_refreshes(user_client, skus, pool, redis, user):
    assert (await add(user_client, skus["kiwi"], 10)).code == 200
    await set_stock(pool, skus["kiwi"], 11)  # as an order would: no invalidation
    # Within the cache's lifetime the cap is the stock read before (orders check stock for real).
    assert (await add(user_client, skus["kiwi"], 5)).json()["total_count"] == 15
    goods.forget_cart_sku(redis)
    r = await add(user_client, skus["kiwi"], 1)
    assert r.code == 409 and r.json()["stock"] == 11
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["kiwi"]: 15}


async def test_lost_version_stamp_makes_the_add_read_again(user_client, skus, pool, redis, user):
    assert (await add(user_client, skus["berry"], 5)).code == 200  # stock 20, cached under the current stamp
    await set_stock(pool, skus["berry"], 6)
    await redis.delete(VERSION_KEY)  # as after a FLUSHDB: the script refuses the cached stock and the add re-reads
    r = await add(user_client, skus["berry"], 2)
    assert r.code == 409 and r.json()["stock"] == 6
    assert await redis.get(VERSION_KEY)
    assert (await add(user_client, skus["berry"], 1)).json()["total_count"] == 6


async def test_refusal_from_cached_stock_is_confirmed_by_a_fresh_read(client, skus, pool, redis):
    assert (await add(client, skus["berry"], 20)).code == 200
    other = client.__class__(client.base_url)
    await set_stock(pool, skus["berry"], 50)  # restocked without invalidation
    # A guest without a session asking for more than the cached stock: the refusal is checked against MariaDB.
    r = await add(other, skus["berry"], 30)
    assert r.code == 200 and r.json()["total_count"] == 30


async def test_cache_entries_are_bounded_and_expire():
    clock = ManualClock()
    cache = LocalCache(max_entries=2, clock=clock)
    cache.put(1, "v", "a", ttl=60)
    cache.put(2, "v", "b", ttl=60)
    cache.put(3, "v", "c", ttl=60)
    assert cache.get(1, "v") is None and cache.get(3, "v") == "c"
    assert cache.get(2, "other") is None and cache.entry(2) is None  # a stale stamp drops the entry
    cache.put(4, "v", "d", ttl=0)  # ttl 0: not cached at all
    assert cache.entry(4) is None
    clock.advance(59.9)
    assert cache.get(3, "v") == "c" and not cache.expires_within(3, 0.05) and cache.expires_within(3, 0.2)
    clock.advance(0.1)
    assert cache.get(3, "v") is None and cache.entry(3) is None


async def test_entry_in_its_last_fifth_is_refreshed_in_the_background(skus, pool, redis, clock):
    sku = skus["kiwi"]
    goods.forget_cart_sku(redis)
    _, facts = await goods.cart_sku(pool, redis, sku, ttl=10.0)
    assert facts["stock"] == 30
    await set_stock(pool, sku, 7)  # as an order would: no invalidation
    _, facts = await goods.cart_sku(pool, redis, sku, ttl=10.0)
    assert facts["stock"] == 30  # young entry: served as is, nothing read
    # Entries live 80-100% of the ttl (cache.spread): at 7.9 s this one has 0.1-2.1 s left, inside its last fifth.
    clock.advance(7.9)
    _, facts = await goods.cart_sku(pool, redis, sku, ttl=10.0)
    assert facts["stock"] == 30  # still answers from the entry, and starts the refresh
    await asyncio.sleep(0)  # the refresh task starts
    refresh = in_flight(redis).get(("cart_sku", sku))
    assert refresh is not None
    await refresh
    await set_stock(pool, sku, 3)
    clock.advance(2.2)  # past the old entry's deadline (10 s at most): a miss now would read 3
    _, facts = await goods.cart_sku(pool, redis, sku, ttl=10.0)
    assert facts["stock"] == 7  # the refreshed entry (8 s at least from 7.9 s) answers


async def test_concurrent_misses_share_one_read(skus, pool, redis, monkeypatch):
    reads = []
    real = goods.get_sku

    async def counted(pool_, sku_id, **kw):
        reads.append(sku_id)
        return await real(pool_, sku_id, **kw)

    monkeypatch.setattr(goods, "get_sku", counted)
    goods.forget_cart_sku(redis)
    await redis.set(VERSION_KEY, "v-test")
    answers = await asyncio.gather(*(goods.cart_sku(pool, redis, skus["apple"], ttl=5.0) for _ in range(30)))
    assert reads == [skus["apple"]]
    assert {a[0] for a in answers} == {"v-test"} and all(a[1]["stock"] == answers[0][1]["stock"] for a in answers)
