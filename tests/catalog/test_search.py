"""Search: full text on Mroonga (LIKE where it is missing), kept current with the catalog, hostile input is text."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import pytest

from fresh import db
from fresh.catalog import search
from fresh.catalog.search import MAX_CHARS, SearchMode, like_pattern, sync_search_index


def found(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<h3><a href="/goods/\d+" title="([^"]*)">', html)]


async def get_found(client, query: str, **params) -> list[str]:
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    response = await client.get("/search?q=" + quote(query) + extra)
    assert response.code == 200, response.text
    return found(response.text)


@pytest.fixture
async def shelf(catalog):
    t = await catalog.category("新鲜水果")
    spu = await catalog.spu("鲜果")
    await catalog.sku(t, name="大兴草莓", desc="柔软多汁", goods_id=spu, price="20.00", sales=5)
    await catalog.sku(t, name="海南香蕉", desc="香甜，比草莓还甜", goods_id=spu, price="5.00", sales=50)
    await catalog.sku(t, name="100%纯果汁", desc="不加糖", goods_id=spu)
    await catalog.sku(t, name="鲜榨_橙汁", desc="当天现榨", goods_id=spu)
    await catalog.sku(t, name="O'Neil \\ 进口苹果", desc='"精选"', goods_id=spu)
    await catalog.sku(t, name="a+b (test) -c *d", desc="", goods_id=spu)
    await catalog.sku(t, name="进口 Kiwi 奇异果", desc="新西兰", goods_id=spu)
    await catalog.sku(t, name="下架草莓", status=0, goods_id=spu)
    frozen = await catalog.category("速冻食品", "frozen")
    await catalog.sku(frozen, name="三鲜水饺", desc="虾仁韭菜", goods_id=await catalog.spu("水饺"))
    return t


@pytest.fixture(params=["auto", "like"], ids=["fulltext", "like"])
async def mode(request, app, pool):
    """Each test runs on both paths, chosen as the setting `catalog.search` chooses them for the app's pool."""
    search.forget_search_mode(pool)
    chosen = await search.search_mode(pool, request.param)
    assert chosen is (SearchMode.FULLTEXT if request.param == "auto" else SearchMode.LIKE)
    yield chosen
    search.forget_search_mode(pool)


async def test_the_test_database_searches_with_mroonga(pool):
    """The shop's own bootstrap installs the plugin (scripts/ensure-mroonga.sh): the full-text path is under test."""
    assert await search.mroonga_available(pool)
    search.forget_search_mode(pool)
    assert await search.search_mode(pool, "auto") is SearchMode.FULLTEXT
    search.forget_search_mode(pool)


async def test_without_mroonga_the_table_is_innodb_and_search_uses_like(pool, catalog, caplog):
    """A server without the engine: the migration's fallback table, LIKE chosen by itself, one warning."""
    t = await catalog.category()
    await catalog.sku(t, name="大兴草莓", goods_id=await catalog.spu("鲜果"))
    try:
        await db.execute(pool, "ALTER TABLE sku_search DROP INDEX ft_search, ENGINE=InnoDB")
        search.forget_search_mode(pool)
        with caplog.at_level("WARNING", logger="fresh.catalog.search"):
            assert await search.search_mode(pool, "auto") is SearchMode.LIKE
            assert await search.search_mode(pool, "auto") is SearchMode.LIKE
        assert len([r for r in caplog.records if "LIKE" in r.getMessage()]) == 1
        page = await search.search_skus(pool, mode=SearchMode.LIKE, query="草莓", sort="relevance", page=1, size=12)
        assert [item["name"] for item in page.items] == ["大兴草莓"]
    finally:
        search.forget_search_mode(pool)
        mode, _ = await search.rebuild_search_index(pool)  # back onto Mroonga for the other tests
        assert mode is SearchMode.FULLTEXT


@pytest.mark.parametrize("query,expected", [
    ("草莓", ["大兴草莓", "海南香蕉"]),  # two characters; the name match ranks above the description match
    ("橙", ["鲜榨_橙汁"]),  # one character
    ("柔软", ["大兴草莓"]),  # a word of the description
    ("速冻", ["三鲜水饺"]),  # a word of the category
    ("水饺", ["三鲜水饺"]),  # the SPU's name
    ("进口 kiwi", ["进口 Kiwi 奇异果"]),  # mixed Chinese and Latin, every word required, any case
    ("进口 香蕉", []),
])
async def test_search_finds_by_words(client, shelf, mode, query, expected):
    assert await get_found(client, query) == expected


