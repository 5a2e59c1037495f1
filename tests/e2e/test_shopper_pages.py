"""Issue #17 in Chromium on the demo catalog: 立即购买, sold-out states, quantity limits, error pages that know the
visitor, stale forms, the checkout address round trip, shopping without JavaScript, and axe-core's verdict.

Every test fails on a console error, a failed request or an unexpected error response (browser_context)."""

from __future__ import annotations

import importlib.resources
import re

import pytest
from playwright.async_api import expect

from fresh.cart.cart import cart_key
from fresh.catalog.cache import invalidate_catalog
from tests.e2e.helpers import browser_login, collect_dialogs
from tests.fixtures.browser import PageProblems
from tests.helpers import add_address, count, create_user

STRAWBERRY = 1   # 大兴大棚草莓 16.80/500g, stock 120: first slide of the carousel, first cell of floor 1
GRAPE = 3        # 玫瑰香葡萄 16.80/500g, stock 90
APPLE = 7        # 烟台红富士苹果 6.50/500g, stock 300
CRAB = 16        # 阳澄湖大闸蟹 168.00/盒, stock 25


async def sell_out(pool, redis, sku_id: int) -> None:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("UPDATE goods_sku SET stock=0 WHERE id=%s", (sku_id,))
    await invalidate_catalog(redis)  # as the admin's stock edit does


async def shopper(pool, settings, redis, name: str, *, address: bool = True, cart: dict | None = None) -> int:
    user_id = await create_user(pool, settings, name)
    if address:
        await add_address(pool, user_id)
    if cart:
        await redis.hset(cart_key(user_id), mapping={str(k): str(v) for k, v in cart.items()})
    return user_id


async def test_buy_now_goes_to_the_confirmation_with_that_sku_alone(page, demo, pool, redis, settings):
    dialogs = collect_dialogs(page)
    user_id = await shopper(pool, settings, redis, "buy_now_1", cart={APPLE: 2, GRAPE: 1})
    await browser_login(page, "buy_now_1")
    await page.goto(f"/goods/{CRAB}")
    await expect(page).to_have_title("阳澄湖大闸蟹-天天生鲜")
    await page.click("#num_add")
    await page.click("#num_add")
    await expect(page.locator("#total_price")).to_have_text("504.00元")
    await page.click("#buy_now")

    await expect(page).to_have_url(f"/order/place?sku_ids={CRAB}")
    rows = page.locator(".goods-row")
    await expect(rows.locator(".name")).to_have_text(["阳澄湖大闸蟹"])
    await expect(rows.locator(".col-count")).to_have_text(["3"])
    await expect(page.locator(".settle p").first).to_have_text("共3件商品，总金额504.00元")
    await page.click("#order_btn")
    await expect(page).to_have_url("/user/order/1", timeout=10000)
    await expect(page.locator(".order-card .item .name")).to_have_text(["阳澄湖大闸蟹168.00元/盒"])
    # The rest of the cart is untouched.
    assert await redis.hgetall(cart_key(user_id)) == {str(APPLE): "2", str(GRAPE): "1"}
    assert dialogs == []


async def test_sold_out_is_marked_everywhere_and_never_leads(page, demo, pool, redis, settings):
    await sell_out(pool, redis, STRAWBERRY)
    await page.goto("/")
    first_slide = page.locator(".slide-pics li").first
    await expect(first_slide.locator("a")).not_to_have_attribute("href", f"/goods/{STRAWBERRY}")
    floor = page.locator("#floor1 .goods-list li")
    await expect(floor.first.locator("h3 a")).not_to_have_text("大兴大棚草莓")
    berry_cell = floor.filter(has=page.get_by_role("link", name="大兴大棚草莓", exact=True))
    await expect(berry_cell.locator(".sold-out-badge")).to_have_text("售罄")

    await page.goto("/list/1/1")
    cell = page.locator(".catalog-grid li").filter(has=page.get_by_role("link", name="大兴大棚草莓", exact=True))
    await expect(cell.locator(".sold-out-badge")).to_have_text("售罄")
    await expect(cell.locator(".add-goods")).to_have_count(0)

    await page.goto("/search?q=草莓")
    cell = page.locator(".catalog-grid li").filter(has=page.get_by_role("link", name="大兴大棚草莓", exact=True))
    await expect(cell.locator(".sold-out-badge")).to_have_text("售罄")

    await page.goto(f"/goods/{STRAWBERRY}")
    await expect(page.locator(".goods-detail-pic .sold-out-badge")).to_have_text("售罄")
    await expect(page.locator(".operate-btn button")).to_have_count(2)
    for button in await page.locator(".operate-btn button").all():
        await expect(button).to_be_disabled()
    await expect(page.locator("#num_tip")).to_have_text("该商品已售罄，暂时无法购买")


