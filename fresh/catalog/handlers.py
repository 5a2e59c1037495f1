"""Catalog pages: index, goods detail, category list, search."""

from __future__ import annotations

from urllib.parse import urlencode

from fresh import sessions
from fresh.catalog import goods, history, index, pages, search
from fresh.catalog.cache import VERSION_KEY, catalog_version, current_version
from fresh.errors import NotFound
from fresh.paging import PageOutOfRange
from fresh.web import BaseHandler


class CatalogHandler(BaseHandler):
    """Catalog pages load the visitor's session, the header's cart count and the catalog version in one Redis
    round trip (page_state) instead of one for the session in prepare() and one for the count in render()."""

    load_session = False  # page_state() checks the cookie's claims against `session:<sid>`
    cart_count = 0

    @property
    def db(self):
        """Catalog pages only read, and may show data a moment old: every query of theirs takes the read pool (the
        replica while db.replica names one that answers; fresh.replica)."""
        return self.application.reads

    async def page_state(self) -> str:
        """Check the session, read the header count and the catalog version (one pipeline); return the version."""
        claims = self.session
        if claims is None:
            return await current_version(self.redis_lane, self.redis)
        counters = []
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(VERSION_KEY)
            pipe.hgetall(sessions.session_key(claims.sid))
            queue = self.application.hooks.cart_count_queue
            counters = [queue(pipe, claims)] if queue else []
            replies = await pipe.execute()
        version = replies[0]
        self.session = sessions.stored_session(claims, replies[1])
        if self.session is None:
            # The session ended (logout, expiry, user deactivated): the visitor is anonymous now.
            self.clear_cookie(sessions.COOKIE_NAME)
        else:
            self.cart_count = sum(parse(reply) for parse, reply in zip(counters, replies[2:], strict=True))
        return version if version is not None else await catalog_version(self.redis)

    def render(self, template_name: str, **kwargs):
        kwargs.setdefault("cart_count", self.cart_count)
        return super().render(template_name, **kwargs)

    def finish_page(self, page: pages.Pieces, *, xsrf: bool = False) -> None:
        """Serve a shared page with this visitor's name, cart count and (when the page has a form) `_xsrf`."""
        user = self.current_user
        # Only pages with a form pay for a masked token (and the `_xsrf` cookie it sets); the index posts nothing,
        # and every page that does renders its own field.
        form = self.xsrf_form_html() if xsrf else ""
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(page.fill(pages.visitor_values(username=user.username if user else "",
                                                   cart_count=self.cart_count, xsrf_form_html=form)))


class IndexHandler(CatalogHandler):
    async def get(self) -> None:
        version = await self.page_state()
        page = await pages.index_page(self.application, render=self.application.render_shared, version=version,
                                      logged_in=self.current_user is not None)
        self.finish_page(page)


class DetailHandler(CatalogHandler):
    async def get(self, sku_id: str) -> None:
        version = await self.page_state()
        sku_id = _int_path(sku_id)
        notice = self.arg("notice")
        if notice in DETAIL_NOTICES:
            # A plain form's answer (no JavaScript): this visitor's own page with the notice, not the shared one.
            ctx = await pages.detail_context(self.application, self.db, sku_id)
            count = self.arg("count")[:6]
            ctx.update(notice=notice, notice_count=count,
                       notice_text=detail_notice_text(notice, ctx["sku"], count, self.int_arg("in_cart") or 0,
                                                      self.cfg.cart.max_count))
            await self.render("catalog/detail.html", **ctx)
            return
        page = await pages.detail_page(self.application, self.db, render=self.application.render_shared,
                                       sku_id=sku_id, version=version, logged_in=self.current_user is not None)
        if self.current_user:  # only once the page exists, i.e. the SKU is on sale
            await history.record_view(self.redis, user_id=self.user_id, sku_id=sku_id,
                                      size=self.cfg.catalog.history_size)
        self.finish_page(page, xsrf=True)


