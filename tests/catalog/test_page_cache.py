"""Catalog pages reused per process: per-visitor header, per-visitor `_xsrf`, invalidation from any process,
expiry on the caches' clock, one render per page however many miss it together."""

from __future__ import annotations

import asyncio
import re

import jinja2

from fresh import db, sessions
from fresh.catalog.cache import VERSION_KEY, invalidate_catalog
from fresh.catalog.history import get_history_ids
from tests.cart.conftest import session_of
from tests.catalog.renders import Renders
from tests.helpers import create_user


def badge(html: str) -> str:
    return re.search(r'id="show_count">(\d+)<', html).group(1)


def who(html: str) -> str | None:
    found = re.search(r'<span class="who">欢迎您：<em>([^<]*)</em>', html)
    return found.group(1) if found else None


def xsrf_field(html: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', html).group(1)


def body(html: str) -> str:
    """A page without its top bar, cart count and form token."""
    html = re.sub(r'<div class="top-bar">.*?</nav>\s*</div>\s*</div>', "", html, flags=re.S)
    return re.sub(r'id="show_count">\d+|value="[^"]+"', "", html)


async def as_another_process_would_invalidate(redis) -> None:
    """What invalidate_catalog() in another process leaves in Redis, without touching this process's caches."""
    await redis.set(VERSION_KEY, "changed-elsewhere")


async def test_each_visitor_gets_own_name_and_count_on_a_reused_page(demo, new_client, pool, settings, redis):
    anna = await create_user(pool, settings, "anna")
    await create_user(pool, settings, "bob")
    a, b, anon = new_client(), new_client(), new_client()
    await a.login("anna")
    await b.login("bob")
    await redis.hset(f"cart_{anna}", mapping={"1": 2, "3": 1})
    for path in ("/", "/goods/1"):
        pa, pb, pn = (await a.get(path)).text, (await b.get(path)).text, (await anon.get(path)).text
        assert (who(pa), badge(pa)) == ("anna", "3")
        assert (who(pb), badge(pb)) == ("bob", "0")
        assert who(pn) is None and "登录</a>" in pn and badge(pn) == "0"
        # Apart from the header (and the detail page's form field) the pages are the same bytes.
        assert body(pa) == body(pb)


async def test_ended_session_shows_the_guest_header_and_drops_the_cookie(demo, user_client, redis, settings):
    assert who((await user_client.get("/")).text) is not None
    await redis.delete(sessions.session_key(session_of(user_client, settings).sid))
    page = await user_client.get("/")
    assert who(page.text) is None and "登录</a>" in page.text
    assert "sid=" in page.headers.get("Set-Cookie", "")  # cleared


async def test_detail_form_carries_the_visitors_own_xsrf_token(demo, new_client):
    a, b = new_client(), new_client()
    fa, fb = xsrf_field((await a.get("/goods/2")).text), xsrf_field((await b.get("/goods/2")).text)
    assert fa != fb
    # The field of a reused page works with its visitor's cookie (Tornado compares the unmasked tokens).
    r = await a.post("/cart/add", {"sku_id": 2, "count": 1, "_xsrf": fa}, xsrf=False)
    assert r.code == 200 and r.json()["total_count"] == 1


async def test_detail_page_is_reused_then_rebuilt_after_invalidation(demo, client, pool, redis):
    before = (await client.get("/goods/1")).text
    await db.execute(pool, "UPDATE goods_sku SET name='改名草莓', stock=7 WHERE id=1")
    again = (await client.get("/goods/1")).text
    assert "改名草莓" not in again and "库  存：7" not in again
    await invalidate_catalog(redis)
    fresh = (await client.get("/goods/1")).text
    assert "改名草莓" in fresh and "库  存：7" in fresh and fresh != before


async def test_every_process_rebuilds_after_an_invalidation_elsewhere(demo, client, user_client, pool, redis):
    for c in (client, user_client):
        await c.get("/")
        await c.get("/goods/1")
    await db.execute(pool, "UPDATE goods_sku SET name='改名草莓' WHERE id=1")
    assert "改名草莓" not in (await user_client.get("/")).text
    assert "改名草莓" not in (await client.get("/")).text
    await as_another_process_would_invalidate(redis)
    # Every page compares the version it is served under: a visitor with a session in the header's round trip, one
    # without on the lane. Both see the change at once.
    for c in (user_client, client):
        assert "改名草莓" in (await c.get("/")).text
        assert "改名草莓" in (await c.get("/goods/1")).text


async def test_detail_page_shows_changes_without_invalidation_after_its_ttl(demo, client, pool, settings, clock):
    assert "库  存：7" not in (await client.get("/goods/1")).text
    await db.execute(pool, "UPDATE goods_sku SET stock=7 WHERE id=1")  # as an order would: no invalidation
    # Entries live 80-100% of their ttl (cache.spread): short of 80% the page is still the one rendered first.
    clock.advance(settings.catalog.page_cache_ttl * 0.75)
    assert "库  存：7" not in (await client.get("/goods/1")).text
    clock.advance(settings.catalog.page_cache_ttl * 0.25)
    assert "库  存：7" in (await client.get("/goods/1")).text


async def test_off_sale_detail_is_404_at_once_after_invalidation(demo, client, pool, redis):
    assert (await client.get("/goods/5")).code == 200
    await db.execute(pool, "UPDATE goods_sku SET status=0 WHERE id=5")
    await invalidate_catalog(redis)
    assert (await client.get("/goods/5")).code == 404


async def test_history_records_only_pages_that_exist(demo, user_client, user, redis, settings):
    await user_client.get("/goods/3")
    await user_client.get("/goods/3")  # reused page: still recorded
    await user_client.get("/goods/4")
    assert (await user_client.get("/goods/999999")).code == 404
    assert await get_history_ids(redis, user_id=user["id"], size=5) == [4, 3]


async def test_username_is_escaped_in_the_reused_header(demo, user_client, redis, settings):
    sid = session_of(user_client, settings).sid
    await redis.hset(sessions.session_key(sid), "username", "x<b>y")  # the header shows the stored name
    html = (await user_client.get("/")).text
    assert "x&lt;b&gt;y" in html and "x<b>y" not in html


async def test_concurrent_misses_share_one_render(demo, new_client):
    renders = Renders("detail")
    clients = [new_client() for _ in range(20)]
    replies = await asyncio.gather(*(c.get("/goods/6") for c in clients))
    assert {r.code for r in replies} == {200}
    assert len({body(r.text) for r in replies}) == 1
    assert renders.count() == 1  # twenty guests, one variant: one render
    missing = await asyncio.gather(*(c.get("/goods/999999") for c in clients[:5]))
    assert {r.code for r in missing} == {404}
    assert renders.count() == 1  # nothing rendered for an unknown SKU


async def test_shared_renders_see_no_request(app, monkeypatch):
    # What a template of a shared page could reach of the visitor whose request happened to render it: nothing.
    probe = "{{ request is defined }} {{ handler is defined }} {{ session is defined }} {{ xsrf_token is defined }}"
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"probe.html": probe}), app.jinja.loader])
    monkeypatch.setattr(app.jinja, "loader", loader)
    assert app.render_shared("probe.html") == "False False False False"
