"""The cart: one Redis hash per owner, sku_id -> count.

`cart_<user_id>` for users (as the original), `cart_guest_<session_id>` for guests (merged into the user's at login).
An owner is a Session (fresh.sessions): a user session owns `cart_<user_id>`, a guest session its own guest cart.

Every change is one Lua script that also checks that the session named by the (signed) cookie still exists, so
the hot path is one Redis round trip and a cookie of a logged-out session cannot change anything.
"""

from __future__ import annotations

import re
import weakref
from enum import IntEnum

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from fresh.catalog import goods
from fresh.catalog.cache import version_key
from fresh.errors import BadRequest, Conflict, NotFound, NotLoggedIn
from fresh.redis_client import Lane, LaneScript
from fresh.sessions import Session, session_key


class AddRes(IntEnum):
    INCOMPLETE = 1
    BAD_COUNT = 2
    NO_SKU = 3
    NO_STOCK = 4
    OK = 5


STALE = 9  # the add script's answer when the cached stock it was given predates a catalog write


class StaleStock(Exception):
    """The stock passed to add_to_cart was read under an older catalog version: read it again."""


class DeleteRes(IntEnum):
    BAD_ID = 1
    NO_SKU = 2
    OK = 3


class SessionEnded(NotLoggedIn):
    """The cookie is validly signed but its session is gone (logout, login elsewhere, expiry)."""

    message = "登录已失效，请重新登录"


def cart_key(user_id: int) -> str:
    return f"cart_{user_id}"


def guest_cart_key(sid: str) -> str:
    return f"cart_guest_{sid}"


def owner_key(session: Session) -> str:
    return guest_cart_key(session.sid) if session.is_guest else cart_key(session.user_id)


# --- input -----------------------------------------------------------------------------------------------

_INT = re.compile(r"-?[0-9]{1,12}")  # ASCII only: int() would also take "٣" or "1_000"


def clean_sku_id(value: str) -> int | None:
    """A positive SKU id, or None when the value is not one."""
    if not _INT.fullmatch(value or ""):
        return None
    sku_id = int(value)
    return sku_id if 0 < sku_id < 2**32 else None


def clean_line(sku_id: str, count: str, *, max_count: int) -> tuple[int, int]:
    """Validate the (sku_id, count) of an add or update with the original's res codes."""
    if not sku_id or not count:
        raise BadRequest("数据不完整", res=AddRes.INCOMPLETE)
    if not _INT.fullmatch(count) or not 1 <= int(count) <= max_count:
        raise BadRequest(f"商品数目出错（1-{max_count}的整数）", res=AddRes.BAD_COUNT)
    sku = clean_sku_id(sku_id)
    if sku is None:
        raise NotFound("商品不存在", res=AddRes.NO_SKU)
    return sku, int(count)


# --- scripts ---------------------------------------------------------------------------------------------

# Every script first compares the session's stored uid with the cookie's claim: a missing session (logout,
# expiry) or a mismatch refuses the change (code 0), all in the same round trip as the change itself.
_SESSION_CHECK = """
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return {0, 0} end
"""

_TOTAL = """
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do total = total + (tonumber(v) or 0) end
"""

_TOUCH = """
if tonumber(ARGV[#ARGV]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[#ARGV]) end
"""

# KEYS: session, cart, catalog version. ARGV: uid, sku_id, count, stock, max_count, version, ttl.
# Read, cap and HINCRBY in one script: concurrent adds can neither lose an increment nor pass the stock.
# `stock` comes from the catalog's per-process SKU cache (goods.cart_sku): when the catalog's version stamp is
# no longer the one the cached stock was read under (a catalog write, a flushed Redis), the script changes
# nothing and answers STALE so the caller re-reads the SKU and tries once more. An empty version skips the check.
ADD_LUA = _SESSION_CHECK + """
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[6] then return {9, 0} end
local current = tonumber(redis.call('HGET', KEYS[2], ARGV[2])) or 0
local wanted = current + tonumber(ARGV[3])
if wanted > tonumber(ARGV[4]) then return {4, current} end
if wanted > tonumber(ARGV[5]) then return {2, current} end
redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
""" + _TOUCH + _TOTAL + "return {5, total}"

# KEYS: session, cart. ARGV: uid, sku_id, count, ttl. Only SKUs already in the cart: a stale page cannot
# resurrect a row deleted in another tab.
UPDATE_LUA = _SESSION_CHECK + """
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return {3, 0} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
""" + _TOUCH + _TOTAL + "return {5, total}"

