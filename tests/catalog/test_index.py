"""The index page: served from `cache:index` once built, rebuilt after invalidate_index()."""

from __future__ import annotations

import json
import re

from fresh import db
from fresh.catalog.index import INDEX_KEY, get_index, invalidate_index


async def test_index_is_cached_and_rebuilt_after_invalidation(demo, client, pool, redis, settings):
    assert await redis.exists(INDEX_KEY) == 0  # the seed invalidated it
    first = await client.get("/")
    assert first.code == 200 and "大兴大棚草莓" in first.text
    ttl = await redis.ttl(INDEX_KEY)
    assert 0 < ttl <= settings.catalog.index_cache_ttl
    cached = json.loads(await redis.get(INDEX_KEY))
    assert len(cached["types"]) == 6 and all(len(t["goods"]) == 4 and len(t["titles"]) == 3 for t in cached["types"])
    assert cached["types"][0]["goods"][0]["price"] == "16.80"  # Decimal travels as a string

    await db.execute(pool, "UPDATE goods_sku SET name='改名草莓' WHERE id=1")
    stale = await client.get("/index")
    assert "大兴大棚草莓" in stale.text and "改名草莓" not in stale.text

    await invalidate_index(redis)
    fresh = await client.get("/")
    assert "改名草莓" in fresh.text and "大兴大棚草莓" not in fresh.text.replace("大兴大棚草莓礼盒", "")


async def test_cached_index_needs_no_mariadb_row(demo, client, pool, redis):
    await client.get("/")
    # Every catalog row gone from MariaDB: a cached index still renders all of it, so nothing was read there.
    async with db.cursor(pool) as cur:
        await cur.execute("SET FOREIGN_KEY_CHECKS=0")
        for table in ("index_type_goods", "index_banners", "index_promotions", "goods_sku", "goods", "goods_types"):
            await cur.execute(f"DELETE FROM {table}")
        await cur.execute("SET FOREIGN_KEY_CHECKS=1")
    cached = await client.get("/")
    assert cached.code == 200
    assert cached.text.count('class="floor wrap"') == 6 and "速冻食品" in cached.text
    await invalidate_index(redis)
    empty = await client.get("/")
    assert empty.code == 200 and 'class="floor wrap"' not in empty.text


async def test_corrupt_cache_is_rebuilt(demo, pool, redis):
    await redis.set(INDEX_KEY, "{not json")
    data = await get_index(pool, redis, ttl=60)
    assert len(data["types"]) == 6
    assert json.loads(await redis.get(INDEX_KEY))["types"][0]["name"] == "新鲜水果"


async def test_off_sale_goods_leave_the_index(demo, client, pool, redis):
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id IN (1, 11)")
    await invalidate_index(redis)
    page = (await client.get("/")).text
    assert 'href="/goods/1"' not in page and 'href="/goods/11"' not in page  # floor cell and banner both gone
    assert 'href="/goods/3"' in page


async def test_header_cart_count_is_per_visitor(demo, new_client, user, pool, redis):
    anon, shopper = new_client(), new_client()
    await shopper.login(user["username"])
    await redis.hset(f"cart_{user['id']}", mapping={"1": 2, "3": 1})

    def badge(html: str) -> str:
        return re.search(r'id="show_count">(\d+)<', html).group(1)

    assert badge((await anon.get("/")).text) == "0"
    assert await redis.exists(INDEX_KEY)
    assert badge((await shopper.get("/")).text) != "0"
    assert badge((await anon.get("/")).text) == "0"
