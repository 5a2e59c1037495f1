"""Goods in the back office: SKU and SPU lists and forms, on/off sale, pictures.

Every write is one explicit transaction with its audit row, followed by publish(): the search rows are synced and
the catalog version changes, so every instance drops its cached index, pages and SKU facts on its next request.
"""

from __future__ import annotations

import re
from decimal import Decimal

import aiomysql
import redis.asyncio as aioredis

from fresh import db
from fresh.admin import audit
from fresh.admin.forms import Form
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.goods import clean_detail, image_url
from fresh.catalog.search import like_pattern, sync_search_index
from fresh.errors import BadRequest, NotFound
from fresh.paging import Page, page_of

PRICE_RE = re.compile(r"[0-9]{1,6}(\.[0-9]{1,2})?")
PRICE_MIN = Decimal("0.01")
PRICE_HELP = "0.01–999999.99，最多两位小数"
MAX_STOCK = 1_000_000
LOW_STOCK = 10
PAGE_SIZE = 20
SKU_SORTS = {
    "id": "s.id DESC", "price": "s.price ASC, s.id DESC", "-price": "s.price DESC, s.id DESC",
    "stock": "s.stock ASC, s.id DESC", "sales": "s.sales DESC, s.id DESC",
}
SKU_FIELDS = ("name", "desc", "price", "unite", "stock", "type_id", "goods_id", "status")
SKU_SELECT = ("SELECT s.id, s.type_id, s.goods_id, s.name, s.`desc`, s.price, s.unite, s.image, s.stock, s.sales,"
              " s.status, s.created_at, t.name AS type_name, g.name AS spu_name FROM goods_sku s"
              " JOIN goods_types t ON t.id=s.type_id JOIN goods g ON g.id=s.goods_id")


async def publish(pool: aiomysql.Pool, redis: aioredis.Redis, *, sku_ids=(), goods_ids=(), type_ids=()) -> None:
    """After a committed catalog write: bring the search rows up to date, then change the catalog version so every
    instance drops its cached index, pages and SKU facts (search first: a page rebuilt after the bump finds it)."""
    if sku_ids or goods_ids or type_ids:
        await sync_search_index(pool, sku_ids=sku_ids, goods_ids=goods_ids, type_ids=type_ids)
    await invalidate_catalog(redis)


def clean_price(raw: str) -> Decimal | None:
    """A price 0.01–999999.99 with at most two decimals, or None. Read as text, never through float."""
    raw = (raw or "").strip()
    if not PRICE_RE.fullmatch(raw):
        return None
    value = Decimal(raw)
    return value if value >= PRICE_MIN else None


