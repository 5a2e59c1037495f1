"""`make screenshots`: PNGs of the main pages, taken during a real purchase, into docs/screenshots/.

Bootstraps its own world: database `dailyfresh_screens` (dropped and recreated; FRESH_SCREENS_DB overrides it),
Redis db 7 (flushed; FRESH_SCREENS_REDIS_DB overrides it), a var dir
under var/screens (dev keys; the demo pictures are drawn once and reused). The shop and the local Alipay sandbox
run in this process on free ports; Debian's Chromium (through Playwright) logs in, browses, fills the cart,
checks out, pays on the sandbox cashier and watches the order turn paid. Every page is shot 1280 px wide, full
page; then the shopper pages are shot again 390 px wide (phone/), with a few states the journey does not pass
through (sold out, a quantity limit, the address book, an error page, a footer page). A console error, a failed
request or an unexpected error response on any page fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import sys
from pathlib import Path

from PIL import Image
from playwright.async_api import async_playwright, expect
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fresh import db, migrate  # noqa: E402
from fresh.accounts import addresses, users  # noqa: E402
from fresh.background import BackgroundTasks  # noqa: E402
from fresh.catalog.cache import invalidate_catalog  # noqa: E402
from fresh.catalog.seed import seed_catalog  # noqa: E402
from fresh.keys import ensure_dev_keys, local_gateway_settings  # noqa: E402
from fresh.payments.sandbox import make_sandbox_app  # noqa: E402
from fresh.redis_client import create_redis  # noqa: E402
from fresh.settings import load_settings  # noqa: E402
from fresh.web import make_app  # noqa: E402

# Several checkouts share one MariaDB and one Redis: each run can take its own database and Redis db.
DB_NAME = os.environ.get("FRESH_SCREENS_DB", "dailyfresh_screens")
REDIS_URL = f"redis://127.0.0.1:6379/{int(os.environ.get('FRESH_SCREENS_REDIS_DB', '7'))}"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDTH = 1280
PHONE = {"width": 390, "height": 844}
USERNAME, PASSWORD = "zhang_san", secrets.token_urlsafe(9)
STAFF = "admin"
SOLD_OUT = 6  # 新西兰奇异果


def make_settings(var: Path, shop_port: int, gateway_port: int):
    keys = var / "keys"
    ensure_dev_keys(keys)
    return load_settings(
        path="/nonexistent", env={}, mode="development", var_dir=str(var),
        web={"cookie_secret": secrets.token_hex(32), "base_url": f"http://127.0.0.1:{shop_port}"},
        db={"name": DB_NAME},
        redis={"url": REDIS_URL},
        accounts={"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1},
        **local_gateway_settings(keys, gateway_port),
    )


async def bootstrap(cfg):
    """A fresh database and Redis db with the demo catalog and one shopper with two addresses."""
    await migrate.create_database(cfg.db, drop=True)
    pool = await db.create_pool(cfg.db)
    await migrate.migrate(pool)
    redis = create_redis(cfg.redis)
    await redis.flushdb()
    await seed_catalog(pool, redis, cfg, demo=True)
    user_id = await users.register_user(pool, cfg.accounts, username=USERNAME, password=PASSWORD,
                                        email="zhangsan@example.com", is_active=True)
    await addresses.add_address(pool, user_id=user_id, make_default=True, fields={
        "receiver": "张三", "addr": "北京市朝阳区建国路88号", "zip_code": "100022", "phone": "13812345678"})
    await addresses.add_address(pool, user_id=user_id, make_default=False, fields={
        "receiver": "张三", "addr": "上海市浦东新区世纪大道100号", "zip_code": "200120", "phone": "13812345678"})
    await users.register_user(pool, cfg.accounts, username=STAFF, password=PASSWORD, email="admin@example.com",
                              is_active=True, is_staff=True)
    # One SKU sold out, to show how it looks (marked 售罄, last on its floor).
    await db.execute(pool, "UPDATE goods_sku SET stock=0 WHERE id=%s", (SOLD_OUT,))
    await invalidate_catalog(redis)
    return pool, redis


class Problems(list):
    # Error responses a page is meant to answer (a form shown again with its errors is a 400).
    allowed: set[tuple[int, str]] = set()

    def watch(self, page) -> None:
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and self.append(f"console: {m.text}"))
        page.on("pageerror", lambda exc: self.append(f"page error: {exc}"))
        page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "")
                and self.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and (r.status, r.url.split("/", 3)[-1]) not in self.allowed
                and not self.expected(r) and self.append(f"HTTP {r.status}: {r.url}"))

    # The error page is shot on purpose.
    @staticmethod
    def expected(response) -> bool:
        return response.status == 404 and response.url.endswith("/no-such-page")


async def shoot(page, out: Path, name: str) -> None:
    """Full-page PNG at the page's width, re-encoded losslessly with the smallest settings Pillow has."""
    await page.wait_for_load_state("networkidle")
    await page.evaluate("document.fonts.ready")
    await page.evaluate("Promise.all([...document.images].map(i => i.complete ? 0 : i.decode().catch(() => 0)))")
    raw = await page.screenshot(full_page=True, animations="disabled", caret="hide")
    print("  " + await asyncio.to_thread(save_png, raw, out / f"{name}.png"))


