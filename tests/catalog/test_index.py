"""The index page: rendered once per process and catalog version, rendered again after invalidate_catalog() or
once `catalog.index_cache_ttl` has passed."""

from __future__ import annotations

import re

from fresh import db
from fresh.catalog.cache import invalidate_catalog
from tests.catalog.renders import Renders


async def test_index_is_reused_and_rebuilt_after_invalidation(demo, client, pool, redis):
    renders = Renders("index")
    first = await client.get("/")
    assert first.code == 200 and "大兴大棚草莓" in first.text
    assert first.text.count('class="floor wrap"') == 6 and "¥16.80" in first.text

    await db.execute(pool, "UPDATE goods_sku SET name='改名草莓' WHERE id=1")
    stale = await client.get("/index")
    assert "大兴大棚草莓" in stale.text and "改名草莓" not in stale.text
    assert renders.count() == 1

    await invalidate_catalog(redis)
    fresh = await client.get("/")
    assert "改名草莓" in fresh.text and "大兴大棚草莓" not in fresh.text.replace("大兴大棚草莓礼盒", "")
    assert renders.count() == 2


async def test_index_is_rendered_again_once_its_ttl_has_passed(demo, client, pool, settings, clock):
    await client.get("/")
    await db.execute(pool, "UPDATE goods_sku SET name='改名草莓' WHERE id=1")  # no invalidation
    # Entries live 80-100% of their ttl (cache.spread): short of 80% the page is still the one rendered first.
    clock.advance(settings.catalog.index_cache_ttl * 0.75)
    assert "改名草莓" not in (await client.get("/")).text
    clock.advance(settings.catalog.index_cache_ttl * 0.25)
    assert "改名草莓" in (await client.get("/")).text


async def test_cached_index_needs_no_mariadb_row(demo, client, pool, redis):
    await client.get("/")
    # Every catalog row gone from MariaDB: a cached index still renders all of it, so nothing was read there.
    async with db.cursor(pool) as cur:
        await cur.execute("SET FOREIGN_KEY_CHECKS=0")
        for table in ("index_type_goods", "index_banners", "index_promotions", "goods_sku", "goods", "goods_types"):
            await cur.execute(f"DELETE FROM {table}")  # noqa: S608 -- table names from a constant tuple
        await cur.execute("SET FOREIGN_KEY_CHECKS=1")
    cached = await client.get("/")
    assert cached.code == 200
    assert cached.text.count('class="floor wrap"') == 6 and "速冻食品" in cached.text
    await invalidate_catalog(redis)
    empty = await client.get("/")
    assert empty.code == 200 and 'class="floor wrap"' not in empty.text


async def test_off_sale_goods_leave_the_index(demo, client, pool, redis):
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id IN (1, 11)")
    await invalidate_catalog(redis)
    page = (await client.get("/")).text
    assert 'href="/goods/1"' not in page and 'href="/goods/11"' not in page  # floor cell and banner both gone
    assert 'href="/goods/3"' in page


async def test_header_cart_count_is_per_visitor(demo, new_client, user, redis):
    anon, shopper = new_client(), new_client()
    await shopper.login(user["username"])
    await redis.hset(f"cart_{user['id']}", mapping={"1": 2, "3": 1})

    def badge(html: str) -> str:
        return re.search(r'id="show_count">(\d+)<', html).group(1)

    assert badge((await anon.get("/")).text) == "0"
    assert badge((await shopper.get("/")).text) != "0"
    assert badge((await anon.get("/")).text) == "0"