def clean_int(raw: str, *, low: int, high: int) -> int | None:
    raw = (raw or "").strip()
    if not re.fullmatch(r"-?[0-9]{1,9}", raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def clean_sku_form(values: dict[str, str], *, creating: bool, type_ids: set[int], spu_ids: set[int]) -> Form:
    """Check a SKU form; form.values keeps what was typed, form.clean the values to store."""
    form = Form(values)
    clean: dict = {}
    name = values.get("name", "").strip()
    if not name or len(name) > 50:
        form.error("name", "请填写商品名称（最多50字）")
    clean["name"] = name
    desc = values.get("desc", "").strip()
    if len(desc) > 256:
        form.error("desc", "副标题最多256字")
    clean["desc"] = desc
    price = clean_price(values.get("price", ""))
    if price is None:
        form.error("price", f"价格须为{PRICE_HELP}")
    clean["price"] = price
    unite = values.get("unite", "").strip()
    if not unite or len(unite) > 20:
        form.error("unite", "请填写单位（最多20字，如 500g）")
    clean["unite"] = unite
    if creating:
        stock = clean_int(values.get("stock", ""), low=0, high=MAX_STOCK)
        if stock is None:
            form.error("stock", f"库存须为0–{MAX_STOCK}的整数")
        clean["stock"] = stock
    type_id = clean_int(values.get("type_id", ""), low=1, high=10**9)
    if type_id not in type_ids:
        form.error("type_id", "请选择分类")
    clean["type_id"] = type_id
    goods_id = clean_int(values.get("goods_id", ""), low=1, high=10**9)
    if goods_id not in spu_ids:
        form.error("goods_id", "请选择所属SPU")
    clean["goods_id"] = goods_id
    clean["status"] = 1 if values.get("status") in ("1", "on") else 0
    form.clean = clean
    return form


async def choices(pool: aiomysql.Pool) -> tuple[list[dict], list[dict]]:
    """(categories, SPUs) for the form's selects."""
    types = await db.fetchall(pool, "SELECT id, name FROM goods_types ORDER BY position, id")
    spus = await db.fetchall(pool, "SELECT id, name FROM goods ORDER BY id DESC LIMIT 1000")
    return types, spus


async def list_skus(pool: aiomysql.Pool, *, q: str = "", type_id: int | None = None, sale: str = "",
                    stock: str = "", sort: str = "id", page: int = 1, size: int = PAGE_SIZE) -> Page:
    """SKUs filtered by text (name, subtitle, SPU), category, on/off sale and stock state."""
    where, args = ["1=1"], []
    if q:
        pattern = like_pattern(q[:50])
        where.append("(s.name LIKE %s ESCAPE '!' OR s.`desc` LIKE %s ESCAPE '!' OR g.name LIKE %s ESCAPE '!')")
        args += [pattern, pattern, pattern]
    if type_id:
        where.append("s.type_id=%s")
        args.append(type_id)
    if sale in ("on", "off"):
        where.append("s.status=%s")
        args.append(1 if sale == "on" else 0)
    if stock == "low":
        where.append("s.stock>0 AND s.stock<=%s")
        args.append(LOW_STOCK)
    elif stock == "out":
        where.append("s.stock=0")
    condition = " AND ".join(where)
    order = SKU_SORTS.get(sort, SKU_SORTS["id"])
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT COUNT(*) AS n FROM goods_sku s"  # noqa: S608 -- constant fragments, values are %s
                          f" JOIN goods g ON g.id=s.goods_id WHERE {condition}", args)
        paging = page_of((await cur.fetchone())["n"], page, size)
        await cur.execute(f"{SKU_SELECT} WHERE {condition} ORDER BY {order} LIMIT %s OFFSET %s",
                          (*args, size, paging.offset))
        rows = list(await cur.fetchall())
    for row in rows:
        row["image_url"] = image_url(row["image"])
    return paging.with_items(rows)


async def get_sku(pool: aiomysql.Pool, sku_id: int) -> dict:
    row = await db.fetchone(pool, f"{SKU_SELECT} WHERE s.id=%s", (sku_id,))
    if row is None:
        raise NotFound("商品不存在")
    row["image_url"] = image_url(row["image"])
    row["pictures"] = await db.fetchall(
        pool, "SELECT id, image FROM goods_images WHERE sku_id=%s ORDER BY position, id", (sku_id,))
    for pic in row["pictures"]:
        pic["url"] = image_url(pic["image"])
        pic["main"] = pic["image"] == row["image"]
    # A main picture from before the gallery (the seed's, 0001 rows) is shown first, without gallery actions.
    row["legacy_main"] = bool(row["image"]) and not any(p["main"] for p in row["pictures"])
    return row


def _sku_facts(row: dict) -> dict:
    return {k: row.get(k) for k in ("name", "desc", "price", "unite", "stock", "type_id", "goods_id", "status",
                                    "image")}


async def create_sku(pool: aiomysql.Pool, redis: aioredis.Redis, staff, data: dict, *,
                     picture: str | None = None) -> int:
    async with db.transaction(pool) as cur:
        await cur.execute(
            "INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock, status)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (data["type_id"], data["goods_id"], data["name"], data["desc"], data["price"], data["unite"],
             picture or "", data["stock"], data["status"]))
        sku_id = cur.lastrowid
        if picture:
            await cur.execute("INSERT INTO goods_images (sku_id, image, position) VALUES (%s,%s,0)",
                              (sku_id, picture))
        await audit.record(cur, staff, action="create", entity=audit.Entity.SKU, entity_id=sku_id,
                           summary=f"新增商品「{data['name']}」", after={**data, "image": picture or ""})
    await publish(pool, redis, sku_ids=[sku_id])
    return sku_id


