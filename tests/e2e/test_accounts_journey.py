"""Journey 4: register -> open the link from the outbox mail -> log in -> add an address -> it is the default
on the confirmation page."""

from __future__ import annotations

from playwright.async_api import expect

from tests.helpers import activation_path, outbox_messages


async def test_register_activate_login_add_address(page, settings, demo):
    await page.goto("/user/register")
    await page.fill("#reg-username", "zhang_san")
    await page.fill("#reg-pwd", "secret-pass-1")
    await page.fill("#reg-cpwd", "secret-pass-2")
    await page.fill("#reg-email", "zhangsan@example.com")
    await page.click("#reg-username")  # blur: the page checks the confirmation right away
    await expect(page.locator('.error-tip[data-for="cpwd"]')).to_have_text("两次输入的密码不一致")
    await page.fill("#reg-cpwd", "secret-pass-1")
    await page.click("text=注 册")
    await expect(page.locator("h1")).to_have_text("注册成功")

    [mail] = outbox_messages(settings)
    await page.goto(activation_path(mail))
    await expect(page.locator("h1")).to_have_text("激活成功")
    await page.click("text=去登录")

    await page.fill("input[name=username]", "zhang_san")
    await page.fill("input[name=pwd]", "secret-pass-1")
    await page.click("button.btn-login")
    await expect(page.locator(".top-links .who")).to_contain_text("zhang_san")

    await page.goto("/user/address")
    await submit_address(page, "北京市朝阳区建国路88号", "100022")
    await expect(page.locator(".current-addr")).to_contain_text("建国路88号 （张三 收） 13812345678")

    # A second address, not the default: the confirmation page still preselects the first one.
    await submit_address(page, "上海市浦东新区世纪大道100号", "200120")
    await expect(page.locator(".addr-list")).to_contain_text("世纪大道100号")
    await expect(page.locator(".current-addr")).to_contain_text("建国路88号")

    await page.goto("/goods/5")  # 进口柠檬, 3.90
    await page.click("#add_cart")
    await expect(page.locator("#show_count")).to_have_text("1")
    await page.click(".cart-widget")
    await page.click("#settle")
    await expect(page).to_have_url("/order/place")
    addresses = page.locator(".addr-box dd label")
    await expect(addresses).to_have_count(2)
    default = page.locator(".addr-box dd label", has_text="建国路88号")
    await expect(default).to_contain_text("北京市朝阳区建国路88号 （张三 收） 13812345678")
    await expect(default.locator("input[name=addr_id]")).to_be_checked()
    await expect(page.locator(".addr-box dd label", has_text="世纪大道100号").locator("input")).not_to_be_checked()
    await expect(page.locator(".settle p")).to_have_text(
        ["共1件商品，总金额3.90元", "运费：10.00元", "实付款：13.90元"])
    await expect(page.locator("#order_btn")).to_be_enabled()


async def submit_address(page, addr: str, zip_code: str) -> None:
    """Fill the address page's form for 张三 and submit it."""
    await page.fill("#a-receiver", "张三")
    await page.fill("#a-addr", addr)
    await page.fill("#a-zip", zip_code)
    await page.fill("#a-phone", "13812345678")
    await page.click("button:has-text('提交')")
