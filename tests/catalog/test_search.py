"""Search: name and description, paginated, hostile input is plain text."""

from __future__ import annotations

import re
from html import unescape

import pytest

from fresh.catalog.goods import SEARCH_MAX_CHARS, like_pattern


def found(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<h4><a href="/goods/\d+" title="([^"]*)">', html)]


@pytest.fixture
async def shelf(catalog):
    t = await catalog.category()
    await catalog.sku(t, name="大兴草莓", desc="柔软多汁")
    await catalog.sku(t, name="海南香蕉", desc="香甜，比草莓还甜")
    await catalog.sku(t, name="100%纯果汁", desc="不加糖")
    await catalog.sku(t, name="鲜榨_橙汁", desc="当天现榨")
    await catalog.sku(t, name="O'Neil \\ 进口苹果", desc='"精选"')
    await catalog.sku(t, name="下架草莓", status=0)
    return t


async def test_search_matches_name_and_description(client, shelf):
    assert found((await client.get("/search?q=%E8%8D%89%E8%8E%93")).text) == ["海南香蕉", "大兴草莓"]
    assert found((await client.get("/search?q=%20%20%E4%B8%8D%E5%8A%A0%E7%B3%96%20")).text) == ["100%纯果汁"]


@pytest.mark.parametrize("query,expected", [
    ("%", ["100%纯果汁"]), ("_", ["鲜榨_橙汁"]), ("%%", []), ("'", ["O'Neil \\ 进口苹果"]),
    ('"', ["O'Neil \\ 进口苹果"]), ("\\", ["O'Neil \\ 进口苹果"]), ("!", []), ("' OR '1'='1", []),
    ("<script>alert(1)</script>", []), ("%' AND SLEEP(5) -- ", []),
])
async def test_hostile_queries_are_plain_text(client, shelf, query, expected):
    from urllib.parse import quote

    response = await client.get("/search?q=" + quote(query))
    assert response.code == 200
    assert found(response.text) == expected
    assert "<script>alert(1)</script>" not in response.text


async def test_long_query_is_capped_and_empty_query_shows_a_hint(client, shelf):
    response = await client.get("/search?q=" + "草" * 5000)
    assert response.code == 200 and "草" * (SEARCH_MAX_CHARS + 1) not in response.text
    for path in ("/search", "/search?q=", "/search?q=%20%20"):
        response = await client.get(path)
        assert response.code == 200 and "请输入要搜索的商品名称" in response.text
    assert "没有找到" in (await client.get("/search?q=xyz")).text


async def test_search_is_paginated(client, catalog):
    t = await catalog.category()
    for n in range(15):
        await catalog.sku(t, name=f"冷冻水饺{n:02d}")
    first = await client.get("/search?q=%E6%B0%B4%E9%A5%BA")
    second = await client.get("/search?q=%E6%B0%B4%E9%A5%BA&page=2")
    assert len(found(first.text)) == 12 and len(found(second.text)) == 3
    assert 'href="/search?q=%E6%B0%B4%E9%A5%BA&amp;page=2"' in first.text
    assert (await client.get("/search?q=%E6%B0%B4%E9%A5%BA&page=3")).code == 404


def test_like_pattern_escapes_wildcards():
    assert like_pattern("a%b_c!d") == "%a!%b!_c!!d%"
