"""Catalog test data: small categories built straight in MariaDB (fast); the real demo seed is the `demo` fixture
(tests/fixtures/catalog.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fresh import db
from fresh.catalog.search import sync_search_index


class CatalogFactory:
    """Insert categories, SPUs and SKUs with explicit values; ids come back for the assertions. Each SKU is indexed
    for search as the catalog's writes do (sync_search_index after the insert)."""

    def __init__(self, pool):
        self.pool = pool
        self.spus: dict[int, int] = {}

    async def category(self, name: str = "新鲜水果", logo: str = "fruit") -> int:
        async with db.cursor(self.pool) as cur:
            await cur.execute("INSERT INTO goods_types (name, logo, image) VALUES (%s, %s, '')", (name, logo))
            return cur.lastrowid

    async def spu(self, name: str = "草莓", detail: str = "<p>好吃</p>") -> int:
        async with db.cursor(self.pool) as cur:
            await cur.execute("INSERT INTO goods (name, detail) VALUES (%s, %s)", (name, detail))
            return cur.lastrowid

    async def sku(self, type_id: int, *, name: str = "草莓", desc: str = "", price: str = "10.00", sales: int = 0,
                  stock: int = 100, status: int = 1, goods_id: int | None = None, unite: str = "500g") -> int:
        if goods_id is None:
            goods_id = self.spus.get(type_id) or await self.spu()
            self.spus[type_id] = goods_id
        async with db.cursor(self.pool) as cur:
            await cur.execute(
                "INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock, sales, status)"
                " VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s, %s)",
                (type_id, goods_id, name, desc, Decimal(price), unite, stock, sales, status))
            sku_id = cur.lastrowid
        await sync_search_index(self.pool, sku_ids=[sku_id])
        return sku_id

    async def floor(self, type_id: int, sku_id: int, *, display_type: int = 1, index: int = 0) -> None:
        await db.execute(self.pool, "INSERT INTO index_type_goods (type_id, sku_id, display_type, `index`)"
                         " VALUES (%s, %s, %s, %s)", (type_id, sku_id, display_type, index))


@pytest.fixture
def catalog(pool) -> CatalogFactory:
    return CatalogFactory(pool)
