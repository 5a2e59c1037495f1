"""Catalog pages: index, goods detail, category list, search."""

from __future__ import annotations

from fresh.catalog import goods, history, index
from fresh.errors import NotFound
from fresh.web import BaseHandler


class CatalogHandler(BaseHandler):
    async def index_data(self) -> dict:
        return await index.get_index(self.db, self.redis, ttl=self.cfg.catalog.index_cache_ttl)

    async def categories(self) -> list[dict]:
        """The category strip's rows, from the cached index data."""
        return (await self.index_data())["types"]


class IndexHandler(CatalogHandler):
    async def get(self) -> None:
        data = await self.index_data()
        await self.render("catalog/index.html", **data)


class DetailHandler(CatalogHandler):
    async def get(self, sku_id: str) -> None:
        sku = await goods.get_detail(self.db, _int_path(sku_id))
        new = await goods.new_skus(self.db, type_id=sku["type_id"])
        # Comments live with orders, which come after the catalog: they reach this page through a hook.
        sku["comments"] = []
        for hook in self.application.hook("sku_comments"):
            sku["comments"] += await hook(self.application, sku["id"])
        if self.current_user:
            await history.record_view(self.redis, user_id=self.user_id, sku_id=sku["id"],
                                      size=self.cfg.catalog.history_size)
        await self.render("catalog/detail.html", sku=sku, new_skus=new, categories=await self.categories())


class ListHandler(CatalogHandler):
    async def get(self, type_id: str, page: str) -> None:
        category = await goods.get_type(self.db, _int_path(type_id))
        sort = goods.clean_sort(self.arg("sort"))
        result = await goods.list_skus(self.db, type_id=category["id"], page=_int_path(page), sort=sort,
                                       size=self.cfg.catalog.page_size)
        new = await goods.new_skus(self.db, type_id=category["id"])
        await self.render("catalog/list.html", category=category, page=result, sort=sort, new_skus=new,
                          categories=await self.categories())


class SearchHandler(CatalogHandler):
    async def get(self) -> None:
        query = goods.clean_query(self.get_argument("q", ""))
        number = self.int_arg("page") or 1
        result = None
        if query:
            result = await goods.search_skus(self.db, query=query, page=number, size=self.cfg.catalog.page_size)
        await self.render("catalog/search.html", query=query, search_query=query, page=result,
                          categories=await self.categories())


def _int_path(value: str) -> int:
    """A numeric path segment; the route regex allows digits only, this bounds the length."""
    if not value.isdigit() or len(value) > 9:
        raise NotFound("您访问的页面不存在")
    return int(value)
