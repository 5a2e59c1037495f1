"""Browser journey helpers."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from fresh.cart.cart import cart_key
from fresh.orders.place import place_order
from tests.helpers import DEFAULT_PASSWORD, add_address, create_user


async def browser_login(page, username: str, password: str = DEFAULT_PASSWORD) -> None:
    await page.goto("/user/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=pwd]", password)
    await page.click("button.btn-login")
    await expect(page.locator(".top-links .who")).to_contain_text(username)


async def unpaid_alipay_order(pool, redis, settings, sku_id: int, *, username: str = "buyer_01",
                              count: int = 2) -> tuple[int, str]:
    """A user with an address and an unpaid Alipay order of `count` × the SKU; returns (user_id, order_id)."""
    user_id = await create_user(pool, settings, username)
    addr_id = await add_address(pool, user_id)
    await redis.hset(cart_key(user_id), str(sku_id), str(count))
    order_id = await place_order(pool, redis, settings.orders, user_id=user_id, addr_id=addr_id, pay_method=3,
                                 sku_ids=[sku_id], idem_key=None)
    return user_id, order_id


def collect_dialogs(page) -> list[str]:
    """Accept every alert/confirm of the page and return the list their messages are appended to."""
    messages: list[str] = []

    async def on_dialog(dialog) -> None:
        messages.append(dialog.message)
        await dialog.accept()

    page.on("dialog", on_dialog)
    return messages


async def eventually(check, *, timeout: float = 5.0) -> None:
    """Wait until `check()` is truthy (for things outside the DOM, e.g. collected alerts)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