async def update_sku(pool: aiomysql.Pool, redis: aioredis.Redis, staff, sku_id: int, data: dict, *,
                     picture: str | None = None) -> None:
    """Save a SKU's fields (stock moves only through adjustments); a new picture becomes the main one."""
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT * FROM goods_sku WHERE id=%s FOR UPDATE", (sku_id,))
        before = await cur.fetchone()
        if before is None:
            raise NotFound("商品不存在")
        image = before["image"]
        if picture:
            image = picture
            await cur.execute("INSERT INTO goods_images (sku_id, image, position)"
                              " SELECT %s, %s, COALESCE(MAX(position),0)+1 FROM goods_images WHERE sku_id=%s",
                              (sku_id, picture, sku_id))
        await cur.execute(
            "UPDATE goods_sku SET type_id=%s, goods_id=%s, name=%s, `desc`=%s, price=%s, unite=%s, status=%s,"
            " image=%s WHERE id=%s",
            (data["type_id"], data["goods_id"], data["name"], data["desc"], data["price"], data["unite"],
             data["status"], image, sku_id))
        old, new = audit.changed(_sku_facts(before), {**_sku_facts(before), **data, "image": image})
        await audit.record(cur, staff, action="update", entity=audit.Entity.SKU, entity_id=sku_id,
                           summary=f"修改商品「{data['name']}」", before=old, after=new)
    await publish(pool, redis, sku_ids=[sku_id])


async def set_on_sale(pool: aiomysql.Pool, redis: aioredis.Redis, staff, sku_ids: list[int], on_sale: bool) -> int:
    """Put SKUs on or off sale; returns how many changed. An off-sale SKU leaves every shopper page at once."""
    status = 1 if on_sale else 0
    changed = 0
    async with db.transaction(pool) as cur:
        for sku_id in sorted(set(sku_ids)):
            n = await cur.execute("UPDATE goods_sku SET status=%s WHERE id=%s AND status<>%s",
                                  (status, sku_id, status))
            if n:
                changed += 1
                await audit.record(cur, staff, action="on_sale" if on_sale else "off_sale",
                                   entity=audit.Entity.SKU, entity_id=sku_id,
                                   summary="上架" if on_sale else "下架",
                                   before={"status": 1 - status}, after={"status": status})
    await publish(pool, redis, sku_ids=sku_ids)
    return changed


# --- pictures -----------------------------------------------------------------------------------------------

async def add_picture(pool, redis, staff, sku_id: int, path: str, *, main: bool) -> None:
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT id, image FROM goods_sku WHERE id=%s FOR UPDATE", (sku_id,))
        sku = await cur.fetchone()
        if sku is None:
            raise NotFound("商品不存在")
        await cur.execute("INSERT INTO goods_images (sku_id, image, position)"
                          " SELECT %s, %s, COALESCE(MAX(position),0)+1 FROM goods_images WHERE sku_id=%s",
                          (sku_id, path, sku_id))
        picture_id = cur.lastrowid
        if main or not sku["image"]:
            await cur.execute("UPDATE goods_sku SET image=%s WHERE id=%s", (path, sku_id))
        await audit.record(cur, staff, action="create", entity=audit.Entity.PICTURE, entity_id=picture_id,
                           summary=f"商品{sku_id}新增图片", after={"sku_id": sku_id, "image": path, "main": main})
    await invalidate_catalog(redis)


