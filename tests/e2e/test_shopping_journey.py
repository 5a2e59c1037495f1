"""Journeys 1 and 2 on the demo catalog: a guest browses and fills the cart, logs in and finds it merged; a user
edits the cart, checks out and sees the order. What is asserted is what the shopper reads on the page."""

from __future__ import annotations

from playwright.async_api import expect

from fresh.cart.cart import cart_key
from tests.e2e.helpers import browser_login, collect_dialogs
from tests.helpers import add_address, create_user

# Demo SKUs (fresh/catalog/seed.py): id -> price, stock
STRAWBERRY = 1   # 大兴大棚草莓, 16.80 / 500g, stock 120
APPLE = 7        # 烟台红富士苹果, 6.50 / 500g, stock 300
BANANA = 9       # 海南香蕉, 3.30 / 500g, stock 260
CRAB = 16        # 阳澄湖大闸蟹, 168.00 / 盒, stock 25


async def test_guest_browses_adds_three_and_finds_them_after_login(page, demo, pool, redis, settings):
    user_id = await create_user(pool, settings, "li_si")
    await redis.hset(cart_key(user_id), str(APPLE), "2")  # left in the cart from an earlier visit

    await page.goto("/")
    await expect(page.locator("#floor1 h2")).to_have_text("新鲜水果")
    await expect(page.locator("#floor2 h2")).to_have_text("海鲜水产")
    await expect(page.locator("#show_count")).to_have_text("0")

    await page.locator("#floor1 .goods-more").click()
    await expect(page).to_have_url("/list/1/1")
    await expect(page.locator(".breadcrumb")).to_contain_text("新鲜水果")
    await page.locator(".r-wrap a:text-is('大兴大棚草莓')").first.click()

    await expect(page).to_have_url(f"/goods/{STRAWBERRY}")
    await expect(page.locator(".goods-detail-list h1")).to_have_text("大兴大棚草莓")
    await expect(page.locator("#total_price")).to_have_text("16.80元")
    await page.click("#num_add")
    await page.click("#num_add")
    await expect(page.locator("#num_show")).to_have_value("3")
    await expect(page.locator("#total_price")).to_have_text("50.40元")
    await page.click("#num_minus")
    await expect(page.locator("#total_price")).to_have_text("33.60元")
    await page.click("#num_add")

    await page.evaluate("window.__same_page = true")
    await page.click("#add_cart")
    await expect(page.locator("#show_count")).to_have_text("3")
    assert await page.evaluate("window.__same_page === true"), "the page reloaded"

    await page.click(".top-links a:has-text('登录')")
    await page.fill("input[name=username]", "li_si")
    await page.fill("input[name=pwd]", "password123")
    await page.click("button.btn-login")
    await expect(page.locator(".top-links .who")).to_contain_text("li_si")
    await expect(page.locator("#show_count")).to_have_text("5")

    await page.click(".cart-widget")
    await expect(page.locator("#all_count")).to_have_text("5")
    berry = page.locator(f'.cart-row[data-sku-id="{STRAWBERRY}"]')
    await expect(berry.locator(".col-name a")).to_have_text("大兴大棚草莓")
    await expect(berry.locator(".num")).to_have_value("3")
    await expect(berry.locator(".amount")).to_have_text("50.40")
    await expect(page.locator(f'.cart-row[data-sku-id="{APPLE}"] .num')).to_have_value("2")
    await expect(page.locator("#total_price")).to_have_text("63.40")  # 50.40 + 2 × 6.50