async def test_relevance_puts_a_name_match_above_a_description_match(client, catalog, mode):
    t = await catalog.category()
    spu = await catalog.spu("鲜果")
    await catalog.sku(t, name="海南香蕉", desc="比榴莲还香，榴莲味", goods_id=spu)
    await catalog.sku(t, name="泰国榴莲", desc="", goods_id=spu)
    await catalog.sku(t, name="山竹", desc="榴莲的好搭档", goods_id=spu)
    assert (await get_found(client, "榴莲"))[0] == "泰国榴莲"
    assert set(await get_found(client, "榴莲")) == {"海南香蕉", "泰国榴莲", "山竹"}


async def test_sorts(client, shelf, mode):
    assert await get_found(client, "甜", sort="price") == ["海南香蕉"]
    both = ["大兴草莓", "海南香蕉"]
    assert await get_found(client, "草莓", sort="price") == ["海南香蕉", "大兴草莓"]
    assert await get_found(client, "草莓", sort="hot") == ["海南香蕉", "大兴草莓"]
    assert await get_found(client, "草莓", sort="new") == ["海南香蕉", "大兴草莓"]
    assert await get_found(client, "草莓", sort="nonsense") == both


@pytest.mark.parametrize("query,expected", [
    ("%", ["100%纯果汁"]), ("_", ["鲜榨_橙汁"]), ("%%", []), ("'", ["O'Neil \\ 进口苹果"]),
    ('"', ["O'Neil \\ 进口苹果"]), ("\\", ["O'Neil \\ 进口苹果"]), ("!", []), ("' OR '1'='1", []),
    ("<script>alert(1)</script>", []), ("%' AND SLEEP(5) -- ", []),
    ("a+b", ["a+b (test) -c *d"]), ("(test)", ["a+b (test) -c *d"]), ("-c", ["a+b (test) -c *d"]),
    ("*d", ["a+b (test) -c *d"]), ("-草莓", []), ("草莓 OR 香蕉", []), ("*W1:10 草莓", []), ('"草莓', []),
])
async def test_operators_and_wildcards_are_plain_text(client, shelf, mode, query, expected):
    response = await client.get("/search?q=" + quote(query))
    assert response.code == 200
    assert found(response.text) == expected
    assert "<script>alert(1)</script>" not in response.text


async def test_matched_words_are_highlighted_and_escaped(client, catalog, mode):
    t = await catalog.category()
    await catalog.sku(t, name="<b>草莓</b> & 蓝莓", desc="草莓酱<i>", goods_id=await catalog.spu("莓"))
    page = (await client.get("/search?q=" + quote("草莓"))).text
    assert '&lt;b&gt;<em class="hl">草莓</em>&lt;/b&gt; &amp; 蓝莓' in page
    assert '<em class="hl">草莓</em>酱&lt;i&gt;' in page
    assert "<b>草莓" not in page and "酱<i>" not in page


async def test_off_sale_and_renamed_skus_change_at_once(client, shelf, pool, mode):
    row = await db.fetchone(pool, "SELECT id FROM goods_sku WHERE name='大兴草莓'")
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=%s", (row["id"],))
    await sync_search_index(pool, sku_ids=[row["id"]])
    assert await get_found(client, "草莓") == ["海南香蕉"]
    await db.execute(pool, "UPDATE goods_sku SET status=1, name='大兴蓝莓' WHERE id=%s", (row["id"],))
    await sync_search_index(pool, sku_ids=[row["id"]])
    assert await get_found(client, "草莓") == ["海南香蕉"]
    assert await get_found(client, "蓝莓") == ["大兴蓝莓"]


async def test_an_off_sale_sku_never_shows_even_before_its_sync(client, shelf, pool, mode):
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE name='大兴草莓'")
    assert await get_found(client, "草莓") == ["海南香蕉"]


async def test_renamed_spu_and_category_are_synced(client, shelf, pool, mode):
    t = await db.fetchone(pool, "SELECT id FROM goods_types WHERE name='速冻食品'")
    await db.execute(pool, "UPDATE goods_types SET name='冷冻点心' WHERE id=%s", (t["id"],))
    await sync_search_index(pool, type_ids=[t["id"]])
    assert await get_found(client, "速冻") == []
    assert await get_found(client, "点心") == ["三鲜水饺"]


