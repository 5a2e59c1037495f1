"""Browser fixtures: Playwright (async API, the app shares the test's event loop) driving Debian's Chromium.

A missing /usr/bin/chromium fails these tests; it never skips them (`make test` installs it).
"""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser():
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class PageProblems:
    """Console errors, failed requests and error responses seen by one browser context; a journey asserts
    there are none, except the error responses it declares with `allow(status, path)` (e.g. a 409 for stock)."""

    def __init__(self):
        self.items: list[str] = []
        self.allowed: set[tuple[int, str]] = set()

    def allow(self, status: int, path: str) -> None:
        self.allowed.add((status, path))

    def _response(self, resp) -> None:
        if resp.status >= 400 and not any(
            resp.status == status and path in resp.url for status, path in self.allowed
        ):
            self.items.append(f"HTTP {resp.status}: {resp.url}")

    def _console(self, msg) -> None:
        # "Failed to load resource" repeats a response already judged by _response.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.items.append(f"console: {msg.text}")

    def _failed(self, request) -> None:
        # ERR_ABORTED is the browser cancelling a request itself (a navigation, a closing tab), not a failure.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.items.append(f"request failed: {request.url} {request.failure}")

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.items.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)


@pytest.fixture
async def browser_context(browser, base_url):
    """A fresh browser profile on the shop; yields (context, problems) and checks for problems at the end."""
    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900},
                                        locale="zh-CN")
    problems = PageProblems()
    context.on("page", problems.watch)
    yield context, problems
    if problems.items:
        print("browser problems:", *problems.items, sep="\n  ")
    await context.close()
    assert problems.items == [], problems.items


@pytest.fixture
async def page(browser_context):
    context, problems = browser_context
    page = await context.new_page()
    problems.watch(page)
    return page


@pytest.fixture
async def demo(pool, redis, settings):
    """The real demo catalog: six categories, 42 SKUs with pictures (drawn once per session, then reused)."""
    from fresh.catalog.seed import seed_catalog

    await seed_catalog(pool, redis, settings, demo=True)