class ListHandler(CatalogHandler):
    async def get(self, type_id: str, page: str) -> None:
        version = await self.page_state()
        category = await goods.get_type(self.db, _int_path(type_id))
        sort = goods.clean_sort(self.arg("sort"))
        asked = _int_path(page)
        size = self.cfg.catalog.page_size
        # Counted from the primary (kept per catalog version); list_skus() below reuses it.
        await goods.category_count(self.application.db, self.redis, type_id=category["id"],
                                   cap=goods.LIST_MAX_PAGES * size, version=version)
        try:
            result = await goods.list_skus(self.db, self.redis, type_id=category["id"], page=asked, sort=sort,
                                           size=size, version=version)
        except PageOutOfRange as out:
            # Beyond the last page (a list that shrank since the link was made): the nearest page, at its own URL.
            self.redirect(self.reverse_url("list", category["id"], out.nearest) + "?" + urlencode({"sort": sort}))
            return
        new = await goods.new_skus(self.db, type_id=category["id"])
        await self.render("catalog/list.html", category=category, page=result, sort=sort, new_skus=new,
                          categories=await index.category_rows(self.db))


class SearchHandler(CatalogHandler):
    """An empty query shows the search page with a hint; a page beyond the results redirects to the last one."""

    async def get(self) -> None:
        await self.page_state()
        query = search.clean_query(self.get_argument("q", ""))
        sort = search.clean_sort(self.arg("sort"))
        result = None
        if query:
            mode = await search.search_mode(self.db, self.cfg.catalog.search)
            try:
                result = await search.search_skus(self.db, mode=mode, query=query, sort=sort,
                                                  page=self.int_arg("page") or 1, size=self.cfg.catalog.page_size)
            except PageOutOfRange as out:
                args = {"q": query, "page": out.nearest, **({} if sort == "relevance" else {"sort": sort})}
                self.redirect(self.reverse_url("search") + "?" + urlencode(args))
                return
            if result is None:
                raise NotFound("页码超出范围")
        await self.render("catalog/search.html", query=query, search_query=query, sort=sort, page=result,
                          sorts=SEARCH_SORTS, categories=await index.category_rows(self.db))


SEARCH_SORTS = (("relevance", "综合"), ("price", "价格"), ("hot", "人气"), ("new", "新品"))


# Notices a plain form post (no JavaScript) brings back to the detail page (fresh.cart.handlers.detail_notice).
DETAIL_NOTICES = ("added", "no_stock", "bad_count", "gone")


def detail_notice_text(notice: str, sku: dict, count: str, in_cart: int, max_count: int) -> str:
    if notice == "added":
        return f"已加入购物车{count}件"
    if notice == "no_stock":
        if sku["stock"] <= 0:
            return "该商品已售罄"
        if in_cart:
            return f"库存不足：库存{sku['stock']}件，购物车中已有{in_cart}件"
        return f"库存不足：库存{sku['stock']}件"
    if notice == "bad_count":
        return f"请输入1到{min(max_count, max(sku['stock'], 1))}之间的整数（每种商品最多{max_count}件）"
    return "该商品已下架"


# The footer's pages: path name -> page title (templates/pages/<name>.html).
INFO_PAGES = {"about": "关于我们", "contact": "联系我们", "jobs": "招聘人才", "links": "友情链接"}


class InfoPageHandler(CatalogHandler):
    def initialize(self, name: str) -> None:  # type: ignore[override]
        super().initialize()
        self.name = name

    async def get(self) -> None:
        await self.page_state()
        await self.render(f"pages/{self.name}.html", title=INFO_PAGES[self.name], page_name=self.name,
                          info_pages=INFO_PAGES)


def _int_path(value: str) -> int:
    """A numeric path segment; the route regex allows digits only, this bounds the length."""
    if not value.isdigit() or len(value) > 9:
        raise NotFound("您访问的页面不存在")
    return int(value)