async def test_long_query_is_capped_and_empty_query_shows_the_search_page(client, shelf, mode):
    response = await client.get("/search?q=" + "草" * 5000)
    assert response.code == 200 and "草" * (MAX_CHARS + 1) not in response.text
    for path in ("/search", "/search?q=", "/search?q=%20%20", "/search?q=%E3%80%80"):
        response = await client.get(path)
        assert response.code == 200 and "请输入要搜索的商品名称" in response.text
    assert "没有找到" in (await client.get("/search?q=xyz")).text


async def test_search_is_paginated_without_counting_everything(client, catalog, mode):
    t = await catalog.category()
    spu = await catalog.spu("饺子")
    for n in range(15):
        await catalog.sku(t, name=f"冷冻水饺{n:02d}", goods_id=spu)
    first = await client.get("/search?q=%E6%B0%B4%E9%A5%BA")
    second = await client.get("/search?q=%E6%B0%B4%E9%A5%BA&page=2")
    assert len(found(first.text)) == 12 and len(found(second.text)) == 3
    assert set(found(first.text)).isdisjoint(found(second.text))
    assert 'href="/search?q=%E6%B0%B4%E9%A5%BA&amp;page=2"' in first.text
    assert "共找到 <em>15</em> 件相关商品" in first.text
    # Past the last page (however far, the bounded range's end included): the last page, at its own URL.
    for page in (3, search.MAX_PAGES + 1):
        beyond = await client.get(f"/search?q=%E6%B0%B4%E9%A5%BA&page={page}")
        assert (beyond.code, beyond.location) == (302, "/search?q=%E6%B0%B4%E9%A5%BA&page=2"), beyond
    beyond = await client.get("/search?q=%E6%B0%B4%E9%A5%BA&page=9&sort=price")
    assert beyond.location == "/search?q=%E6%B0%B4%E9%A5%BA&page=2&sort=price"
    priced = await client.get("/search?q=%E6%B0%B4%E9%A5%BA&sort=price")
    assert 'href="/search?q=%E6%B0%B4%E9%A5%BA&amp;page=2&amp;sort=price"' in priced.text


async def test_like_and_fulltext_agree_on_the_demo_catalog(pool, demo):
    words = ["草莓", "橙", "葡萄", "进口", "新鲜水果", "海鲜", "虾", "牛肉", "鸡蛋", "水饺", "冷冻", "有机", "kg",
             "1kg", "大闸蟹", "甜", "500g", "礼盒", "家庭装", "进口 柠檬", "涮锅", "无此商品"]
    for word in words:
        for sort in ("relevance", "price", "new", "hot"):
            results = {}
            for mode in SearchMode:
                page = await search.search_skus(pool, mode=mode, query=word, sort=sort, page=1, size=100)
                results[mode] = [item["id"] for item in page.items]
            full, like = results[SearchMode.FULLTEXT], results[SearchMode.LIKE]
            assert set(full) == set(like), (word, sort)
            if sort != "relevance":  # relevance scores differ in detail; every other order is the same
                assert full == like, (word, sort)


async def test_rebuild_indexes_every_on_sale_sku(pool, demo):
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=1")
    mode, count = await search.rebuild_search_index(pool)
    assert mode is SearchMode.FULLTEXT and count == 41
    engine = await db.fetchone(pool, "SELECT engine FROM information_schema.tables WHERE table_schema=DATABASE()"
                                     " AND table_name='sku_search'")
    assert engine["engine"] == "Mroonga"
    page = await search.search_skus(pool, mode=mode, query="草莓", sort="relevance", page=1, size=12)
    assert [item["id"] for item in page.items] == [2]


def test_fulltext_query_quotes_every_word():
    assert search.fulltext_query(['a"b', "c\\d"]) == '*W1:10,2:1 +"a\\"b" +"c\\\\d"'
    assert search.query_terms(" 草莓  草莓 KIWI kiwi ") == ["草莓", "KIWI"]


def test_like_pattern_escapes_wildcards():
    assert like_pattern("a%b_c!d") == "%a!%b!_c!!d%"
