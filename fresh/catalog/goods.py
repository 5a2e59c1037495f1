"""SKU lookups: the ones other domains use (cart, orders) and the catalog pages' queries.

Only SKUs on sale count as existing for shoppers. Every query of the detail and list pages runs on an index
(0001: (type_id, status, id|price|sales) and goods_id).
"""

from __future__ import annotations

import aiomysql
import nh3

from fresh import db
from fresh.catalog.cache import catalog_version, local_cache, refresh_in_background, shared, spread, version_key
from fresh.errors import NotFound
from fresh.paging import Page, page_of

SKU_COLUMNS = "s.id, s.type_id, s.goods_id, s.name, s.`desc`, s.price, s.unite, s.image, s.stock, s.sales, s.status"

# ?sort= value -> (index, ORDER BY). Each index is (type_id, status, <sort column>) and InnoDB appends the primary
# key, so the rows come out already ordered (no filesort). The hint keeps the optimizer from scanning the whole
# primary key instead, which it prefers on a small table and regrets on a large one.
SORTS = {
    "default": ("ix_sku_type_status", "s.id DESC"),
    "price": ("ix_sku_type_price", "s.price ASC, s.id ASC"),
    "hot": ("ix_sku_type_sales", "s.sales DESC, s.id DESC"),
}
DETAIL_TAGS = {"p", "br", "strong", "b", "em", "i", "ul", "ol", "li", "h3", "h4", "span", "img", "table", "tr",
               "td", "th", "tbody", "thead"}


async def get_sku(pool: aiomysql.Pool, sku_id: int, *, on_sale_only: bool = True) -> dict | None:
    """One SKU by id, or None (unknown, or off sale when `on_sale_only`)."""
    row = await db.fetchone(pool, f"SELECT {SKU_COLUMNS} FROM goods_sku s WHERE s.id=%s", (sku_id,))  # noqa: S608 -- SKU_COLUMNS is a module constant
    if row is None or (on_sale_only and row["status"] != 1):
        return None
    return row


async def cart_sku(pool: aiomysql.Pool, redis, sku_id: int, *, ttl: float) -> tuple[str, dict | None]:
    """(catalog version, {status, stock, price}) of an on-sale SKU for the cart's advisory cap, or (version, None).

    Served from this process's cache: one MariaDB read per SKU per `ttl` seconds instead of one per add. The stock
    may be up to `ttl` seconds old (orders move it without invalidating); the caller must compare the returned
    version with `cache.version_key()` in the same Redis round trip as its change, so that catalog writes (which
    invalidate) and a flushed Redis are never missed. Unknown and off-sale SKUs are not cached.

    An entry lives 80–100% of `ttl` (spread), is read again in the background in its last fifth while it keeps
    answering, so a SKU in steady demand never misses; concurrent misses of one SKU share one read."""
    cache = local_cache(redis, "sku")
    hit = cache.entry(sku_id)
    if hit is None:
        return await shared(redis, ("cart_sku", sku_id), lambda: _read_cart_sku(pool, redis, sku_id, ttl))
    if cache.expires_within(sku_id, ttl / 5):
        refresh_in_background(redis, ("cart_sku", sku_id), lambda: _read_cart_sku(pool, redis, sku_id, ttl))
    return hit


async def _read_cart_sku(pool: aiomysql.Pool, redis, sku_id: int, ttl: float) -> tuple[str, dict | None]:
    cache = local_cache(redis, "sku")
    # The stamp is read before the row, so a catalog write in between leaves an older stamp, never a newer one.
    version = await redis.get(version_key())
    row = await get_sku(pool, sku_id)
    if row is None:
        cache.forget(sku_id)  # gone or off sale since it was cached: nothing is kept for it
        return version or "", None
    if version is None:
        # No stamp yet (first use, flushed Redis): create one, then read the row again under it.
        version = await catalog_version(redis)
        row = await get_sku(pool, sku_id)
        if row is None:
            cache.forget(sku_id)
            return version, None
    facts = {"status": row["status"], "stock": row["stock"], "price": row["price"]}
    cache.put(sku_id, version, facts, spread(ttl))
    return version, facts


def forget_cart_sku(redis, sku_id: int | None = None) -> None:
    """Drop this process's cached SKU facts (one SKU, or all)."""
    local_cache(redis, "sku").forget(sku_id)


async def get_skus(pool: aiomysql.Pool, sku_ids, *, on_sale_only: bool = True) -> dict[int, dict]:
    """SKUs by id as {id: row}; unknown (and, when asked, off-sale) ids are simply absent."""
    ids = sorted({int(i) for i in sku_ids})
    if not ids:
        return {}
    placeholders = ",".join(["%s"] * len(ids))
    sql = f"SELECT {SKU_COLUMNS} FROM goods_sku s WHERE s.id IN ({placeholders})"  # noqa: S608 -- a module constant and %s placeholders
    if on_sale_only:
        sql += " AND s.status=1"
    return {row["id"]: row for row in await db.fetchall(pool, sql, ids)}


def image_url(path: str) -> str:
    """The public URL of a stored picture (media lives under var/media, served at /media/)."""
    if not path:
        return "/static/img/no-image.svg"
    return path if path.startswith(("/", "http://", "https://")) else f"/media/{path}"