async def picture_action(pool, redis, staff, sku_id: int, picture_id: int, action: str) -> None:
    """main: make it the SKU's main picture; up/down: move it; delete: remove it (the next becomes main)."""
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT id, image FROM goods_sku WHERE id=%s FOR UPDATE", (sku_id,))
        sku = await cur.fetchone()
        await cur.execute("SELECT id, image, position FROM goods_images WHERE sku_id=%s ORDER BY position, id",
                          (sku_id,))
        pictures = list(await cur.fetchall())
        picture = next((p for p in pictures if p["id"] == picture_id), None)
        if sku is None or picture is None:
            raise NotFound("图片不存在")
        if action == "main":
            await cur.execute("UPDATE goods_sku SET image=%s WHERE id=%s", (picture["image"], sku_id))
        elif action in ("up", "down"):
            at = pictures.index(picture)
            other = at - 1 if action == "up" else at + 1
            if 0 <= other < len(pictures):
                pictures[at], pictures[other] = pictures[other], pictures[at]
            for position, pic in enumerate(pictures):
                await cur.execute("UPDATE goods_images SET position=%s WHERE id=%s", (position, pic["id"]))
        elif action == "delete":
            await cur.execute("DELETE FROM goods_images WHERE id=%s", (picture_id,))
            if sku["image"] == picture["image"]:
                rest = [p for p in pictures if p["id"] != picture_id]
                await cur.execute("UPDATE goods_sku SET image=%s WHERE id=%s",
                                  (rest[0]["image"] if rest else "", sku_id))
        else:
            raise BadRequest("未知的操作")
        await audit.record(cur, staff, action=f"picture_{action}", entity=audit.Entity.PICTURE,
                           entity_id=picture_id, summary=f"商品{sku_id}图片操作：{action}",
                           before={"main_image": sku["image"]}, after={"image": picture["image"]})
    await invalidate_catalog(redis)


# --- SPU -------------------------------------------------------------------------------------------------------

def clean_spu_form(values: dict[str, str]) -> Form:
    form = Form(values)
    name = values.get("name", "").strip()
    if not name or len(name) > 50:
        form.error("name", "请填写SPU名称（最多50字）")
    detail = values.get("detail", "")
    if len(detail) > 60_000:
        form.error("detail", "详情过长（最多60000字符）")
    # Sanitized on save (nh3): scripts, event handlers and javascript: links never reach the database.
    form.clean = {"name": name, "detail": clean_detail(detail)}
    return form


async def list_spus(pool: aiomysql.Pool, *, q: str = "", page: int = 1, size: int = PAGE_SIZE) -> Page:
    where, args = "1=1", []
    if q:
        where, args = "g.name LIKE %s ESCAPE '!'", [like_pattern(q[:50])]
    total = (await db.fetchone(pool, f"SELECT COUNT(*) AS n FROM goods g WHERE {where}", args))["n"]  # noqa: S608 -- constant
    paging = page_of(total, page, size)
    rows = await db.fetchall(
        pool, "SELECT g.id, g.name,"  # noqa: S608 -- constant fragments, values are %s
        " (SELECT COUNT(*) FROM goods_sku s WHERE s.goods_id=g.id) AS skus"
        f" FROM goods g WHERE {where} ORDER BY g.id DESC LIMIT %s OFFSET %s", (*args, size, paging.offset))
    return paging.with_items(rows)


async def get_spu(pool: aiomysql.Pool, spu_id: int) -> dict:
    row = await db.fetchone(pool, "SELECT id, name, detail FROM goods WHERE id=%s", (spu_id,))
    if row is None:
        raise NotFound("SPU不存在")
    return row


async def save_spu(pool, redis, staff, spu_id: int | None, data: dict) -> int:
    async with db.transaction(pool) as cur:
        if spu_id is None:
            await cur.execute("INSERT INTO goods (name, detail) VALUES (%s,%s)", (data["name"], data["detail"]))
            spu_id = cur.lastrowid
            await audit.record(cur, staff, action="create", entity=audit.Entity.SPU, entity_id=spu_id,
                               summary=f"新增SPU「{data['name']}」", after=data)
        else:
            await cur.execute("SELECT name, detail FROM goods WHERE id=%s FOR UPDATE", (spu_id,))
            before = await cur.fetchone()
            if before is None:
                raise NotFound("SPU不存在")
            await cur.execute("UPDATE goods SET name=%s, detail=%s WHERE id=%s",
                              (data["name"], data["detail"], spu_id))
            old, new = audit.changed(before, data)
            await audit.record(cur, staff, action="update", entity=audit.Entity.SPU, entity_id=spu_id,
                               summary=f"修改SPU「{data['name']}」", before=old, after=new)
    await publish(pool, redis, goods_ids=[spu_id])
    return spu_id
