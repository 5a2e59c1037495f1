"""The cart page's script in Chromium: counts change only when the server accepts, totals follow the checks."""

from __future__ import annotations

ADD = """async ([sku, n]) => {
  const token = decodeURIComponent(document.cookie.match(/(?:^|; )_xsrf=([^;]*)/)[1]);
  const r = await fetch('/cart/add', {method: 'POST', headers: {'X-Requested-With': 'XMLHttpRequest'},
                                      body: new URLSearchParams({sku_id: sku, count: n, _xsrf: token})});
  return (await r.json()).total_count;
}"""


def dialog_handler(alerts: list[str]):
    async def on_dialog(dialog) -> None:
        alerts.append(dialog.message)
        await dialog.accept()
    return on_dialog


async def test_cart_page_interactions(page, browser_context, skus):
    _, problems = browser_context
    problems.allow(409, "/cart/update")
    alerts: list[str] = []
    page.on("dialog", dialog_handler(alerts))
    await page.goto("/cart")
    assert await page.is_visible("#cart_empty")
    assert await page.evaluate(ADD, [skus["apple"], 2]) == 2
    assert await page.evaluate(ADD, [skus["berry"], 19]) == 21
    await page.goto("/cart")
    assert await page.text_content("#total_price") == "342.20" and await page.text_content("#total_num") == "21"

    apple = page.locator(f'.cart-row[data-sku-id="{skus["apple"]}"]')
    berry = page.locator(f'.cart-row[data-sku-id="{skus["berry"]}"]')
    await apple.locator(".plus").click()
    await page.wait_for_function("document.querySelector('#all_count').textContent === '22'")
    assert await apple.locator(".num").input_value() == "3" and await apple.locator(".amount").text_content() == "34.50"
    assert await page.text_content("#total_price") == "353.70"

    # Stock 20: the second + is refused, the alert says so and the count stays.
    await berry.locator(".plus").click()
    await page.wait_for_function("document.querySelector('#all_count').textContent === '23'")
    await berry.locator(".plus").click()
    await page.wait_for_function("() => !document.querySelector('.cart-row.busy')")
    await page.wait_for_timeout(50)
    assert alerts == ["商品库存不足"] and await berry.locator(".num").input_value() == "20"
    await berry.locator(".num").fill("50")
    await berry.locator(".num").press("Enter")
    await page.wait_for_function("() => !document.querySelector('.cart-row.busy')")
    await page.wait_for_timeout(50)
    assert alerts[-1] == "商品库存不足" and await berry.locator(".num").input_value() == "20"
    await berry.locator(".num").fill("-2")
    await berry.locator(".num").press("Enter")
    assert alerts[-1].startswith("商品数目出错") and await berry.locator(".num").input_value() == "20"

    await berry.locator(".col-check input").uncheck()
    assert await page.text_content("#total_price") == "34.50" and not await page.is_checked("#check_all")
    await page.check("#check_all")
    assert await page.text_content("#total_price") == "370.50"

    await berry.locator(".delete").click()
    await page.wait_for_function("document.querySelector('#all_count').textContent === '3'")
    assert await page.text_content("#total_price") == "34.50"
    await apple.locator(".delete").click()
    await page.wait_for_selector("#cart_empty", state="visible")
    await page.goto("/cart")
    assert await page.is_visible("#cart_empty")


async def test_detail_add_button_updates_header_count(page, browser_context, skus):
    _, problems = browser_context
    problems.allow(404, "/no-such-page")
    problems.allow(409, "/cart/add")
    alerts: list[str] = []
    page.on("dialog", dialog_handler(alerts))
    # The detail page belongs to the catalog; any page with the header and the button exercises the script.
    await page.goto("/no-such-page")
    await page.evaluate("""([sku]) => {
      document.querySelector('main').insertAdjacentHTML('beforeend',
        '<input id="num_show" value="3"><button id="add_cart" data-sku-id="' + sku + '">加入购物车</button>');
      const s = document.createElement('script'); s.src = '/static/js/cart-add.js';
      return new Promise((resolve) => { s.onload = resolve; document.body.appendChild(s); });
    }""", [skus["berry"]])
    await page.click("#add_cart")
    await page.wait_for_function("document.querySelector('#show_count').textContent === '3'")
    await page.fill("#num_show", "18")
    await page.click("#add_cart")
    for _ in range(50):
        if alerts:
            break
        await page.wait_for_timeout(50)
    assert alerts == ["商品库存不足"] and await page.text_content("#show_count") == "3"
