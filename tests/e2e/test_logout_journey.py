"""退出 in the header is a small POST form (with _xsrf) that looks like the links beside it."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.helpers import browser_login
from tests.helpers import create_user


async def test_header_logout_button_logs_out(page, pool, settings):
    await create_user(pool, settings, "leaver_01")
    await browser_login(page, "leaver_01")
    await page.goto("/user")
    button = page.locator(".top-links form.logout-form button")
    await expect(button).to_have_text("退出")
    # It reads as a link: no button chrome, the links' colour and size.
    link = page.locator(".top-links a").last
    styles = await button.evaluate("b => [getComputedStyle(b).borderStyle, getComputedStyle(b).backgroundColor]")
    assert styles == ["none", "rgba(0, 0, 0, 0)"]
    assert await button.evaluate("b => getComputedStyle(b).fontSize") == await link.evaluate(
        "a => getComputedStyle(a).fontSize")
    await button.click()
    await expect(page.locator(".top-links")).to_contain_text("登录")
    await page.goto("/user")
    await expect(page).to_have_url("/user/login?next=%2Fuser")
