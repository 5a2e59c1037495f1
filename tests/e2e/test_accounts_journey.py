"""Journey: register -> open the link from the outbox mail -> log in -> add an address."""

from __future__ import annotations

from playwright.async_api import expect

from tests.helpers import activation_path, outbox_messages


async def test_register_activate_login_add_address(page, settings):
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
    await page.fill("#a-receiver", "张三")
    await page.fill("#a-addr", "北京市朝阳区建国路88号")
    await page.fill("#a-zip", "100022")
    await page.fill("#a-phone", "13812345678")
    await page.click("button:has-text('提交')")
    await expect(page.locator(".current-addr")).to_contain_text("建国路88号 （张三 收） 13812345678")
