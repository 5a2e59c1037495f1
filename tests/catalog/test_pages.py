"""List paging and sorts, detail, 404s, and every page for an anonymous and a logged-in visitor."""

from __future__ import annotations

import re

import pytest

from fresh import db
from fresh.paging import Page
from tests.helpers import add_address, create_user


def names(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/goods/\d+" title="([^"]*)">', html.split('class="r-wrap"', 1)[-1])


@pytest.fixture
async def fruit(catalog):
    """30 on-sale SKUs (SKU n: price n, sales (n*7)%30) and one off-sale SKU in one category."""
    type_id = await catalog.category()
    ids = []
    for n in range(1, 31):
        ids.append(await catalog.sku(type_id, name=f"果{n:02d}", price=f"{n}.50", sales=(n * 7) % 30))
    hidden = await catalog.sku(type_id, name="下架果", price="0.10", sales=999, status=0)
    return {"type_id": type_id, "ids": ids, "hidden": hidden}


async def test_list_pages_and_default_sort(client, fruit):
    t = fruit["type_id"]
    pages = [(await client.get(f"/list/{t}/{n}")) for n in (1, 2, 3)]
    assert all(p.code == 200 for p in pages)
    seen = [names(p.text) for p in pages]
    assert [len(s) for s in seen] == [12, 12, 6]
    assert sum(seen, []) == [f"果{n:02d}" for n in range(30, 0, -1)]  # newest first
    assert "下架果" not in "".join(p.text for p in pages)
    assert f'<a href="/list/{t}/2?sort=default">下一页&gt;</a>' in pages[0].text
    assert "上一页" not in pages[0].text and "下一页" not in pages[2].text


@pytest.mark.parametrize(("path", "clamped"), [("/list/{t}/4", "/list/{t}/3?sort=default"),
                                               ("/list/{t}/99?sort=price", "/list/{t}/3?sort=price"),
                                               ("/list/{t}/0", "/list/{t}/1?sort=default")])
async def test_list_beyond_its_pages_goes_to_the_nearest_page(client, fruit, path, clamped):
    response = await client.get(path.format(t=fruit["type_id"]))
    assert response.code == 302 and response.location == clamped.format(t=fruit["type_id"])


@pytest.mark.parametrize("path", ["/list/999999/1", "/list/{t}/99999999999999"])
async def test_list_out_of_range_is_404(client, fruit, path):
    response = await client.get(path.format(t=fruit["type_id"]))
    assert response.code == 404 and "出错了-天天生鲜" in response.text


async def test_empty_category_renders_its_first_page(client, catalog):
    t = await catalog.category("空分类")
    response = await client.get(f"/list/{t}/1")
    assert response.code == 200 and "该分类下暂无商品" in response.text
    assert (await client.get(f"/list/{t}/2")).location == f"/list/{t}/1?sort=default"


async def test_list_sorts(client, fruit):
    t = fruit["type_id"]
    by_price = names((await client.get(f"/list/{t}/1?sort=price")).text)
    assert by_price == [f"果{n:02d}" for n in range(1, 13)]
    hot = names((await client.get(f"/list/{t}/1?sort=hot")).text)
    expected = sorted(range(1, 31), key=lambda n: (-((n * 7) % 30), -n))[:12]
    assert hot == [f"果{n:02d}" for n in expected]
    unknown = await client.get(f"/list/{t}/1?sort=%27;DROP")
    assert unknown.code == 200 and names(unknown.text) == [f"果{n:02d}" for n in range(30, 18, -1)]
    assert 'class="active">默认' in unknown.text


@pytest.mark.parametrize("pages,current,window", [
    (1, 1, [1]), (3, 2, [1, 2, 3]), (5, 5, [1, 2, 3, 4, 5]), (9, 1, [1, 2, 3, 4, 5]), (9, 3, [1, 2, 3, 4, 5]),
    (9, 5, [3, 4, 5, 6, 7]), (9, 8, [5, 6, 7, 8, 9]), (9, 9, [5, 6, 7, 8, 9]),
])
def test_pagination_window(pages, current, window):
    assert Page(number=current, pages=pages, total=pages * 10, size=10).window == window


async def test_pager_shows_at_most_five_numbers(client, catalog):
    t = await catalog.category()
    for n in range(12 * 8):
        await catalog.sku(t, name=f"菜{n}")
    html = (await client.get(f"/list/{t}/6")).text
    numbers = re.findall(r'<a href="/list/\d+/(\d+)\?sort=default"(?: class="active"[^>]*)?>\d+</a>', html)
    assert numbers == ["4", "5", "6", "7", "8"]


async def test_detail_shows_the_sku_its_specs_new_goods_and_comments(client, catalog, pool, settings):
    t = await catalog.category()
    spu = await catalog.spu("草莓", "<p>大棚种植</p><script>alert(1)</script>")
    small = await catalog.sku(t, name="草莓 500g", desc="柔软多汁", price="16.80", goods_id=spu, stock=7)
    big = await catalog.sku(t, name="草莓 1kg", price="30.00", goods_id=spu)
    off = await catalog.sku(t, name="草莓 试吃装", price="1.00", goods_id=spu, status=0)
    newest = await catalog.sku(t, name="新来的橙子", price="3.50")
    buyer = await create_user(pool, settings, "bob_0001")
    await add_address(pool, buyer)
    await db.execute(pool, "INSERT INTO order_info (order_id, user_id, receiver, addr, zip_code, phone, pay_method,"
                     " order_status, expires_at) VALUES ('o1', %s, '张三', '北京', '100000', '13800138000', 1, 5,"
                     " NOW())", (buyer,))
    await db.execute(pool, "INSERT INTO order_goods (order_id, sku_id, count, price, comment)"
                     " VALUES ('o1', %s, 1, 16.80, '很新鲜<b>好</b>')", (small,))

    html = (await client.get(f"/goods/{small}")).text
    assert "草莓 500g" in html and "柔软多汁" in html and "16.80" in html and "库  存：7" in html
    assert f'href="/goods/{big}"' in html and f'href="/goods/{off}"' not in html  # other specs: on sale only
    assert f'href="/goods/{newest}"' in html  # 新品推荐
    assert "<p>大棚种植</p>" in html and "<script>alert(1)</script>" not in html
    assert "很新鲜&lt;b&gt;好&lt;/b&gt;" in html and "bob_0001" in html
    assert f'id="add_cart" data-sku-id="{small}"' in html and 'id="num_show"' in html
    assert "js/detail.js" in html


@pytest.mark.parametrize("path", ["/goods/{off}", "/goods/999999", "/goods/0", "/goods/99999999999999999999",
                                  "/goods/abc", "/goods/-1"])
async def test_detail_of_off_sale_or_unknown_sku_is_404(client, catalog, path):
    t = await catalog.category()
    off = await catalog.sku(t, status=0)
    response = await client.get(path.format(off=off))
    assert response.code == 404
    assert "天天生鲜" in response.text  # the error page, not a traceback


PAGES = ["/", "/index", "/goods/1", "/goods/2", "/list/1/1", "/list/6/1?sort=price", "/list/3/1?sort=hot",
         "/search?q=草莓", "/search?q=", "/search"]


@pytest.mark.parametrize("logged_in", [False, True])
async def test_every_page_renders(demo, client, user_client, logged_in):
    visitor = user_client if logged_in else client
    for path in PAGES:
        response = await visitor.get(path)
        assert response.code == 200, (path, response)
        assert "-天天生鲜</title>" in response.text
        assert ("退出" in response.text) == logged_in
        if path not in ("/", "/index"):
            assert "type-dropdown" in response.text  # the category strip with its dropdown


async def test_json_clients_get_json_404(client):
    response = await client.get("/goods/424242", ajax=True)
    assert response.code == 404 and response.json()["errmsg"] == "商品不存在或已下架"
