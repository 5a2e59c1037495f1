"""Journey 5: on a phone-sized viewport (390×844) the index, detail, cart, confirmation and orders pages fit the
screen (no horizontal scroll) and their key buttons are on screen and work."""

from __future__ import annotations

import os

from playwright.async_api import expect

from fresh.cart.cart import cart_key
from tests.e2e.helpers import browser_login
from tests.helpers import add_address, create_user

PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("FRESH_E2E_SHOTS")  # a directory: save what the phone shows, for a person to look at


async def fits_the_screen(page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=f"{SHOTS}/phone-{name}.png", full_page=True)
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: the page scrolls sideways ({widths[0]} px wide on a {widths[1]} px screen)"


async def reachable(locator, *, min_side: int = 24) -> None:
    """Visible, entirely within the screen's width once scrolled to, and big enough to tap."""
    await expect(locator).to_be_visible()
    await locator.scroll_into_view_if_needed()
    box = await locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["width"] >= min_side and box["height"] >= min_side, f"too small to tap: {box}"


async def test_phone_pages_fit_and_buttons_work(page, demo, pool, redis, settings):
    user_id = await create_user(pool, settings, "zhao_liu")
    await add_address(pool, user_id)
    await redis.hset(cart_key(user_id), str(3), "1")  # 玫瑰香葡萄 16.80
    await page.set_viewport_size(PHONE)
    await browser_login(page, "zhao_liu")

    await page.goto("/")
    await expect(page.locator("#floor1 h2")).to_have_text("新鲜水果")
    await fits_the_screen(page, "index")

    await page.goto("/list/2/1")
    await fits_the_screen(page, "list")

    await page.goto("/goods/7")
    await expect(page.locator(".goods-detail-list h1")).to_have_text("烟台红富士苹果")
    await fits_the_screen(page, "detail")
    await reachable(page.locator("#num_add"))
    await page.click("#num_add")
    await expect(page.locator("#total_price")).to_have_text("13.00元")
    add = page.locator("#add_cart")
    await reachable(add, min_side=28)
    await add.click()
    await expect(page.locator("#show_count")).to_have_text("3")

    await page.goto("/cart")
    await expect(page.locator(".cart-row")).to_have_count(2)
    await fits_the_screen(page, "cart")
    await reachable(page.locator(".cart-row .plus").first)
    await reachable(page.locator(".cart-row .delete").first)
    await expect(page.locator("#total_price")).to_have_text("29.80")  # 16.80 + 2 × 6.50
    settle = page.locator("#settle")
    await reachable(settle, min_side=28)
    await settle.click()

    await expect(page).to_have_url("/order/place")
    await expect(page.locator(".settle p").last).to_have_text("实付款：39.80元")
    await fits_the_screen(page, "place")
    await page.click(".pay-box label:has-text('支付宝')")
    submit = page.locator("#order_btn")
    await reachable(submit, min_side=28)
    await submit.click()
    await expect(page).to_have_url("/user/order/1", timeout=10000)

    await expect(page.locator(".order-card")).to_have_count(1)
    await expect(page.locator(".order-card .order-head .stat")).to_have_text("待支付")
    await fits_the_screen(page, "orders")
    await reachable(page.locator(".order-card .pay-btn"), min_side=28)
    await reachable(page.locator(".order-card .cancel-btn"))
