"""The address book: each user has any number of addresses and exactly one default once they have one."""

from __future__ import annotations

import re

import aiomysql

from fresh import db
from fresh.errors import BadRequest, NotFound

# ASCII digits only: \d would take full-width and Arabic-Indic digits too, and `$` a trailing newline.
ZIP_RE = re.compile(r"[0-9]{6}")
PHONE_RE = re.compile(r"1[0-9]{10}")
MAX_ADDRESSES = 20


class AddressError(BadRequest):
    def __init__(self, fields: dict[str, str]):
        super().__init__(next(iter(fields.values())))
        self.fields = fields


def clean_address(form: dict[str, str]) -> dict[str, str]:
    """Validate the address form; raise AddressError naming every bad field."""
    errors = {}
    receiver, addr, zip_code, phone = (form.get(k, "") for k in ("receiver", "addr", "zip_code", "phone"))
    if not receiver:
        errors["receiver"] = "请填写收件人"
    elif len(receiver) > 20:
        errors["receiver"] = "收件人最多20个字"
    if not addr:
        errors["addr"] = "请填写详细地址"
    elif len(addr) > 256:
        errors["addr"] = "详细地址最多256个字"
    if not ZIP_RE.fullmatch(zip_code):
        errors["zip_code"] = "邮编应为6位数字"
    if not PHONE_RE.fullmatch(phone):
        errors["phone"] = "手机格式不正确（11位数字）"
    if errors:
        raise AddressError(errors)
    return {"receiver": receiver, "addr": addr, "zip_code": zip_code, "phone": phone}


_COLUMNS = "id, user_id, receiver, addr, zip_code, phone, is_default"


async def list_addresses(pool: aiomysql.Pool, user_id: int) -> list[dict]:
    return await db.fetchall(
        pool,
        f"SELECT {_COLUMNS} FROM addresses WHERE user_id=%s ORDER BY is_default DESC, id",  # noqa: S608 -- _COLUMNS is a constant
        (user_id,),
    )


async def get_default_address(pool: aiomysql.Pool, user_id: int) -> dict | None:
    return await db.fetchone(
        pool,
        f"SELECT {_COLUMNS} FROM addresses WHERE user_id=%s AND is_default=1 LIMIT 1",  # noqa: S608 -- _COLUMNS is a constant
        (user_id,),
    )


async def get_address(pool: aiomysql.Pool, *, user_id: int, addr_id: int) -> dict:
    """The user's own address; another user's id is as unknown as a missing one."""
    row = await db.fetchone(
        pool,
        f"SELECT {_COLUMNS} FROM addresses WHERE id=%s AND user_id=%s",  # noqa: S608 -- _COLUMNS is a constant
        (addr_id, user_id),
    )
    if row is None:
        raise NotFound("地址不存在")
    return row


async def add_address(pool: aiomysql.Pool, *, user_id: int, fields: dict[str, str], make_default: bool) -> int:
    """Add an address; the first one, or one asked to be, becomes the only default."""
    async with db.transaction(pool) as cur:
        # Lock the user row: two concurrent adds must not both see "no default" and both become default.
        await cur.execute("SELECT id FROM users WHERE id=%s FOR UPDATE", (user_id,))
        if await cur.fetchone() is None:
            raise NotFound("用户不存在")
        await cur.execute(
            "SELECT COUNT(*) AS n, COALESCE(SUM(is_default), 0) AS defaults FROM addresses WHERE user_id=%s",
            (user_id,),
        )
        row = await cur.fetchone()
        if row["n"] >= MAX_ADDRESSES:
            raise BadRequest(f"最多保存{MAX_ADDRESSES}个地址")
        is_default = make_default or not row["defaults"]
        if is_default:
            await cur.execute("UPDATE addresses SET is_default=0 WHERE user_id=%s AND is_default=1", (user_id,))
        await cur.execute(
            "INSERT INTO addresses (user_id, receiver, addr, zip_code, phone, is_default)"
            " VALUES (%s,%s,%s,%s,%s,%s)",
            (user_id, fields["receiver"], fields["addr"], fields["zip_code"], fields["phone"], int(is_default)),
        )
        return cur.lastrowid


async def set_default_address(pool: aiomysql.Pool, *, user_id: int, addr_id: int) -> None:
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT id FROM users WHERE id=%s FOR UPDATE", (user_id,))
        await cur.execute("SELECT id FROM addresses WHERE id=%s AND user_id=%s", (addr_id, user_id))
        if await cur.fetchone() is None:
            raise NotFound("地址不存在")
        await cur.execute("UPDATE addresses SET is_default=(id=%s) WHERE user_id=%s", (addr_id, user_id))


async def update_address(pool: aiomysql.Pool, *, user_id: int, addr_id: int, fields: dict[str, str],
                         make_default: bool) -> None:
    """Change one of the user's addresses (and make it the default when asked); another user's is NotFound."""
    async with db.transaction(pool) as cur:
        # The same lock as add_address: a concurrent add must not also take the default.
        await cur.execute("SELECT id FROM users WHERE id=%s FOR UPDATE", (user_id,))
        await cur.execute("SELECT id FROM addresses WHERE id=%s AND user_id=%s", (addr_id, user_id))
        if await cur.fetchone() is None:
            raise NotFound("地址不存在")
        await cur.execute(
            "UPDATE addresses SET receiver=%s, addr=%s, zip_code=%s, phone=%s WHERE id=%s AND user_id=%s",
            (fields["receiver"], fields["addr"], fields["zip_code"], fields["phone"], addr_id, user_id),
        )
        if make_default:
            await cur.execute("UPDATE addresses SET is_default=(id=%s) WHERE user_id=%s", (addr_id, user_id))


async def delete_address(pool: aiomysql.Pool, *, user_id: int, addr_id: int) -> None:
    """Delete one of the user's addresses; when it was the default, the oldest remaining one becomes it.

    Orders keep their own copy of the address (order_info's receiver/addr/zip_code/phone), so past orders are
    unaffected."""
    async with db.transaction(pool) as cur:
        await cur.execute("SELECT id FROM users WHERE id=%s FOR UPDATE", (user_id,))
        await cur.execute("SELECT is_default FROM addresses WHERE id=%s AND user_id=%s", (addr_id, user_id))
        row = await cur.fetchone()
        if row is None:
            raise NotFound("地址不存在")
        await cur.execute("DELETE FROM addresses WHERE id=%s AND user_id=%s", (addr_id, user_id))
        if row["is_default"]:
            await cur.execute("UPDATE addresses SET is_default=1 WHERE user_id=%s ORDER BY id LIMIT 1", (user_id,))