# KEYS: session, cart. ARGV: uid, sku_id, count, ttl. 立即购买: the line becomes exactly the chosen count, whether
# or not the SKU was in the cart (the caller checked stock and the limit).
SET_LUA = _SESSION_CHECK + """
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
""" + _TOUCH + _TOTAL + "return {5, total}"

# KEYS: session, cart. ARGV: uid, sku_id, ttl.
DELETE_LUA = _SESSION_CHECK + """
local removed = redis.call('HDEL', KEYS[2], ARGV[2])
""" + _TOUCH + _TOTAL + "if removed == 1 then return {3, total} end return {2, total}"

# KEYS: guest cart, user cart. ARGV: sku_id, cap, sku_id, cap, ... Reading and deleting the guest cart in
# the same script makes the merge happen once, even when two logins from one guest session race.
MERGE_LUA = """
local guest = redis.call('HGETALL', KEYS[1])
if #guest == 0 then return 0 end
redis.call('DEL', KEYS[1])
local caps = {}
for i = 1, #ARGV, 2 do caps[ARGV[i]] = tonumber(ARGV[i + 1]) end
local merged = 0
for i = 1, #guest, 2 do
  local cap, n = caps[guest[i]], tonumber(guest[i + 1]) or 0
  if cap and n > 0 then
    local current = tonumber(redis.call('HGET', KEYS[2], guest[i])) or 0
    local wanted = math.min(current + n, cap)
    if wanted > current then
      redis.call('HSET', KEYS[2], guest[i], wanted)
      merged = merged + 1
    end
  end
end
return merged
"""

_SCRIPTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SOURCES = {"add": ADD_LUA, "update": UPDATE_LUA, "set": SET_LUA, "delete": DELETE_LUA, "merge": MERGE_LUA}


def _script(redis: aioredis.Redis | Lane, name: str) -> AsyncScript | LaneScript:
    """The script registered once per client, redis-py's or the lane (EVALSHA afterwards)."""
    scripts = _SCRIPTS.get(redis)
    if scripts is None:
        scripts = _SCRIPTS[redis] = {n: redis.register_script(src) for n, src in _SOURCES.items()}
    return scripts[name]


def _ttl(session: Session, guest_ttl: int) -> int:
    return guest_ttl if session.is_guest else 0


# --- reads -----------------------------------------------------------------------------------------------

async def get_cart(redis: aioredis.Redis, *, user_id: int) -> dict[int, int]:
    """The whole cart of a user as {sku_id: count}."""
    return _parse(await redis.hgetall(cart_key(user_id)))


async def get_owner_cart(redis: aioredis.Redis, session: Session | None) -> dict[int, int]:
    """The cart of a visitor (user or guest) as {sku_id: count}, in the hash's order: the order the SKUs were added
    while Redis keeps the hash compact (at most hash-max-listpack-entries fields, 128 by default), an arbitrary
    one beyond."""
    if session is None:
        return {}
    return _parse(await redis.hgetall(owner_key(session)))


def _parse(raw: dict) -> dict[int, int]:
    return {int(k): int(v) for k, v in raw.items() if k.isdigit() and v.isdigit() and int(v) > 0}


async def count_items(redis: aioredis.Redis, session: Session | None) -> int:
    """The header count: the sum of the counts in the visitor's cart."""
    if session is None:
        return 0
    return parse_count_items(await redis.hvals(owner_key(session)))


def queue_count_items(pipe, session: Session) -> None:
    """Queue the header count's one read on a caller's pipeline (the page header's single round trip)."""
    pipe.hvals(owner_key(session))


def parse_count_items(reply) -> int:
    """The header count from the reply of the command `queue_count_items` queued."""
    return sum(int(v) for v in reply or () if v.isdigit())


async def get_counts(redis: aioredis.Redis | Lane, *, user_id: int, sku_ids) -> dict[int, int]:
    """Counts of the given SKUs in the user's cart; SKUs not in the cart are absent."""
    ids = [int(i) for i in sku_ids]
    if not ids:
        return {}
    values = await redis.hmget(cart_key(user_id), ids)
    return {i: int(v) for i, v in zip(ids, values, strict=True) if v is not None and v.isdigit() and int(v) > 0}


async def load_lines(pool, redis: aioredis.Redis, session: Session | None) -> list[dict]:
    """The cart page's rows: SKU fields plus count, amount, image_url and `available` (on sale, enough stock).

    SKUs deleted from the catalog are dropped from the cart; off-sale ones stay visible (greyed) until deleted."""
    counts = await get_owner_cart(redis, session)
    skus = await goods.get_skus(pool, counts, on_sale_only=False)
    gone = [sku_id for sku_id in counts if sku_id not in skus]
    if gone:
        await redis.hdel(owner_key(session), *gone)
    lines = []
    for sku_id, count in counts.items():
        sku = skus.get(sku_id)
        if sku is None:
            continue
        lines.append({
            **sku, "count": count, "amount": sku["price"] * count, "image_url": goods.image_url(sku["image"]),
            "on_sale": sku["status"] == 1, "available": sku["status"] == 1 and sku["stock"] >= count,
            "sold_out": sku["stock"] <= 0,
        })
    return lines


