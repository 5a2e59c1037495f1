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

    # Stock 20: at 20 the + is disabled and the note next to the box says why.
    await berry.locator(".plus").click()
    await page.wait_for_function("document.querySelector('#all_count').textContent === '23'")
    await page.wait_for_function("() => !document.querySelector('.cart-row.busy')")
    assert await berry.locator(".plus").is_disabled()
    assert await berry.locator(".row-tip").text_content() == "库存仅剩20件"
    # Typed beyond the stock: refused on the page, the reason beside the box, the count unchanged.
    await berry.locator(".num").fill("1000")
    await berry.locator(".num").press("Enter")
    assert await berry.locator(".row-tip").text_content() == "库存仅剩20件，请输入1到20之间的整数"
    assert await berry.locator(".num").input_value() == "20"
    await berry.locator(".num").fill("-2")
    await berry.locator(".num").press("Enter")
    assert await berry.locator(".row-tip").text_content() == "请输入1到20之间的整数"
    assert await berry.locator(".num").input_value() == "20"
    assert alerts == []

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
    assert alerts == []


async def test_server_refusal_shows_next_to_the_box(page, browser_context, skus, pool):
    """Stock that fell after the page was drawn: the server's 409 is explained beside the box, no alert."""
    _, problems = browser_context
    problems.allow(409, "/cart/update")
    alerts: list[str] = []
    page.on("dialog", dialog_handler(alerts))
    await page.goto("/cart")
    assert await page.evaluate(ADD, [skus["kiwi"], 2]) == 2
    await page.goto("/cart")
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("UPDATE goods_sku SET stock=2 WHERE id=%s", (skus["kiwi"],))
    kiwi = page.locator(f'.cart-row[data-sku-id="{skus["kiwi"]}"]')
    await kiwi.locator(".plus").click()
    await page.wait_for_function("() => !document.querySelector('.cart-row.busy')")
    await page.wait_for_function(
        "() => document.querySelector('.cart-row .row-tip').textContent === '库存不足：仅剩2件'")
    assert await kiwi.locator(".num").input_value() == "2" and await kiwi.locator(".plus").is_disabled()
    assert alerts == []