async def test_detail_quantity_knows_stock_and_limit(page, browser_context, demo, pool, redis, settings):
    _, problems = browser_context
    problems.allow(409, "/cart/add")
    dialogs = collect_dialogs(page)
    await page.goto(f"/goods/{CRAB}")
    await expect(page.locator("#num_tip")).to_have_text("库存25件，每单最多购买25件")
    await page.fill("#num_show", "9999")
    await page.click("#add_cart")
    await expect(page.locator("#num_tip")).to_have_text("库存仅剩25件，已为您改为25件")
    await expect(page.locator("#num_show")).to_have_value("25")
    await expect(page.locator("#total_price")).to_have_text("4200.00元")
    await expect(page.locator("#num_add")).to_be_disabled()
    await expect(page.locator("#show_count")).to_have_text("0")  # nothing was sent

    # 24 in the cart already: adding 2 is refused by the server, and the note says how many are there.
    await page.fill("#num_show", "24")
    await page.click("#add_cart")
    await expect(page.locator("#num_tip")).to_have_text(re.compile("^已加入购物车24件"))
    await expect(page.locator("#show_count")).to_have_text("24")
    await page.fill("#num_show", "2")
    await page.click("#add_cart")
    await expect(page.locator("#num_tip")).to_have_text("库存不足：库存25件，购物车中已有24件")
    await expect(page.locator("#show_count")).to_have_text("24")
    assert dialogs == []


async def test_error_pages_show_the_real_visitor(page, browser_context, demo, pool, redis, settings):
    _, problems = browser_context
    problems.allow(404, "/no-such-page")
    problems.allow(404, "/goods/999999")
    problems.allow(403, "/user/address")
    await shopper(pool, settings, redis, "err_user1", cart={APPLE: 2, GRAPE: 1})
    await browser_login(page, "err_user1")
    for path in ("/no-such-page", "/goods/999999"):
        response = await page.goto(path)
        assert response.status == 404
        await expect(page.locator(".top-links .who")).to_contain_text("err_user1")
        await expect(page.locator("#show_count")).to_have_text("3")
        await expect(page.locator("h1")).to_have_count(1)
    # A 403 (a form sent with a forged token) keeps the visitor too.
    await page.goto("/user/address")
    await page.evaluate("document.querySelector('.addr-form input[name=_xsrf]').value = '2|00|00|00'")
    await page.click(".addr-form button[type=submit]")
    await expect(page.locator(".top-links .who")).to_contain_text("err_user1")


async def replace_xsrf_cookie(context, base_url: str, token: str = "00112233445566778899aabbccddeeff") -> None:
    """What a browser restart or another tab's fresh token does to an open page: the cookie changes."""
    await context.add_cookies([{"name": "_xsrf", "value": f"2|deadbeef|{token}|1700000000", "url": base_url}])


async def test_stale_address_form_keeps_what_was_typed(page, browser_context, base_url, demo, pool, redis,
                                                       settings):
    context, problems = browser_context
    problems.allow(403, "/user/address")
    user_id = await shopper(pool, settings, redis, "stale_user", address=False)
    await browser_login(page, "stale_user")
    await page.goto("/user/address")
    await page.fill("#a-receiver", "王小明")
    await page.fill("#a-addr", "北京市海淀区中关村大街1号")
    await page.fill("#a-zip", "100080")
    await page.fill("#a-phone", "13800138000")
    await replace_xsrf_cookie(context, base_url)
    await page.click(".addr-form button[type=submit]")
    await expect(page.locator(".form-error-block")).to_have_text("页面已过期，请刷新后重试")
    await expect(page.locator("#a-receiver")).to_have_value("王小明")
    await expect(page.locator("#a-addr")).to_have_value("北京市海淀区中关村大街1号")
    await expect(page.locator("#a-phone")).to_have_value("13800138000")
    await expect(page.locator(".top-links .who")).to_contain_text("stale_user")
    assert await count(pool, "addresses", "user_id=%s", (user_id,)) == 0
    # The page it answered with carries a fresh token: sending again works.
    await page.click(".addr-form button[type=submit]")
    await expect(page.locator(".page-notice")).to_have_text("地址已保存")
    assert await count(pool, "addresses", "user_id=%s", (user_id,)) == 1


