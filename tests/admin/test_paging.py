"""Every admin list answers a page past its end (a link made before the list shrank) with a redirect to its last
page, its filters kept, as the shop's own lists do."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("path", "filters"), [
    ("/admin/goods", "q=%E8%8D%89&sale=on"),
    ("/admin/spu", "q=%E8%8D%89"),
    ("/admin/orders", "status=1"),
    ("/admin/users", "role=staff"),
    ("/admin/audit", "entity=sku"),
])
async def test_a_page_past_the_end_redirects_to_the_last_page(staff_client, shop_rows, path, filters):
    beyond = await staff_client.get(f"{path}?{filters}&page=7")
    assert (beyond.code, beyond.location) == (302, f"{path}?{filters}&page=1"), beyond
    below = await staff_client.get(f"{path}?page=0&{filters}")
    assert (below.code, below.location) == (302, f"{path}?{filters}&page=1"), below
    assert (await staff_client.get(beyond.location)).code == 200
