"""The catalog's shared pages (the index and a goods detail page): the one seam handlers call for them.

A page is rendered once per process and catalog version, with marker strings in place of what differs between
visitors — the user name in the top bar, the header's cart count, the `_xsrf` form field — and split at the
markers; serving it again is a join of the pieces with the visitor's values: no Jinja, no MariaDB. Two variants
exist per page (guest and logged-in), since base.html shows different links to each; if a template ever shows more
of the user than the name (say a staff link), it needs a variant or a slot of its own. The render sees no request:
`render` (fresh.web.Application.render_shared) gives templates only what every visitor shares.

This module decides what is cached, and BENCHMARKS.md (Findings, "The catalog's pages behind one seam") gives the
figures each kept tier bought:
- the rendered pieces, per process, page, variant and catalog version; the index for `catalog.index_cache_ttl`
  seconds, a detail page for `catalog.page_cache_ttl` (the stock and comments it shows may be that old: orders and
  comments do not invalidate);
- concurrent misses of one page share one render (fresh.catalog.cache.shared).
The caller passes the catalog version it read (a round trip the request makes anyway, or the lane:
fresh.catalog.cache.current_version).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from markupsafe import Markup, escape

from fresh import metrics
from fresh.catalog import goods
from fresh.catalog.cache import local_cache, shared, spread
from fresh.catalog.index import build_index, category_rows
from fresh.sessions import Session

if TYPE_CHECKING:
    import aiomysql

    from fresh.hooks import Context

# A random token per process: page data (goods names, admin HTML) cannot contain it by accident or on purpose.
_TOKEN = secrets.token_hex(8)
_MARK = re.compile(f"\x02{_TOKEN}:([a-z]+)\x03")

SLOT_USER = "user"
SLOT_COUNT = "count"
SLOT_XSRF = "xsrf"


class Render(Protocol):
    """Render a template with only what every visitor shares (no request, handler, session or token)."""

    def __call__(self, template_name: str, /, **context: object) -> str: ...


def slot(name: str) -> Markup:
    """The marker a template prints where the visitor's `name` value goes (survives autoescape unchanged)."""
    return Markup(f"\x02{_TOKEN}:{name}\x03")


# What templates are given instead of the visitor's own values when a shared page is rendered.
MARKED_USER = Session(sid="", user_id=-1, username=slot(SLOT_USER))


def marked_context(*, logged_in: bool) -> dict:
    return {
        "current_user": MARKED_USER if logged_in else None,
        "session": None,
        "cart_count": slot(SLOT_COUNT),
        "xsrf_form_html": lambda: slot(SLOT_XSRF),
    }


@dataclass(frozen=True)
class Pieces:
    """A rendered page split at its slots: text, slot name, text, slot name, ..., text."""

    parts: tuple[str, ...]

    @classmethod
    def split(cls, html: str) -> Pieces:
        return cls(tuple(_MARK.split(html)))

    def fill(self, values: dict[str, str]) -> bytes:
        out = list(self.parts)
        for i in range(1, len(out), 2):
            out[i] = values[out[i]]
        return "".join(out).encode("utf-8")


def visitor_values(*, username: str, cart_count: int, xsrf_form_html: str = "") -> dict[str, str]:
    return {SLOT_USER: str(escape(username)), SLOT_COUNT: str(int(cart_count)), SLOT_XSRF: xsrf_form_html}


async def index_page(ctx: Context, *, render: Render, version: str, logged_in: bool) -> Pieces:
    """The index of catalog `version`, for a guest or a logged-in visitor.

    Read from the primary (ctx.db): the page is kept until the next catalog write (index_cache_ttl is an hour), so
    a replica still behind that write must not pin the catalog from before it."""
    async def context() -> dict:
        return await build_index(ctx.db)

    return await _shared_page(ctx, ("index", logged_in), version, ctx.cfg.catalog.index_cache_ttl,
                              "catalog/index.html", render, context)


async def detail_page(ctx: Context, pool: aiomysql.Pool, *, render: Render, sku_id: int, version: str,
                      logged_in: bool) -> Pieces:
    """The page of an on-sale SKU for a guest or a logged-in visitor, its rows read from `pool` (the catalog's read
    pool: the page lives seconds); NotFound when the SKU is unknown or off sale."""
    return await _shared_page(ctx, ("detail", sku_id, logged_in), version, ctx.cfg.catalog.page_cache_ttl,
                              "catalog/detail.html", render, lambda: detail_context(ctx, pool, sku_id))


async def detail_context(ctx: Context, pool: aiomysql.Pool, sku_id: int) -> dict:
    """What the detail template shows of an on-sale SKU (NotFound otherwise), without any notice."""
    sku = await goods.get_detail(pool, sku_id)
    # 新品推荐 recommends other goods: the SKU itself is left out.
    new = [s for s in await goods.new_skus(pool, type_id=sku["type_id"], limit=3) if s["id"] != sku_id][:2]
    # Comments live with orders, which come after the catalog: they reach this page through a hook.
    comments = ctx.hooks.sku_comments
    sku["comments"] = await comments(ctx, sku["id"]) if comments else []
    return {"sku": sku, "new_skus": new, "categories": await category_rows(pool),
            "max_count": ctx.cfg.cart.max_count, "notice": "", "notice_text": "", "notice_count": ""}


async def _shared_page(ctx: Context, variant: tuple, version: str, ttl: float, template_name: str, render: Render,
                       context: Callable[[], Awaitable[dict]]) -> Pieces:
    cache = local_cache(ctx.redis, "pages")
    page = cache.get(variant, version)
    if page is not None:
        return page

    async def build() -> Pieces:
        html = render(template_name, **await context(), **marked_context(logged_in=variant[-1]))
        metrics.CATALOG_PAGE_RENDERS.labels(variant[0]).inc()
        built = Pieces.split(html)
        # Pages filled together (a cold start, an invalidation) expire over a stretch, not in one moment.
        cache.put(variant, version, built, spread(ttl))
        return built

    # One render per page and version at a time: requests that miss meanwhile wait for it instead of each running
    # the same queries (a cold or just-invalidated page under load).
    return await shared(ctx.redis, (variant, version), build)
