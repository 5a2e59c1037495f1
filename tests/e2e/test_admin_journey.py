"""Journey: staff creates a SKU with an uploaded picture and puts it on the index; a shopper buys and pays it;
staff ships it; the shopper's open orders page turns 待收货 by itself; the shopper confirms and comments; the
comment shows on the detail page; staff refunds a second paid order and the shopper sees 已退款. Any console
error, failed request or unexpected error response fails it."""

from __future__ import annotations

from playwright.async_api import expect

from fresh import db
from tests.admin.conftest import png_bytes
from tests.e2e.helpers import browser_login, collect_dialogs
from tests.helpers import add_address, create_user


async def test_admin_to_shopper_journey(browser_context, browser, base_url, app, pool, settings, gateway,
                                        catalog):
    context, problems = browser_context
    await catalog("占位", stock=5)  # a category and a SPU to choose in the form
    await create_user(pool, settings, "boss_01", staff=True)
    buyer_id = await create_user(pool, settings, "buyer_01")
    await add_address(pool, buyer_id)
    picture = png_bytes(900, 900, (200, 30, 60))

    admin = await context.new_page()
    problems.watch(admin)
    collect_dialogs(admin)
    await admin.goto("/admin/goods/new")
    await expect(admin).to_have_url("/user/login?next=%2Fadmin%2Fgoods%2Fnew")
    await admin.fill("input[name=username]", "boss_01")
    await admin.fill("input[name=pwd]", "password123")
    await admin.click("button.btn-login")
    await expect(admin.locator(".admin-title")).to_have_text("新增商品")
    await admin.fill("#f-name", "丹东红颜草莓")
    await admin.fill("#f-desc", "当季鲜摘")
    await admin.select_option("#f-type_id", index=1)
    await admin.select_option("#f-goods_id", index=1)
    await admin.fill("#f-price", "36.80")
    await admin.fill("#f-unite", "500g")
    await admin.fill("#f-stock", "9")
    await admin.set_input_files("#f-picture", files=[{"name": "berry.png", "mimeType": "image/png",
                                                      "buffer": picture}])
    await admin.click("button[value=continue]")
    await expect(admin.locator(".flash")).to_have_text("商品「丹东红颜草莓」已保存")
    sku_id = int(admin.url.rsplit("/", 1)[1])
    # On the index: shown in its category's floor.
    await admin.goto("/admin/content/type_goods/new")
    await admin.select_option("#f-type_id", index=1)
    await admin.fill("#f-sku_id", str(sku_id))
    await admin.click(".admin-form button[type=submit]")
    await expect(admin.locator(".flash")).to_have_text("首页分类展示已保存")
    await admin.goto("/")
    cell = admin.locator(f"a[href='/goods/{sku_id}']").first
    await expect(cell).to_be_visible()
    image = await db.fetchone(pool, "SELECT image FROM goods_sku WHERE id=%s", (sku_id,))
    assert image["image"].startswith("upload/")

    # The shopper, in a browser of their own, buys and pays.
    shopper_context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900},
                                                locale="zh-CN")
    shopper_context.on("page", problems.watch)
    shopper = await shopper_context.new_page()
    problems.watch(shopper)
    collect_dialogs(shopper)
    await browser_login(shopper, "buyer_01")
    await shopper.goto("/")
    await shopper.click(f"a[href='/goods/{sku_id}']")
    await expect(shopper.locator(".goods-detail, body")).to_contain_text("丹东红颜草莓")
    await shopper.click("#add_cart")
    await expect(shopper.locator("#show_count")).to_have_text("1")
    order_id = await checkout_and_pay(shopper)
    await shopper.reload()  # the page as a shopper finds it later: paid, waiting for shipment
    card = shopper.locator(f".order-card[data-order-id='{order_id}']")
    await expect(card.locator(".order-head .stat")).to_have_text("待发货")

    # Staff ships; the shopper's page, untouched, turns 待收货.
    await admin.goto("/admin/orders?status=2")
    await admin.click(f"a[href='/admin/orders/{order_id}']")
    await admin.fill("#f-carrier", "顺丰速运")
    await admin.fill("#f-tracking_no", "SF1234567890")
    await admin.click(".action-panel button[type=submit]")
    await expect(admin.locator("#order-status")).to_have_text("待收货")
    await expect(card.locator(".order-head .stat")).to_have_text("待收货", timeout=15000)
    await expect(card).to_contain_text("SF1234567890")

    # The shopper confirms receipt and comments; the comment shows on the detail page.
    await card.locator(".confirm-btn").click()
    await expect(card.locator(".order-head .stat")).to_have_text("待评价")
    await card.locator("a:has-text('去评价')").click()
    await shopper.fill(f"textarea[name=content_{sku_id}]", "又大又甜，会回购")
    await shopper.click("button:has-text('提交评价')")
    await shopper.goto(f"/goods/{sku_id}")
    await shopper.click("[data-tab=comments]")
    await expect(shopper.locator("#tab_comments")).to_contain_text("又大又甜，会回购")

    # The shopper buys and pays once more; staff refunds that order and the shopper's page shows 已退款.
    await shopper.goto(f"/goods/{sku_id}")
    await shopper.click("#add_cart")
    await expect(shopper.locator("#show_count")).to_have_text("1")
    second_id = await checkout_and_pay(shopper)
    assert second_id != order_id
    await admin.goto(f"/admin/orders/{second_id}")
    await admin.fill("#refund-reason", "缺货")
    await admin.click("form[action$='/refund'] button[type=submit]")
    await expect(admin.locator("#order-status")).to_have_text("已退款")
    await shopper.reload()
    card = shopper.locator(f".order-card[data-order-id='{second_id}']")
    await expect(card).to_contain_text("已退款")
    await shopper_context.close()


async def checkout_and_pay(shopper) -> str:
    """From a cart holding what to buy: settle, order with Alipay, pay in the sandbox cashier, and see the order
    turn 待发货 on the orders page; returns the order's id."""
    await shopper.goto("/cart")
    await shopper.click("#settle")
    await shopper.click(".pay-box label:has-text('支付宝')")
    await shopper.click("#order_btn")
    await expect(shopper).to_have_url("/user/order/1", timeout=10000)
    card = shopper.locator(".order-card").first
    order_id = await card.get_attribute("data-order-id")
    async with shopper.context.expect_page() as cashier_info:
        await card.locator(".pay-btn").click()
    cashier = await cashier_info.value
    await cashier.click("button:has-text('确认付款')")
    await expect(card.locator(".order-head .stat")).to_have_text("待发货", timeout=15000)
    await cashier.close()
    return order_id
