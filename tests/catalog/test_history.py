"""Browsing history: newest first, no duplicates, five kept, shown in the user center."""

from __future__ import annotations

import asyncio

from fresh import db
from fresh.catalog.history import get_history_ids, history_key, record_view


async def test_history_order_and_limit(client, user_client, user, catalog, redis):
    t = await catalog.category()
    ids = [await catalog.sku(t, name=f"商品{n}") for n in range(7)]
    for sku_id in ids:
        assert (await user_client.get(f"/goods/{sku_id}")).code == 200
    assert await get_history_ids(redis, user_id=user["id"], size=10) == ids[::-1][:5]

    await user_client.get(f"/goods/{ids[3]}")  # seen again: moves to the front, no duplicate
    assert await redis.lrange(history_key(user["id"]), 0, -1) == [str(i) for i in (ids[3], ids[6], ids[5], ids[4],
                                                                                     ids[2])]
    await client.get(f"/goods/{ids[0]}")  # anonymous visits record nothing
    assert await redis.keys("history_*") == [history_key(user["id"])]


async def test_concurrent_views_keep_the_list_consistent(user, catalog, redis):
    t = await catalog.category()
    ids = [await catalog.sku(t) for _ in range(3)]
    await asyncio.gather(*(record_view(redis, user_id=user["id"], sku_id=ids[n % 3], size=5) for n in range(30)))
    stored = await get_history_ids(redis, user_id=user["id"], size=10)
    assert sorted(stored) == sorted(ids)


async def test_user_center_shows_history_without_off_sale_goods(user_client, user, catalog, pool):
    t = await catalog.category()
    a = await catalog.sku(t, name="看过的苹果", price="6.50")
    b = await catalog.sku(t, name="看过的香蕉", price="3.30")
    for sku_id in (a, b):
        await user_client.get(f"/goods/{sku_id}")
    page = (await user_client.get("/user")).text
    assert page.index("看过的香蕉") < page.index("看过的苹果") and "6.50" in page

    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=%s", (b,))
    page = (await user_client.get("/user")).text
    assert "看过的香蕉" not in page and "看过的苹果" in page


async def test_user_center_without_history(user_client):
    assert "无历史浏览记录" in (await user_client.get("/user")).text
