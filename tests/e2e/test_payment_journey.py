"""Journey 3: 去付款 opens the sandbox cashier in a new tab; after 确认付款 the first tab, untouched, switches to
支付成功 / 待发货 by itself — through the notify, through the watcher when notifies are dropped, and after its
websocket was cut once."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from fresh.payments.watcher import watch_payments
from tests.e2e.helpers import browser_login, unpaid_alipay_order


@pytest.fixture
async def watcher(app):
    task = asyncio.create_task(watch_payments(app))
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def pay_and_watch(page, order_id: str) -> None:
    """Click 去付款, confirm on the cashier tab, leave the first tab alone."""
    card = page.locator(f".order-card[data-order-id='{order_id}']")
    async with page.context.expect_page() as cashier_info:
        await card.locator(".pay-btn").click()
    cashier = await cashier_info.value
    await expect(cashier.locator("body")).to_contain_text("收银台")
    await expect(cashier.locator("body")).to_contain_text(order_id)
    await expect(card.locator(".live-status")).to_have_text("等待支付…")
    return cashier


@pytest.mark.parametrize("variant", ["notify", "watcher", "socket_cut"])
async def test_payment_result_arrives_live(page, app, pool, redis, settings, gateway, catalog,
                                           watcher, variant):
    sku = await catalog(price="12.50", stock=5)
    _, order_id = await unpaid_alipay_order(pool, redis, settings, sku)
    if variant == "watcher":
        gateway.drop_notifies = True
    await browser_login(page, "buyer_01")
    await page.goto("/user/order/1")
    card = page.locator(f".order-card[data-order-id='{order_id}']")
    await expect(card.locator(".order-head .stat")).to_have_text("待支付")

    cashier = await pay_and_watch(page, order_id)
    await expect(cashier.locator("body")).to_contain_text("35.00")  # 2 × 12.50 + 10.00 transit
    if variant == "socket_cut":
        # Drop the page's socket from the server side, as a restarting instance would.
        await _wait_for_socket(app, order_id)
        for socket in list(app.live.sockets.get(order_id, ())):
            socket.close(1012, "restart")
    await cashier.click("button:has-text('确认付款')")
    await expect(cashier.locator("body")).to_contain_text("支付成功", timeout=15000)

    await expect(card.locator(".live-status")).to_have_text("支付成功", timeout=15000)
    await expect(card.locator(".order-head .stat")).to_have_text("待发货")
    await expect(card.locator("td.status .status-name")).to_have_text("待发货")
    await expect(card.locator(".pay-btn")).to_have_count(0)


async def _wait_for_socket(app, order_id: str) -> None:
    for _ in range(200):
        if app.live.sockets.get(order_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the page never opened its status socket")
