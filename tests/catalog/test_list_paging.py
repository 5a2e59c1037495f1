"""Category lists at scale: a bounded page range, and a count kept per catalog version instead of one per request."""

from __future__ import annotations

import re

from fresh import db
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.goods import LIST_MAX_PAGES


async def fill(pool, type_id: int, goods_id: int, count: int) -> None:
    """`count` on-sale SKUs in one statement (MariaDB's SEQUENCE engine numbers them)."""
    await db.execute(pool, "INSERT INTO goods_sku (type_id, goods_id, name, price, unite, stock, status)"
                           " SELECT %s, %s, CONCAT('批量', seq), 9.90, '500g', 10, 1 FROM seq_1_to_2000"
                           " WHERE seq <= %s", (type_id, goods_id, count))


def shown(html: str) -> int:
    """SKUs in the page's grid (the 新品推荐 box beside it has none of its add buttons)."""
    return len(re.findall(r'class="add-goods"', html))


async def test_pages_stop_at_the_bounded_range(client, catalog, pool, settings):
    t = await catalog.category()
    await fill(pool, t, await catalog.spu(), LIST_MAX_PAGES * settings.catalog.page_size + 30)
    last = await client.get(f"/list/{t}/{LIST_MAX_PAGES}?sort=price")
    assert last.code == 200 and shown(last.text) == settings.catalog.page_size
    assert "下一页" not in last.text
    # Past the bounded range the shopper is sent to its last page (clamped, as #17 asks), never a deep scan.
    beyond = await client.get(f"/list/{t}/{LIST_MAX_PAGES + 1}?sort=price")
    assert beyond.code == 302 and beyond.location == f"/list/{t}/{LIST_MAX_PAGES}?sort=price", beyond
    beyond = await client.get(f"/list/{t}/{LIST_MAX_PAGES + 1}")
    assert beyond.code == 302 and beyond.location.startswith(f"/list/{t}/{LIST_MAX_PAGES}?"), beyond


async def test_the_count_is_kept_per_catalog_version(client, catalog, pool, redis, settings):
    t = await catalog.category()
    spu = await catalog.spu()
    await fill(pool, t, spu, settings.catalog.page_size)
    assert shown((await client.get(f"/list/{t}/1")).text) == settings.catalog.page_size
    # A row written behind the catalog's back (no invalidation) does not add a page: the count was not redone.
    await fill(pool, t, spu, 1)
    stale = await client.get(f"/list/{t}/2")
    assert stale.code == 302 and stale.location.startswith(f"/list/{t}/1?"), stale
    # Catalog writes change the version, and the next request counts again.
    await invalidate_catalog(redis)
    page2 = await client.get(f"/list/{t}/2")
    assert page2.code == 200 and shown(page2.text) == 1