async def test_stale_ajax_calls_say_so_inline(page, browser_context, base_url, demo, pool, redis, settings):
    context, problems = browser_context
    problems.allow(403, "/cart/add")
    problems.allow(403, "/cart/update")
    dialogs = collect_dialogs(page)
    await shopper(pool, settings, redis, "stale_ajax", cart={APPLE: 2})
    await browser_login(page, "stale_ajax")
    await page.goto(f"/goods/{GRAPE}")
    await replace_xsrf_cookie(context, base_url)
    await page.click("#add_cart")
    await expect(page.locator("#num_tip")).to_have_text("页面已过期，请刷新后重试 刷新页面")
    await expect(page.locator("#show_count")).to_have_text("2")

    await page.goto("/cart")
    apple = page.locator(f'.cart-row[data-sku-id="{APPLE}"]')
    await replace_xsrf_cookie(context, base_url, "ffeeddccbbaa99887766554433221100")
    await apple.locator(".plus").click()
    await expect(apple.locator(".row-tip")).to_have_text("页面已过期，请刷新后重试 刷新页面")
    await expect(apple.locator(".num")).to_have_value("2")
    assert dialogs == []


async def test_checkout_address_round_trip(page, demo, pool, redis, settings):
    user_id = await shopper(pool, settings, redis, "addr_trip", address=False, cart={GRAPE: 1, APPLE: 2})
    await browser_login(page, "addr_trip")
    await page.goto("/cart")
    await page.click("#settle")
    await expect(page.locator(".no-addr")).to_contain_text("暂无收货地址")
    await expect(page.locator("#order_btn")).to_be_disabled()
    # Items in the cart's order (grape was put in first), not by id.
    await expect(page.locator(".goods-row .name")).to_have_text(["玫瑰香葡萄", "烟台红富士苹果"])
    await page.click(".no-addr a")
    await expect(page.locator(".page-notice")).to_contain_text("保存地址后将回到确认订单页面")
    await page.fill("#a-receiver", "李雷")
    await page.fill("#a-addr", "上海市浦东新区世纪大道100号")
    await page.fill("#a-zip", "200120")
    await page.fill("#a-phone", "13900139000")
    await page.click(".addr-form button[type=submit]")

    await expect(page).to_have_url(re.compile(r"/order/place\?sku_ids=.*&addr_id=\d+$"))
    await expect(page.locator(".addr-box .page-notice")).to_have_text("地址已保存，已为您选中")
    await expect(page.locator(".addr-box input[name=addr_id]")).to_be_checked()
    await expect(page.locator(".goods-row .name")).to_have_text(["玫瑰香葡萄", "烟台红富士苹果"])

    # Edit it from the confirmation page, then come back again.
    await page.click(".edit-addr")
    await page.click(".addr-list a:has-text('编辑')")
    await expect(page.locator("#a-receiver")).to_have_value("李雷")
    await page.fill("#a-receiver", "韩梅梅")
    await page.click(".addr-form button[type=submit]")
    await expect(page.locator(".addr-box label")).to_contain_text("韩梅梅 收")
    await page.click("#order_btn")
    await expect(page).to_have_url("/user/order/1", timeout=10000)
    assert await count(pool, "order_info", "user_id=%s AND receiver=%s", (user_id, "韩梅梅")) == 1


