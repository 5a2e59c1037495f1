"""The demo catalog: complete, idempotent, with one distinct picture per SKU."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from fresh import db
from fresh.catalog.seed import seed_catalog

TABLES = ("goods_types", "goods", "goods_sku", "index_banners", "index_promotions", "index_type_goods")


async def snapshot(pool) -> dict:
    result = {}
    for table in TABLES:
        rows = await db.fetchall(pool, f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 -- table names from a constant tuple
        result[table] = [{k: v for k, v in row.items() if k != "created_at"} for row in rows]
    return result


async def test_seed_twice_gives_the_same_rows(pool, redis, settings, capsys):
    await seed_catalog(pool, redis, settings, demo=False)
    first = await snapshot(pool)
    await seed_catalog(pool, redis, settings, demo=False)
    assert await snapshot(pool) == first
    assert "0 pictures drawn" in capsys.readouterr().out

    assert [t["name"] for t in first["goods_types"]] == [
        "新鲜水果", "海鲜水产", "猪牛羊肉", "禽类蛋品", "新鲜蔬菜", "速冻食品"]
    skus = first["goods_sku"]
    assert len(skus) >= 36
    assert all(isinstance(s["price"], Decimal) and s["price"] > 0 and s["stock"] > 0 for s in skus)
    assert all(s["status"] == 1 and s["name"] and s["desc"] and s["unite"] for s in skus)
    # Several SKUs share an SPU (e.g. 500g and the 1kg box).
    per_spu: dict[int, int] = {}
    for s in skus:
        per_spu[s["goods_id"]] = per_spu.get(s["goods_id"], 0) + 1
    assert max(per_spu.values()) >= 2
    # Each floor: three title links and four picture goods of its own category.
    type_of = {s["id"]: s["type_id"] for s in skus}
    for t in first["goods_types"]:
        cells = [c for c in first["index_type_goods"] if c["type_id"] == t["id"]]
        assert sum(c["display_type"] == 0 for c in cells) == 3
        assert sum(c["display_type"] == 1 for c in cells) == 4
        assert all(type_of[c["sku_id"]] == t["id"] for c in cells)
    assert len(first["index_banners"]) >= 2 and len(first["index_promotions"]) == 2


async def test_seed_keeps_changed_rows_and_draws_distinct_pictures(pool, redis, settings):
    await seed_catalog(pool, redis, settings, demo=False)
    # An order took stock meanwhile: seeding again (make run does) must not put it back.
    await db.execute(pool, "UPDATE goods_sku SET stock=stock-5, sales=sales+5 WHERE id=1")
    before = await db.fetchone(pool, "SELECT stock, sales FROM goods_sku WHERE id=1")
    await seed_catalog(pool, redis, settings, demo=False)
    assert await db.fetchone(pool, "SELECT stock, sales FROM goods_sku WHERE id=1") == before

    media = settings.var_path / "media"
    images = [row["image"] for row in await db.fetchall(pool, "SELECT image FROM goods_sku")]
    digests = {hashlib.sha256((media / path).read_bytes()).hexdigest() for path in images}
    assert len(digests) == len(images)
    for row in await db.fetchall(pool, "SELECT image FROM goods_types UNION ALL SELECT image FROM index_banners"
                                       " UNION ALL SELECT image FROM index_promotions"):
        assert (media / row["image"]).is_file()


async def test_seeded_pictures_are_served(demo, client, pool):
    row = await db.fetchone(pool, "SELECT image FROM goods_sku WHERE id=1")
    response = await client.get(f"/media/{row['image']}")
    assert response.code == 200 and response.body[:8] == b"\x89PNG\r\n\x1a\n"


async def test_seed_scale_grows_the_catalog_and_indexes_it(demo, pool, redis):
    from fresh.catalog.scale import seed_scale
    from fresh.catalog.search import SearchMode

    mode, indexed = await seed_scale(pool, redis, skus=130)
    assert (mode, indexed) == (SearchMode.FULLTEXT, 130)
    row = await db.fetchone(pool, "SELECT COUNT(*) AS n, MAX(id) AS top FROM goods_sku")
    assert (row["n"], row["top"]) == (130, 130)
    # Copies keep the demo's handful of SKUs per SPU, and searching finds them.
    row = await db.fetchone(pool, "SELECT MAX(n) AS most FROM"
                                  " (SELECT COUNT(*) AS n FROM goods_sku GROUP BY goods_id) c")
    assert row["most"] <= 3
    found = await db.fetchone(pool, "SELECT COUNT(*) AS n FROM sku_search WHERE MATCH(title, body)"
                                    " AGAINST('+\"草莓\"' IN BOOLEAN MODE)")
    assert found["n"] == 2 * 4  # SKUs 1 and 2 and their copies in three more laps (43..130)
    assert await seed_scale(pool, redis, skus=130) == (SearchMode.FULLTEXT, 130)  # again: nothing added