# --- changes ---------------------------------------------------------------------------------------------

async def add_to_cart(redis: aioredis.Redis | Lane, *, session: Session, sku_id: int, count: int, stock: int,
                      max_count: int, guest_ttl: int, version: str = "") -> int:
    """Add `count` of a SKU, capped at stock and max_count; return the cart's total count.

    `version` is the catalog version `stock` was read under (goods.cart_sku); StaleStock when it changed since."""
    code, value = await _script(redis, "add")(
        keys=[session_key(session.sid), owner_key(session), version_key()],
        args=[session.user_id, sku_id, count, stock, max_count, version, _ttl(session, guest_ttl)],
    )
    if code == 0:
        raise SessionEnded()
    if code == STALE:
        raise StaleStock()
    if code == AddRes.NO_STOCK:
        raise Conflict("商品库存不足", res=AddRes.NO_STOCK, stock=stock, in_cart=value)
    if code == AddRes.BAD_COUNT:
        raise BadRequest(f"商品数目出错（每种商品最多{max_count}件）", res=AddRes.BAD_COUNT, in_cart=value)
    return value


async def update_count(redis: aioredis.Redis, *, session: Session, sku_id: int, count: int,
                       guest_ttl: int) -> int:
    """Set the count of a SKU already in the cart (the caller checked stock); return the total count."""
    code, value = await _script(redis, "update")(
        keys=[session_key(session.sid), owner_key(session)],
        args=[session.user_id, sku_id, count, _ttl(session, guest_ttl)],
    )
    if code == 0:
        raise SessionEnded()
    if code == AddRes.NO_SKU:
        raise NotFound("商品不存在", res=AddRes.NO_SKU)
    return value


async def set_count(redis: aioredis.Redis, *, session: Session, sku_id: int, count: int, guest_ttl: int) -> int:
    """Make the SKU's line exactly `count`, adding it when absent (the caller checked stock); return the total."""
    code, value = await _script(redis, "set")(
        keys=[session_key(session.sid), owner_key(session)],
        args=[session.user_id, sku_id, count, _ttl(session, guest_ttl)],
    )
    if code == 0:
        raise SessionEnded()
    return value


async def delete_sku(redis: aioredis.Redis, *, session: Session, sku_id: int, guest_ttl: int) -> int:
    """Remove a SKU from the cart; return the total count."""
    code, value = await _script(redis, "delete")(
        keys=[session_key(session.sid), owner_key(session)],
        args=[session.user_id, sku_id, _ttl(session, guest_ttl)],
    )
    if code == 0:
        raise SessionEnded()
    if code == DeleteRes.NO_SKU:
        raise NotFound("商品不存在", res=DeleteRes.NO_SKU, total_count=value)
    return value


async def merge_guest_cart(redis: aioredis.Redis, *, sid: str, user_id: int, caps: dict[int, int]) -> int:
    """Move a guest cart into the user's (counts added, each capped at caps[sku]); once, atomically.

    SKUs missing from `caps` (unknown or off sale) are dropped. Returns how many lines changed."""
    args: list = []
    for sku_id, cap in caps.items():
        args += [sku_id, cap]
    return await _script(redis, "merge")(keys=[guest_cart_key(sid), cart_key(user_id)], args=args)


async def merge_at_login(pool, redis: aioredis.Redis, *, old: Session | None, new: Session,
                         max_count: int) -> int:
    """At login, merge the old guest session's cart into the user's (capped at stock and max_count)."""
    if old is None or not old.is_guest or new.is_guest:
        return 0
    guest = await get_owner_cart(redis, old)
    if not guest:
        return 0
    skus = await goods.get_skus(pool, guest)
    caps = {sku_id: min(sku["stock"], max_count) for sku_id, sku in skus.items() if sku["stock"] > 0}
    return await merge_guest_cart(redis, sid=old.sid, user_id=new.user_id, caps=caps)


async def remove_skus(redis: aioredis.Redis | Lane, *, user_id: int, sku_ids) -> None:
    """Drop SKUs from the user's cart (after an order containing them was committed)."""
    ids = [int(i) for i in sku_ids]
    if ids:
        await redis.hdel(cart_key(user_id), *ids)