async def test_cart_edit_checkout_and_order_list(page, browser_context, demo, pool, redis, settings):
    dialogs = collect_dialogs(page)
    user_id = await create_user(pool, settings, "wang_wu")
    await add_address(pool, user_id)
    await redis.hset(cart_key(user_id), mapping={str(STRAWBERRY): "2", str(APPLE): "3", str(BANANA): "1",
                                                  str(CRAB): "1"})
    await browser_login(page, "wang_wu")

    await page.goto("/cart")
    await expect(page.locator("#all_count")).to_have_text("7")
    await expect(page.locator("#total_price")).to_have_text("224.40")  # 33.60 + 19.50 + 3.30 + 168.00
    await expect(page.locator("#total_num")).to_have_text("7")
    apple = page.locator(f'.cart-row[data-sku-id="{APPLE}"]')
    crab = page.locator(f'.cart-row[data-sku-id="{CRAB}"]')

    # + on the apples: the row's subtotal, the totals and the count above the table follow.
    await apple.locator(".plus").click()
    await expect(apple.locator(".num")).to_have_value("4")
    await expect(apple.locator(".amount")).to_have_text("26.00")
    await expect(page.locator("#all_count")).to_have_text("8")
    await expect(page.locator("#total_price")).to_have_text("230.90")
    # A typed count: 2 crabs.
    await crab.locator(".num").fill("2")
    await crab.locator(".num").press("Enter")
    await expect(crab.locator(".amount")).to_have_text("336.00")
    await expect(page.locator("#total_price")).to_have_text("398.90")
    # 30 crabs is more than the 25 in stock: refused beside the box (no alert), the count stays 2.
    await crab.locator(".num").fill("30")
    await crab.locator(".num").press("Enter")
    await expect(crab.locator(".row-tip")).to_have_text("库存仅剩25件，请输入1到25之间的整数")
    await expect(crab.locator(".num")).to_have_value("2")
    await expect(crab.locator(".amount")).to_have_text("336.00")
    await expect(page.locator("#total_price")).to_have_text("398.90")

    # Delete the bananas.
    await page.locator(f'.cart-row[data-sku-id="{BANANA}"] .delete').click()
    await expect(page.locator(".cart-row")).to_have_count(3)
    await expect(page.locator("#all_count")).to_have_text("8")
    await expect(page.locator("#total_price")).to_have_text("395.60")

    # Only strawberries and apples go into this order.
    await crab.locator(".col-check input").uncheck()
    await expect(page.locator("#check_all")).not_to_be_checked()
    await expect(page.locator("#total_price")).to_have_text("59.60")
    await expect(page.locator("#total_num")).to_have_text("6")
    await page.click("#settle")

    await expect(page).to_have_url("/order/place")
    await expect(page.locator(".addr-box input[name=addr_id]")).to_be_checked()
    rows = page.locator(".goods-row")
    await expect(rows).to_have_count(2)
    await expect(rows.locator(".name")).to_have_text(["大兴大棚草莓", "烟台红富士苹果"])
    await expect(rows.locator(".col-count")).to_have_text(["2", "4"])
    await expect(rows.locator(".col-amount")).to_have_text(["33.60元", "26.00元"])
    settle = page.locator(".settle p")
    await expect(settle).to_have_text(["共6件商品，总金额59.60元", "运费：10.00元", "实付款：69.60元"])

    await page.click(".pay-box label:has-text('支付宝')")
    await page.click("#order_btn")
    await expect(page.locator("#order-popup")).to_contain_text("订单提交成功")
    await expect(page).to_have_url("/user/order/1", timeout=10000)
    [card] = await page.locator(".order-card").all()
    await expect(card.locator(".order-head .stat")).to_have_text("待支付")
    await expect(card.locator(".item .name")).to_have_text(["大兴大棚草莓16.80元/500g", "烟台红富士苹果6.50元/500g"])
    await expect(card.locator(".total")).to_contain_text("69.60元")
    await expect(card.locator(".total")).to_contain_text("含运费：10.00元")
    await expect(card.locator("td.status")).to_contain_text("支付宝")
    await expect(card.locator(".pay-btn")).to_be_visible()
    # What was bought left the cart; the unchecked crabs stayed.
    await page.goto("/cart")
    await expect(page.locator(".cart-row .col-name a")).to_have_text(["阳澄湖大闸蟹"])
    await expect(page.locator("#all_count")).to_have_text("2")
    assert dialogs == []
