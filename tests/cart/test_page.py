"""GET /cart and the header count hook."""

from __future__ import annotations

import re

from fresh import db
from fresh.cart import cart, cart_count
from tests.cart.conftest import session_of


async def test_empty_cart_says_so_and_links_home(client):
    r = await client.get("/cart")
    assert r.code == 200 and "购物车空空如也" in r.text and 'href="/"' in r.text
    assert "cart_form" not in r.text


async def test_cart_page_rows_and_totals_on_first_load(user_client, skus, pool):
    await user_client.post("/cart/add", {"sku_id": skus["apple"], "count": 2})
    await user_client.post("/cart/add", {"sku_id": skus["berry"], "count": 1})
    r = await user_client.get("/cart")
    assert r.code == 200
    page = r.text
    assert "红富士苹果" in page and "大兴大棚草莓" in page and "11.50元/500g" in page
    assert re.search(r'id="all_count">3<', page)
    # The total is filled on load (the original left it empty until the first click).
    assert re.search(r'id="total_price">39.80<', page) and re.search(r'id="total_num">3<', page)
    assert f'data-sku-id="{skus["apple"]}"' in page and 'data-price="1150"' in page
    assert 'action="/order/place"' in page and 'name="sku_ids"' in page and 'name="_xsrf"' in page
    assert page.index('class="plus"') < page.index('class="num"') < page.index('class="minus"')


async def test_off_sale_and_short_stock_lines_are_marked_and_unchecked(user_client, skus, pool):
    await user_client.post("/cart/add", {"sku_id": skus["apple"], "count": 2})
    await user_client.post("/cart/add", {"sku_id": skus["berry"], "count": 5})
    await user_client.post("/cart/add", {"sku_id": skus["kiwi"], "count": 1})
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=%s", (skus["berry"],))
    await db.execute(pool, "UPDATE goods_sku SET stock=0 WHERE id=%s", (skus["kiwi"],))
    page = (await user_client.get("/cart")).text
    assert "已下架" in page and "售罄" in page
    assert re.search(r'id="total_price">23.00<', page) and re.search(r'id="all_count">8<', page)


async def test_deleted_sku_disappears_from_the_cart(user_client, skus, pool, redis, user):
    await user_client.post("/cart/add", {"sku_id": skus["apple"], "count": 2})
    await redis.hset(cart.cart_key(user["id"]), 987654, 3)
    page = (await user_client.get("/cart")).text
    assert re.search(r'id="all_count">2<', page)
    assert await cart.get_cart(redis, user_id=user["id"]) == {skus["apple"]: 2}


async def test_header_count_hook_sums_counts(client, user_client, skus, redis, settings, user):
    assert await cart_count(redis, None) == 0
    await client.post("/cart/add", {"sku_id": skus["apple"], "count": 2})
    await client.post("/cart/add", {"sku_id": skus["berry"], "count": 3})
    assert await cart_count(redis, session_of(client, settings)) == 5
    await user_client.post("/cart/add", {"sku_id": skus["kiwi"], "count": 4})
    assert await cart_count(redis, session_of(user_client, settings)) == 4
