"""Users in the back office: list and search, activate or deactivate, grant or revoke staff.

Deactivating or revoking ends the user's sessions at once (a session carries the staff flag it was opened with).
Staff changes lock every staff row first, so two staff demoting each other at once cannot leave the shop without
an active staff user.
"""

from __future__ import annotations

import aiomysql
import redis.asyncio as aioredis

from fresh import db, sessions
from fresh.admin import audit
from fresh.catalog.search import like_pattern
from fresh.errors import Conflict, NotFound
from fresh.paging import Page, page_of


async def list_users(pool: aiomysql.Pool, *, q: str = "", role: str = "", page: int = 1, size: int = 30) -> Page:
    where, args = ["1=1"], []
    if q:
        pattern = like_pattern(q[:50])
        where.append("(username LIKE %s ESCAPE '!' OR email LIKE %s ESCAPE '!')")
        args += [pattern, pattern]
    if role == "staff":
        where.append("is_staff=1")
    elif role == "inactive":
        where.append("is_active=0")
    condition = " AND ".join(where)
    total = (await db.fetchone(pool, f"SELECT COUNT(*) AS n FROM users WHERE {condition}", args))["n"]  # noqa: S608 -- constant
    paging = page_of(total, page, size)
    rows = await db.fetchall(
        pool, "SELECT id, username, email, is_active, is_staff, created_at,"  # noqa: S608 -- constant fragments, values are %s
        " (SELECT COUNT(*) FROM order_info o WHERE o.user_id=users.id) AS orders"
        f" FROM users WHERE {condition} ORDER BY id DESC LIMIT %s OFFSET %s",
        (*args, size, paging.offset))
    return paging.with_items(rows)


async def get_user(pool: aiomysql.Pool, user_id: int) -> dict:
    row = await db.fetchone(pool, "SELECT id, username, email, is_active, is_staff, created_at FROM users"
                            " WHERE id=%s", (user_id,))
    if row is None:
        raise NotFound("用户不存在")
    return row


FLAGS = ("is_active", "is_staff")


async def _set_flag(pool, redis, staff, user_id: int, column: str, value: bool) -> None:
    """Set is_active or is_staff; taking either away from a staff user keeps at least one active staff user."""
    if column not in FLAGS:
        raise ValueError(f"not a user flag: {column!r}")
    if user_id == staff.user_id and not value:
        raise Conflict("不能对自己执行此操作")
    async with db.transaction(pool) as cur:
        # Every active staff row locked in id order: concurrent demotions serialize here.
        await cur.execute("SELECT id FROM users WHERE is_staff=1 AND is_active=1 ORDER BY id FOR UPDATE")
        active_staff = {r["id"] for r in await cur.fetchall()}
        await cur.execute("SELECT id, username, is_active, is_staff FROM users WHERE id=%s FOR UPDATE", (user_id,))
        before = await cur.fetchone()
        if before is None:
            raise NotFound("用户不存在")
        if not value and user_id in active_staff and len(active_staff) <= 1:
            raise Conflict("至少要保留一名可用的管理员")
        if bool(before[column]) == value:
            return
        await cur.execute(f"UPDATE users SET {column}=%s WHERE id=%s", (int(value), user_id))  # noqa: S608 -- FLAGS
        action = {("is_active", True): "activate", ("is_active", False): "deactivate",
                  ("is_staff", True): "grant_staff", ("is_staff", False): "revoke_staff"}[(column, value)]
        names = {"activate": "启用", "deactivate": "停用", "grant_staff": "设为管理员", "revoke_staff": "取消管理员"}
        await audit.record(cur, staff, action=action, entity=audit.Entity.USER, entity_id=user_id,
                           summary=f"{names[action]}用户「{before['username']}」",
                           before={column: before[column]}, after={column: int(value)})
    if not value or column == "is_staff":
        # The sessions carry is_active's and is_staff's past: end them, the user logs in again if still allowed.
        await sessions.destroy_user_sessions(redis, user_id)


async def set_active(pool, redis: aioredis.Redis, staff, user_id: int, active: bool) -> None:
    await _set_flag(pool, redis, staff, user_id, "is_active", active)


async def set_staff(pool, redis: aioredis.Redis, staff, user_id: int, is_staff: bool) -> None:
    await _set_flag(pool, redis, staff, user_id, "is_staff", is_staff)