def save_png(raw: bytes, path: Path) -> str:
    image = Image.open(io.BytesIO(raw))
    image.save(path, optimize=True)
    return f"{path}  {image.width}×{image.height}  {path.stat().st_size // 1024} KiB"


async def add_from_detail(page, sku_id: int, count: int) -> None:
    await page.goto(f"/goods/{sku_id}")
    before = int(await page.text_content("#show_count"))
    for _ in range(count - 1):
        await page.click("#num_add")
    await page.click("#add_cart")
    await expect(page.locator("#show_count")).to_have_text(str(before + count))


async def journey(browser, base_url: str, out: Path) -> list[str]:
    problems = Problems()
    context = await browser.new_context(base_url=base_url, viewport={"width": WIDTH, "height": 900},
                                        locale="zh-CN", device_scale_factor=1)
    context.on("page", problems.watch)
    page = await context.new_page()

    await page.goto("/user/login")
    await page.fill("input[name=username]", USERNAME)
    await page.fill("input[name=pwd]", PASSWORD)
    await page.click("button.btn-login")
    await expect(page.locator(".top-links .who")).to_contain_text(USERNAME)

    await page.goto("/")
    await expect(page.locator("#floor1 h2")).to_have_text("新鲜水果")
    await shoot(page, out, "01-index")
    await page.goto("/list/1/1")
    await shoot(page, out, "02-list")

    await add_from_detail(page, 11, 1)   # 青岛野生海捕大青虾
    await add_from_detail(page, 7, 3)    # 烟台红富士苹果
    await add_from_detail(page, 1, 2)    # 大兴大棚草莓, the detail page shown
    await page.wait_for_timeout(500)     # the fly-to-cart dot has faded
    await shoot(page, out, "03-detail")

    await page.click(".cart-widget")
    await expect(page.locator(".cart-row")).to_have_count(3)
    await shoot(page, out, "04-cart")

    await page.click("#settle")
    await expect(page).to_have_url("/order/place")
    await page.click(".pay-box label:has-text('支付宝')")
    await shoot(page, out, "05-place-order")

    await page.click("#order_btn")
    await expect(page).to_have_url("/user/order/1", timeout=10000)
    card = page.locator(".order-card").first
    async with context.expect_page() as cashier_info:
        await card.locator(".pay-btn").click()
    cashier = await cashier_info.value
    await expect(cashier.locator("body")).to_contain_text("收银台")
    await shoot(cashier, out, "06-cashier")
    await cashier.click("button:has-text('确认付款')")
    await expect(card.locator(".live-status")).to_have_text("支付成功", timeout=15000)
    await expect(card.locator(".order-head .stat")).to_have_text("待发货")
    await cashier.close()
    await shoot(page, out, "07-paid-order")

    order_id = await card.get_attribute("data-order-id")
    await page.goto("/user")
    await shoot(page, out, "08-user-center")
    await page.goto("/user/address")
    await shoot(page, out, "09-address")
    await page.goto(f"/goods/{SOLD_OUT}")
    await shoot(page, out, "10-sold-out")
    await page.goto("/goods/16")
    await page.fill("#num_show", "9999")
    await page.click("#add_cart")
    await expect(page.locator("#num_tip")).to_contain_text("库存仅剩")
    await shoot(page, out, "11-quantity-limit")
    await page.goto("/no-such-page")
    await shoot(page, out, "12-not-found")
    await page.goto("/about")
    await shoot(page, out, "13-about")

    phone = out / "phone"
    phone.mkdir(exist_ok=True)
    await page.set_viewport_size(PHONE)
    await add_from_detail(page, 3, 2)    # 玫瑰香葡萄: the cart was emptied by the order
    await add_from_detail(page, 7, 1)
    for name, path in (("01-index", "/"), ("02-list", "/list/1/1"), ("03-detail", "/goods/1"),
                       ("04-cart", "/cart"), ("08-user-center", "/user"), ("09-address", "/user/address"),
                       ("10-sold-out", f"/goods/{SOLD_OUT}"), ("12-not-found", "/no-such-page"),
                       ("13-about", "/about")):
        await page.goto(path)
        await shoot(page, phone, name)
    await page.goto("/cart")
    await page.click("#settle")
    await shoot(page, phone, "05-place-order")
    await page.goto("/user/order/1")
    await shoot(page, phone, "07-paid-order")
    await context.close()

    guest = await browser.new_context(base_url=base_url, viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    guest.on("page", problems.watch)
    page = await guest.new_page()
    await page.goto("/user/register")
    await shoot(page, phone, "14-register")
    await page.goto("/user/login")
    await shoot(page, phone, "15-login")
    await guest.close()
    await admin_pages(browser, base_url, out, order_id, problems)
    return problems


async def admin_pages(browser, base_url: str, out: Path, order_id: str, problems: Problems) -> None:
    """The back office as a staff user sees it after the purchase above."""
    context = await browser.new_context(base_url=base_url, viewport={"width": WIDTH, "height": 900},
                                        locale="zh-CN", device_scale_factor=1)
    context.on("page", problems.watch)
    page = await context.new_page()
    await page.goto("/admin")
    await page.fill("input[name=username]", STAFF)
    await page.fill("input[name=pwd]", PASSWORD)
    await page.click("button.btn-login")
    await expect(page.locator(".admin-title")).to_have_text("概览")
    await shoot(page, out, "20-admin-dashboard")
    await page.goto("/admin/goods")
    await shoot(page, out, "21-admin-goods")
    await page.goto("/admin/goods/1")
    problems.allowed.add((400, "admin/goods/1"))
    await page.fill("#f-price", "abc")
    await page.click("button[value=continue]")
    await expect(page.locator(".field-error")).to_be_visible()
    await shoot(page, out, "22-admin-goods-form")
    await page.goto(f"/admin/orders/{order_id}")
    await page.fill("#f-carrier", "顺丰速运")
    await page.fill("#f-tracking_no", "SF1234567890")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click(".action-panel button[type=submit]")
    await expect(page.locator("#order-status")).to_have_text("待收货")
    await shoot(page, out, "23-admin-order")
    await context.close()


async def main(out: Path) -> int:
    shop_sock, shop_port = bind_unused_port()
    gateway_sock, gateway_port = bind_unused_port()
    cfg = make_settings(ROOT / "var" / "screens", shop_port, gateway_port)
    pool, redis = await bootstrap(cfg)
    app = make_app(cfg, pool=pool, redis=redis)
    shop = HTTPServer(app, max_body_size=cfg.web.max_body_size)
    shop.add_sockets([shop_sock])
    gateway_app = make_sandbox_app(cfg.sandbox)
    gateway = HTTPServer(gateway_app)
    gateway.add_sockets([gateway_sock])
    background = BackgroundTasks(app, app.background)
    background.start()
    print(f"shop on {cfg.web.base_url}, sandbox on {cfg.sandbox.public_url}; writing {out}")
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                problems = await journey(browser, cfg.web.base_url, out)
            finally:
                await browser.close()
    finally:
        app.live.close_all()
        await background.stop()
        gateway_app.cancel_notifies()
        for server in (shop, gateway):
            server.stop()
            await server.close_all_connections()
        pool.close()
        await pool.wait_closed()
        await redis.aclose()
    if problems:
        print("pages had problems:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out_dir = parser.parse_args().out
    out_dir.mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(main(out_dir)))