def clean_detail(html: str) -> str:
    """Sanitize an SPU's rich-text detail (admin input): a small whitelist of tags, no scripts or handlers."""
    return nh3.clean(html or "", tags=DETAIL_TAGS, attributes={"img": {"src", "alt"}, "*": {"class"}},
                     url_schemes={"http", "https"}, link_rel=None)


def clean_sort(value: str | None) -> str:
    """An unknown sort falls back to the default one."""
    return value if value in SORTS else "default"


def with_urls(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["image_url"] = image_url(row["image"])
    return rows


async def get_type(pool: aiomysql.Pool, type_id: int) -> dict:
    """One category, or NotFound."""
    row = await db.fetchone(pool, "SELECT id, name, logo, image FROM goods_types WHERE id=%s", (type_id,))
    if row is None:
        raise NotFound("商品分类不存在")
    return row


# Category lists are paged up to LIST_MAX_PAGES pages (a bounded page range): the deepest page skips at most
# (LIST_MAX_PAGES - 1) * page_size index entries, and the count behind the pager stops there too (a LIMIT inside),
# so neither grows with the category. Shoppers narrow a large category by sort or search, not by page 1,000.
LIST_MAX_PAGES = 100
LIST_COUNT_SQL = ("SELECT COUNT(*) AS n FROM (SELECT s.id FROM goods_sku s FORCE INDEX (ix_sku_type_status)"
                  " WHERE s.type_id=%s AND s.status=1 LIMIT %s) c")
# Seconds a process reuses a category's count for the same catalog version: only status changes and new SKUs
# (catalog writes, which change the version) move it, so this only bounds how long a missed invalidation lasts.
LIST_COUNT_TTL = 300.0
NEW_SQL = (f"SELECT {SKU_COLUMNS} FROM goods_sku s"  # noqa: S608 -- SKU_COLUMNS is a module constant
           " FORCE INDEX (ix_sku_type_status) WHERE s.type_id=%s AND s.status=1 ORDER BY s.id DESC LIMIT %s")
DETAIL_SQL = (f"SELECT {SKU_COLUMNS}, g.name AS spu_name,"  # noqa: S608 -- SKU_COLUMNS is a module constant
              " g.detail, t.name AS type_name FROM goods_sku s"
              " JOIN goods g ON g.id=s.goods_id JOIN goods_types t ON t.id=s.type_id WHERE s.id=%s AND s.status=1")
SIBLINGS_SQL = ("SELECT s.id, s.name, s.price, s.unite FROM goods_sku s WHERE s.goods_id=%s AND s.status=1"
                " AND s.id<>%s ORDER BY s.id")


def list_sql(sort: str) -> str:
    """One page of a category in the given order (args: type_id, limit, offset)."""
    index, order = SORTS[clean_sort(sort)]
    return (f"SELECT {SKU_COLUMNS} FROM goods_sku s FORCE INDEX ({index})"  # noqa: S608 -- constants, SORTS allow-list
            f" WHERE s.type_id=%s AND s.status=1 ORDER BY {order} LIMIT %s OFFSET %s")


async def category_count(pool: aiomysql.Pool, redis, *, type_id: int, cap: int, version: str) -> int:
    """On-sale SKUs of a category, counted up to `cap`; reused per process for one catalog version."""
    cache = local_cache(redis, "counts")
    count = cache.get(type_id, version)
    if count is None:
        count = (await db.fetchone(pool, LIST_COUNT_SQL, (type_id, cap)))["n"]
        cache.put(type_id, version, count, LIST_COUNT_TTL)
    return count


async def list_skus(pool: aiomysql.Pool, redis, *, type_id: int, page: int, sort: str, size: int,
                    version: str) -> Page:
    """One page of a category's on-sale SKUs in the given order; PageOutOfRange for a page it does not have.

    No COUNT over the category per request (the bounded count is kept per catalog version) and no OFFSET beyond
    LIST_MAX_PAGES pages."""
    total = await category_count(pool, redis, type_id=type_id, cap=LIST_MAX_PAGES * size, version=version)
    paging = page_of(total, page, size)
    return paging.with_items(with_urls(await db.fetchall(pool, list_sql(sort), (type_id, size, paging.offset))))


async def new_skus(pool: aiomysql.Pool, *, type_id: int, limit: int = 2) -> list[dict]:
    """The newest on-sale SKUs of a category (新品推荐)."""
    rows = await db.fetchall(pool, NEW_SQL, (type_id, limit))
    return with_urls(rows)


async def get_detail(pool: aiomysql.Pool, sku_id: int) -> dict:
    """Everything the detail page shows about one on-sale SKU; unknown or off sale is NotFound."""
    async with db.cursor(pool) as cur:
        await cur.execute(DETAIL_SQL, (sku_id,))
        sku = await cur.fetchone()
        if sku is None:
            raise NotFound("商品不存在或已下架")
        sku["image_url"] = image_url(sku["image"])
        # Admin sanitizes on save; cleaning again here keeps older or hand-edited rows harmless too.
        sku["detail"] = clean_detail(sku["detail"])
        await cur.execute(SIBLINGS_SQL, (sku["goods_id"], sku_id))
        sku["siblings"] = list(await cur.fetchall())
    return sku
