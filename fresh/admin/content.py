"""Categories and the index page's content (轮播, 促销, 分类展示): create, edit, reorder, remove.

One small description per kind (its table, its order column, its fields) drives the same four writes. Table and
column names come only from these constants; every value travels as a %s parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiomysql
import pymysql
import redis.asyncio as aioredis

from fresh import db
from fresh.admin import audit
from fresh.admin.forms import Form
from fresh.admin.goods import clean_int, publish
from fresh.catalog.cache import invalidate_catalog
from fresh.catalog.goods import image_url
from fresh.errors import BadRequest, Conflict, NotFound


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    table: str
    order: str  # the column that orders rows on the index page
    entity: audit.Entity
    fields: tuple[str, ...]
    picture_required: bool
    has_picture: bool = True


KINDS = {
    "categories": Kind("categories", "分类", "goods_types", "position", audit.Entity.CATEGORY,
                       ("name", "logo"), picture_required=False),
    "banners": Kind("banners", "首页轮播", "index_banners", "`index`", audit.Entity.BANNER,
                    ("sku_id",), picture_required=True),
    "promotions": Kind("promotions", "首页促销", "index_promotions", "`index`", audit.Entity.PROMOTION,
                       ("name", "url"), picture_required=True),
    "type_goods": Kind("type_goods", "首页分类展示", "index_type_goods", "`index`", audit.Entity.TYPE_GOODS,
                       ("type_id", "sku_id", "display_type"), picture_required=False, has_picture=False),
}
LOGO_RE = re.compile(r"[a-z0-9_-]{0,20}")


async def clean_form(pool: aiomysql.Pool, kind: Kind, values: dict[str, str]) -> Form:
    form = Form(values)
    clean: dict = {}
    if "name" in kind.fields:
        name = values.get("name", "").strip()
        if not name or len(name) > 20:
            form.error("name", "请填写名称（最多20字）")
        clean["name"] = name
    if "logo" in kind.fields:
        logo = values.get("logo", "").strip()
        if not LOGO_RE.fullmatch(logo):
            form.error("logo", "图标标识只能是小写字母、数字、-和_（最多20个）")
        clean["logo"] = logo
    if "url" in kind.fields:
        url = values.get("url", "").strip()
        if not url or len(url) > 256 or not (url.startswith("/") and not url.startswith("//")
                                             or re.match(r"https?://[^\s<>\"']+$", url)):
            form.error("url", "链接须为站内路径（/开头）或 http(s):// 地址")
        clean["url"] = url
    if "sku_id" in kind.fields:
        sku_id = clean_int(values.get("sku_id", ""), low=1, high=10**9)
        if sku_id is None or await db.fetchone(pool, "SELECT id FROM goods_sku WHERE id=%s", (sku_id,)) is None:
            form.error("sku_id", "商品SKU编号不存在")
        clean["sku_id"] = sku_id
    if "type_id" in kind.fields:
        type_id = clean_int(values.get("type_id", ""), low=1, high=10**9)
        if type_id is None or await db.fetchone(pool, "SELECT id FROM goods_types WHERE id=%s",
                                                (type_id,)) is None:
            form.error("type_id", "请选择分类")
        clean["type_id"] = type_id
    if "display_type" in kind.fields:
        display = values.get("display_type", "")
        if display not in ("0", "1"):
            form.error("display_type", "请选择展示方式")
        clean["display_type"] = 1 if display == "1" else 0
    form.clean = clean
    return form


def _select(kind: Kind) -> str:
    if kind.key == "categories":
        return "SELECT t.id, t.name, t.logo, t.image, t.position AS pos FROM goods_types t"
    if kind.key == "banners":
        return ("SELECT b.id, b.sku_id, b.image, b.`index` AS pos, s.name AS sku_name FROM index_banners b"
                " LEFT JOIN goods_sku s ON s.id=b.sku_id")
    if kind.key == "promotions":
        return "SELECT p.id, p.name, p.url, p.image, p.`index` AS pos FROM index_promotions p"
    return ("SELECT g.id, g.type_id, g.sku_id, g.display_type, g.`index` AS pos, s.name AS sku_name,"
            " t.name AS type_name FROM index_type_goods g LEFT JOIN goods_sku s ON s.id=g.sku_id"
            " LEFT JOIN goods_types t ON t.id=g.type_id")


def _alias(kind: Kind) -> str:
    return {"categories": "t", "banners": "b", "promotions": "p", "type_goods": "g"}[kind.key]


async def list_rows(pool: aiomysql.Pool, kind: Kind) -> list[dict]:
    a = _alias(kind)
    order = f"{a}.type_id, {a}.display_type, " if kind.key == "type_goods" else ""
    rows = await db.fetchall(pool, f"{_select(kind)} ORDER BY {order}pos, {a}.id")  # noqa: S608 -- constants
    for row in rows:
        row["image_url"] = image_url(row.get("image", ""))
    return rows


async def get_row(pool: aiomysql.Pool, kind: Kind, row_id: int) -> dict:
    row = await db.fetchone(pool, f"{_select(kind)} WHERE {_alias(kind)}.id=%s", (row_id,))  # noqa: S608 -- constants
    if row is None:
        raise NotFound(f"{kind.title}不存在")
    row["image_url"] = image_url(row.get("image", ""))
    return row


def _row_facts(kind: Kind, row: dict) -> dict:
    return {k: row.get(k) for k in (*kind.fields, "image") if k in row}


async def save(pool: aiomysql.Pool, redis: aioredis.Redis, staff, kind: Kind, row_id: int | None, data: dict, *,
               picture: str | None) -> int:
    """Create (row_id None, placed last) or update a row; a new picture replaces the old one."""
    values = dict(data)
    if picture:
        values["image"] = picture
    elif row_id is None and kind.has_picture:
        values["image"] = ""
    columns = list(values)
    quoted = [f"`{c}`" for c in columns]
    async with db.transaction(pool) as cur:
        if row_id is None:
            await cur.execute(f"SELECT COALESCE(MAX({kind.order}), 0) + 1 AS pos FROM {kind.table}")  # noqa: S608 -- names from KINDS
            position = (await cur.fetchone())["pos"]
            marks = ",".join(["%s"] * (len(columns) + 1))
            await cur.execute(f"INSERT INTO {kind.table} ({', '.join(quoted)}, {kind.order})"  # noqa: S608 -- names from KINDS
                              f" VALUES ({marks})", (*values.values(), position))
            row_id = cur.lastrowid
            await audit.record(cur, staff, action="create", entity=kind.entity, entity_id=row_id,
                               summary=f"新增{kind.title}", after=values)
        else:
            await cur.execute(f"SELECT * FROM {kind.table} WHERE id=%s FOR UPDATE", (row_id,))  # noqa: S608 -- names from KINDS
            before = await cur.fetchone()
            if before is None:
                raise NotFound(f"{kind.title}不存在")
            sets = ", ".join(f"{q}=%s" for q in quoted)
            await cur.execute(f"UPDATE {kind.table} SET {sets} WHERE id=%s",  # noqa: S608 -- names from KINDS
                              (*values.values(), row_id))
            old, new = audit.changed(_row_facts(kind, before), {**_row_facts(kind, before), **values})
            await audit.record(cur, staff, action="update", entity=kind.entity, entity_id=row_id,
                               summary=f"修改{kind.title}", before=old, after=new)
    # A renamed category changes what its SKUs are found by.
    await publish(pool, redis, type_ids=[row_id] if kind.key == "categories" else ())
    return row_id


async def move(pool, redis, staff, kind: Kind, row_id: int, direction: str) -> None:
    """Swap a row with its neighbour (up/down) and renumber the kind's order column 1..n."""
    if direction not in ("up", "down"):
        raise BadRequest("未知的操作")
    async with db.transaction(pool) as cur:
        group = ""
        args: tuple = ()
        if kind.key == "type_goods":
            await cur.execute("SELECT type_id, display_type FROM index_type_goods WHERE id=%s", (row_id,))
            found = await cur.fetchone()
            if found is None:
                raise NotFound(f"{kind.title}不存在")
            group, args = " WHERE type_id=%s AND display_type=%s", (found["type_id"], found["display_type"])
        await cur.execute(f"SELECT id FROM {kind.table}{group} ORDER BY {kind.order}, id FOR UPDATE",  # noqa: S608 -- names from KINDS
                          args)
        ids = [r["id"] for r in await cur.fetchall()]
        if row_id not in ids:
            raise NotFound(f"{kind.title}不存在")
        at = ids.index(row_id)
        other = at - 1 if direction == "up" else at + 1
        if 0 <= other < len(ids):
            ids[at], ids[other] = ids[other], ids[at]
        for position, rid in enumerate(ids, 1):
            await cur.execute(f"UPDATE {kind.table} SET {kind.order}=%s WHERE id=%s",  # noqa: S608 -- names from KINDS
                              (position, rid))
        await audit.record(cur, staff, action=f"move_{direction}", entity=kind.entity, entity_id=row_id,
                           summary=f"调整{kind.title}顺序", after={"order": ids})
    await invalidate_catalog(redis)


async def remove(pool, redis, staff, kind: Kind, row_id: int) -> None:
    try:
        async with db.transaction(pool) as cur:
            await cur.execute(f"SELECT * FROM {kind.table} WHERE id=%s FOR UPDATE", (row_id,))  # noqa: S608 -- names from KINDS
            before = await cur.fetchone()
            if before is None:
                raise NotFound(f"{kind.title}不存在")
            await cur.execute(f"DELETE FROM {kind.table} WHERE id=%s", (row_id,))  # noqa: S608 -- names from KINDS
            await audit.record(cur, staff, action="delete", entity=kind.entity, entity_id=row_id,
                               summary=f"删除{kind.title}", before=_row_facts(kind, before))
    except pymysql.err.IntegrityError as exc:
        # A category still referred to by SKUs: they must be moved first (orders refer to SKUs).
        raise Conflict(f"{kind.title}仍被商品使用，不能删除") from exc
    await invalidate_catalog(redis)