async def test_address_book_edit_default_delete(page, demo, pool, redis, settings):
    user_id = await shopper(pool, settings, redis, "addr_book")
    await add_address(pool, user_id, default=False, receiver="第二人")
    await browser_login(page, "addr_book")
    await page.goto("/user/address")
    second = page.locator(".addr-list li").filter(has_text="第二人")
    await second.locator("button:has-text('设为默认')").click()
    await expect(page.locator(".page-notice")).to_have_text("已设为默认地址")
    await expect(page.locator(".current-addr")).to_contain_text("第二人")
    await page.locator(".addr-list li").filter(has_text="第二人").locator("button:has-text('删除')").click()
    await expect(page.locator(".page-notice")).to_have_text("地址已删除")
    await expect(page.locator(".addr-list li")).to_have_count(1)
    await expect(page.locator(".current-addr")).to_contain_text("张三")  # the remaining one became the default


@pytest.fixture
async def no_js_page(browser, base_url):
    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                        java_script_enabled=False)
    problems = PageProblems()
    page = await context.new_page()
    problems.watch(page)
    yield page
    await context.close()
    assert problems.items == [], problems.items


async def test_shopping_without_javascript(no_js_page, demo, pool, redis, settings):
    page = no_js_page
    user_id = await shopper(pool, settings, redis, "no_js_user")
    await browser_login(page, "no_js_user")

    await page.goto(f"/goods/{GRAPE}")
    await expect(page.locator("#num_add")).to_be_hidden()  # +/− need JavaScript; the box does not
    await page.fill("#num_show", "2")
    await page.click("#add_cart")
    await expect(page).to_have_url(f"/goods/{GRAPE}?notice=added&count=2")
    await expect(page.locator("#num_tip")).to_have_text("已加入购物车2件，去购物车结算 >")
    await expect(page.locator("#show_count")).to_have_text("2")
    await page.fill("#num_show", "500")
    await page.click("#add_cart")
    await expect(page.locator("#num_tip")).to_have_text("库存不足：库存90件")
    await expect(page.locator("#num_show")).to_have_value("500")
    await page.goto(f"/goods/{APPLE}")
    await page.click("#add_cart")

    await page.click("#num_tip a")
    await expect(page).to_have_url("/cart")
    grape = page.locator(f'.cart-row[data-sku-id="{GRAPE}"]')
    await grape.locator(".plus").click()
    await expect(page.locator(".page-notice")).to_have_text("数量已更新")
    await expect(grape.locator(".num")).to_have_value("3")
    await expect(page.locator("#all_count")).to_have_text("4")
    await grape.locator(".minus").click()
    await expect(grape.locator(".num")).to_have_value("2")
    await grape.locator(".num").fill("5")
    await grape.locator(".link-btn:has-text('更新数量')").click()
    await expect(grape.locator(".num")).to_have_value("5")
    await page.locator(f'.cart-row[data-sku-id="{APPLE}"] .delete').click()
    await expect(page.locator(".page-notice")).to_have_text("已从购物车删除")
    await expect(page.locator(".cart-row")).to_have_count(1)

    await page.click("#settle")
    await expect(page.locator(".goods-row .col-count")).to_have_text(["5"])
    await page.click("#order_btn")
    await expect(page).to_have_url(re.compile(r"/user/order/1\?placed="))
    await expect(page.locator(".page-notice")).to_contain_text("订单提交成功")
    assert await count(pool, "order_info", "user_id=%s", (user_id,)) == 1
    assert await redis.hgetall(cart_key(user_id)) == {}


AXE_JS = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


async def serious_violations(page) -> list[str]:
    await page.evaluate(AXE_JS)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
async def test_axe_finds_no_serious_violations(page, demo, pool, redis, settings, viewport):
    user_id = await shopper(pool, settings, redis, "axe_user", cart={GRAPE: 1, APPLE: 2})
    await page.set_viewport_size(viewport)
    await browser_login(page, "axe_user")
    found = {}
    for path in ("/", "/list/1/1", f"/goods/{GRAPE}", "/cart", f"/order/place?sku_ids={GRAPE},{APPLE}"):
        await page.goto(path)
        found[path] = await serious_violations(page)
    await page.click("#order_btn")
    await expect(page).to_have_url("/user/order/1", timeout=10000)
    found["/user/order/1"] = await serious_violations(page)
    assert await count(pool, "order_info", "user_id=%s", (user_id,)) == 1
    assert {path: v for path, v in found.items() if v} == {}
