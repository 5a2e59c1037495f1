"""Placing an order: input cleaning, the one explicit transaction, and the three stock strategies (DESIGN.md §6)."""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import re
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal

import aiomysql
import pymysql
import redis.asyncio as aioredis

from fresh import db, logs, metrics
from fresh.accounts import addresses
from fresh.cart import cart
from fresh.catalog import goods
from fresh.errors import BadRequest, Conflict, NotFound, NotLoggedIn, Unavailable
from fresh.orders import status
from fresh.redis_client import Lane
from fresh.settings import OrdersSettings

log = logging.getLogger("fresh.orders")

MAX_SKUS = 50
MAX_ID = 4294967295  # INT UNSIGNED
ID_RE = re.compile(r"^[1-9][0-9]{0,9}$")
IDEM_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
STRATEGIES = ("atomic", "pessimistic", "optimistic")
OPTIMISTIC_TRIES = 3
# Each optimistic conflict means another order took (or returned) stock, so conflicts end when the stock does; this
# bounds how long one order keeps starting over before it answers res 7.
CONTENTION_BUDGET = 5.0
ER_DUP_ENTRY = 1062
ER_NO_REFERENCED_ROW = 1452
# SIGNALled by the compound statements of the stock strategies (their message is the SKU id).
ER_TAKE_REFUSED = 30001  # atomic: the conditional UPDATE found the SKU off sale or short of stock
ER_LOST_RACE = 30002  # optimistic: another order changed the row since it was read


class CommitRes(enum.IntEnum):
    """The original's /order/commit codes."""

    NOT_LOGGED_IN = 0
    INCOMPLETE = 1
    BAD_PAY_METHOD = 2
    BAD_ADDRESS = 3
    NO_SUCH_SKU = 4
    CREATED = 5
    NO_STOCK = 6
    FAILED = 7


class _OutOfStock(Exception):
    def __init__(self, sku: dict):
        self.sku = sku


class _Gone(Exception):
    def __init__(self, sku_id: int):
        self.sku_id = sku_id


class _Contention(Exception):
    """The optimistic strategy lost its race OPTIMISTIC_TRIES times in a row."""


class _Duplicate(Exception):
    """Another commit with the same idem_key got there first."""




def _incomplete(message: str = "参数不完整") -> BadRequest:
    return BadRequest(message, res=CommitRes.INCOMPLETE)


def no_such_sku(sku_id=None) -> NotFound:
    extra = {"sku_id": sku_id} if isinstance(sku_id, int) else {}
    return NotFound("商品不存在", res=CommitRes.NO_SUCH_SKU, **extra)


def parse_sku_ids(values: list[str]) -> list[int]:
    """sku_ids as the original sends them ("1,5,9") or repeated fields; sorted, distinct. Raises res 1 / res 4."""
    parts = [p.strip() for v in values for p in v.split(",") if p.strip()]
    if not parts:
        raise _incomplete()
    ids = set()
    for part in parts:
        if not ID_RE.match(part) or int(part) > MAX_ID:
            raise no_such_sku()
        ids.add(int(part))
    if len(ids) > MAX_SKUS:
        raise _incomplete(f"一次最多购买{MAX_SKUS}种商品")
    return sorted(ids)


def clean_commit(*, addr_id: str, pay_method: str, sku_ids: list[str], idem_key: str) -> dict:
    """Validate the commit form in the original's order: completeness, pay method, address, goods."""
    if not addr_id or not pay_method or not any(v.strip(" ,") for v in sku_ids):
        raise _incomplete()
    if pay_method not in ("1", "2", "3", "4"):
        raise BadRequest("非法的支付方式", res=CommitRes.BAD_PAY_METHOD)
    if int(pay_method) not in status.OFFERED_PAY_METHODS:
        raise BadRequest("暂不支持该支付方式，请选择支付宝或货到付款", res=CommitRes.BAD_PAY_METHOD)
    if not ID_RE.match(addr_id) or int(addr_id) > MAX_ID:
        raise BadRequest("地址非法", res=CommitRes.BAD_ADDRESS)
    if idem_key and not IDEM_RE.match(idem_key):
        raise _incomplete("下单令牌无效，请刷新页面")
    return {"addr_id": int(addr_id), "pay_method": int(pay_method), "sku_ids": parse_sku_ids(sku_ids),
            "idem_key": idem_key or None}


def new_order_id(user_id: int) -> str:
    """UTC time prefix + user id + 64 random bits: sortable by time, not guessable."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + str(int(user_id)) + secrets.token_hex(8)


def new_idem_key() -> str:
    return secrets.token_urlsafe(24)


# --- stock strategies -------------------------------------------------------------------------------------------
# Each takes the stock of every SKU of the order inside the caller's batched transaction and commits it. It is handed
# the transaction's opening statements (order row, event, savepoint), to send with its first batch, and its closing
# ones (the lines, the totals), to send with the COMMIT once the stock is taken. SKUs are always handled in ascending
# id order: two orders for (A,B) and (B,A) lock A first, so they queue instead of deadlocking. By the time the lines
# are written this transaction holds every SKU row locked, so the lines read the prices from the rows themselves.
#
# Where the decision can be made by the server (atomic, and optimistic's version check), the conditional UPDATEs run
# inside one compound statement that SIGNALs when one of them matches no row: the batch stops there, before its
# COMMIT, and the rows are never held locked across a round trip to the shop. Round trips: atomic 1, pessimistic 2
# (it reads and checks in the shop while holding the rows), optimistic 2, +2 per lost race.

Statement = tuple[str, tuple | list | None]


def _sku_read(sku_ids: list[int], *, lock: bool = False) -> Statement:
    marks = ",".join(["%s"] * len(sku_ids))
    sql = f"SELECT id, name, price, stock, status FROM goods_sku WHERE id IN ({marks}) ORDER BY id"  # noqa: S608 -- only %s marks formatted in
    return sql + (" FOR UPDATE" if lock else ""), sku_ids


def _check(rows: dict[int, dict], counts: dict[int, int]) -> None:
    """Raise for the first SKU (by id) that is gone, off sale or short of stock."""
    for sku_id in sorted(counts):
        row = rows.get(sku_id)
        if row is None or row["status"] != 1:
            raise _Gone(sku_id)
        if row["stock"] < counts[sku_id]:
            raise _OutOfStock(row)


def _by_id(rows: list[dict]) -> dict[int, dict]:
    return {row["id"]: row for row in rows}


async def take_atomic(tx: db.BatchedTransaction, opening: list[Statement], closing: list[Statement],
                      counts: dict[int, int]) -> list[db.Outcome]:
    # One conditional UPDATE per SKU checks and takes: the row lock it takes makes "stock>=count" true at the
    # moment of the write. The whole order is one batch.
    ids = sorted(counts)
    take = db.all_or_signal([("UPDATE goods_sku SET stock=stock-%s, sales=sales+%s WHERE id=%s AND status=1"
                               " AND stock>=%s", (counts[i], counts[i], i, counts[i]), str(i)) for i in ids],
                            ER_TAKE_REFUSED)
    try:
        return await tx.run([*opening, take, *closing], commit=True)
    except pymysql.err.OperationalError as exc:
        refused = db.signalled(exc, ER_TAKE_REFUSED)
        if refused is None:
            raise
        sku_id = int(refused)
        # Only the refused SKU is read and judged: the ones before it were taken by this transaction, which would
        # see its own decrements.
        rows = _by_id((await tx.run([_sku_read([sku_id])]))[0].rows)
        _check(rows, {sku_id: counts[sku_id]})
        raise _OutOfStock(rows[sku_id]) from None  # the stock came back between the refusal and the read


async def take_pessimistic(tx: db.BatchedTransaction, opening: list[Statement], closing: list[Statement],
                           counts: dict[int, int]) -> list[db.Outcome]:
    # FOR UPDATE holds the rows until commit, so no other order can take the stock between the check here and the
    # write, which goes with the COMMIT.
    ids = sorted(counts)
    rows = _by_id((await tx.run([*opening, _sku_read(ids, lock=True)]))[-1].rows)
    _check(rows, counts)
    updates = [("UPDATE goods_sku SET stock=stock-%s, sales=sales+%s WHERE id=%s", (counts[i], counts[i], i))
               for i in ids]
    return await tx.run([*updates, *closing], commit=True)


async def take_optimistic(tx: db.BatchedTransaction, opening: list[Statement], closing: list[Statement],
                          counts: dict[int, int]) -> list[db.Outcome]:
    # The stock (and price) read is the version: each UPDATE matches only if no other order changed its row since.
    # A lost race SIGNALs, so the batch stops before its COMMIT; what that try took is undone (the order row stays)
    # and the rows are read again.
    ids = sorted(counts)
    rows = _by_id((await tx.run([*opening, _sku_read(ids)]))[-1].rows)
    for _ in range(OPTIMISTIC_TRIES):
        _check(rows, counts)
        take = db.all_or_signal([("UPDATE goods_sku SET stock=%s, sales=sales+%s WHERE id=%s AND stock=%s"
                                  " AND price=%s AND status=1",
                                  (rows[i]["stock"] - counts[i], counts[i], i, rows[i]["stock"], rows[i]["price"]),
                                  str(i)) for i in ids], ER_LOST_RACE)
        try:
            return await tx.run([take, *closing], commit=True)
        except pymysql.err.OperationalError as exc:
            if db.signalled(exc, ER_LOST_RACE) is None:
                raise
        metrics.ORDER_RETRIES.labels("optimistic", "lost_race").inc()
        rows = _by_id((await tx.run([("ROLLBACK TO SAVEPOINT sp_goods", None), _sku_read(ids)]))[-1].rows)
    raise _Contention()


TAKE = {"atomic": take_atomic, "pessimistic": take_pessimistic, "optimistic": take_optimistic}


# --- the transaction ----------------------------------------------------------------------------------------------

def _order_insert(*, order_id, user_id, address, pay_method, transit_price, idem_key, expire_minutes) -> Statement:
    return (
        "INSERT INTO order_info (order_id, user_id, receiver, addr, zip_code, phone, pay_method, order_status,"
        " transit_price, idem_key, created_at, expires_at)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,UTC_TIMESTAMP(6),UTC_TIMESTAMP(6) + INTERVAL %s MINUTE)",
        (order_id, user_id, address["receiver"], address["addr"], address["zip_code"], address["phone"],
         pay_method, int(status.initial_status(pay_method)), transit_price, idem_key, int(expire_minutes)),
    )


def _lines_insert(order_id: str, counts: dict[int, int]) -> Statement:
    """The order's lines at the prices in the SKU rows, which the transaction holds locked by now."""
    ids = sorted(counts)
    cases = " ".join(["WHEN %s THEN %s"] * len(ids))
    marks = ",".join(["%s"] * len(ids))
    return (f"INSERT INTO order_goods (order_id, sku_id, count, price)"  # noqa: S608 -- only %s marks formatted in
            f" SELECT %s, id, CASE id {cases} END, price FROM goods_sku WHERE id IN ({marks})",
            [order_id, *(v for i in ids for v in (i, counts[i])), *ids])


async def _commit_once(pool, cfg: OrdersSettings, *, user_id, address, pay_method, counts, idem_key) -> str:
    """One batched transaction: [BEGIN, order, event, SAVEPOINT], the stock taken, [lines, totals, COMMIT], in as
    few batches as the strategy allows.

    A SKU short of stock or gone raises before the COMMIT, and the whole transaction (order row included) is rolled
    back; the optimistic strategy rolls back to the savepoint between its tries."""
    take = TAKE[cfg.stock_strategy]
    order_id = new_order_id(user_id)
    opening = [
        _order_insert(order_id=order_id, user_id=user_id, address=address, pay_method=pay_method,
                      transit_price=cfg.transit_price, idem_key=idem_key, expire_minutes=cfg.expire_minutes),
        status.created_event(order_id, pay_method),
        ("SAVEPOINT sp_goods", None),
    ]
    closing = [
        _lines_insert(order_id, counts),
        ("UPDATE order_info SET total_count=%s,"
         " total_price=(SELECT SUM(count * price) FROM order_goods WHERE order_id=%s) WHERE order_id=%s",
         (sum(counts.values()), order_id, order_id)),
        # For the order_placed log line; read inside the transaction, so it costs no round trip of its own.
        ("SELECT total_price + transit_price AS amount FROM order_info WHERE order_id=%s", (order_id,)),
    ]
    async with db.batched_transaction(pool) as tx:
        try:
            outcomes = await take(tx, opening, closing, counts)
        except pymysql.err.IntegrityError as exc:
            # Racing commits with one idem_key: the second INSERT waits on the first's unique-key lock, then fails
            # here once the first commits (or succeeds if the first rolled back).
            if exc.args and exc.args[0] == ER_DUP_ENTRY:
                raise _Duplicate() from exc
            if exc.args and exc.args[0] == ER_NO_REFERENCED_ROW:
                raise NotLoggedIn() from exc
            raise
    logs.event(log, "order_placed", order_id=order_id, user_id=user_id, amount=outcomes[-1].rows[0]["amount"],
               strategy=cfg.stock_strategy)
    return order_id


async def find_by_idem_key(pool: aiomysql.Pool, *, user_id: int, idem_key: str | None) -> str | None:
    if not idem_key:
        return None
    row = await db.fetchone(
        pool, "SELECT order_id FROM order_info WHERE user_id=%s AND idem_key=%s", (user_id, idem_key)
    )
    return row["order_id"] if row else None


async def place_order(pool: aiomysql.Pool, redis: aioredis.Redis | Lane, cfg: OrdersSettings, *, user_id: int,
                      addr_id: int, pay_method: int, sku_ids: list[int], idem_key: str | None) -> str:
    """Create an order for the given cart SKUs; return its order_id (the first one's for a repeated idem_key)."""
    if cfg.stock_strategy not in TAKE:
        raise ValueError(f"unknown stock strategy {cfg.stock_strategy!r}")
    if pay_method not in status.OFFERED_PAY_METHODS:
        raise BadRequest("暂不支持该支付方式，请选择支付宝或货到付款", res=CommitRes.BAD_PAY_METHOD)
    # Checks that would cost a round trip of their own are left to the transaction: a repeated idem_key fails its
    # INSERT (then the first order is looked up) and a SKU gone off sale is found when its stock is taken. The
    # address (MariaDB) and the cart (Redis) are read at the same time.
    try:
        address, counts = await asyncio.gather(
            addresses.get_address(pool, user_id=user_id, addr_id=addr_id),
            cart.get_counts(redis, user_id=user_id, sku_ids=sku_ids),
        )
    except NotFound:
        raise BadRequest("地址非法", res=CommitRes.BAD_ADDRESS) from None
    missing = [i for i in sku_ids if i not in counts]
    if missing:
        # A concurrent commit with the same key may have just emptied the cart: that is a repeat, not an error.
        existing = await find_by_idem_key(pool, user_id=user_id, idem_key=idem_key)
        if existing:
            return existing
        raise NotFound("购物车中没有该商品", res=CommitRes.NO_SUCH_SKU, sku_id=missing[0])

    order_id = await _commit_with_retries(pool, cfg, user_id=user_id, address=address, pay_method=pay_method,
                                          counts=counts, idem_key=idem_key)
    try:
        await asyncio.wait_for(cart.remove_skus(redis, user_id=user_id, sku_ids=sku_ids), 2.0)
    except Exception:
        # The order stands; a cart still holding the goods is a nuisance, not an inconsistency.
        log.warning("order %s committed but its SKUs stayed in the cart of user %s", order_id, user_id, exc_info=True)
    return order_id


async def _commit_with_retries(pool, cfg: OrdersSettings, **kw) -> str:
    deadline = time.monotonic() + CONTENTION_BUDGET
    retried_deadlock = False
    duplicates = 0
    while True:
        try:
            return await _commit_once(pool, cfg, **kw)
        except _Duplicate:
            existing = await find_by_idem_key(pool, user_id=kw["user_id"], idem_key=kw["idem_key"])
            if existing:
                return existing
            duplicates += 1
            if duplicates > 2:
                raise Conflict("下单失败，请重试", res=CommitRes.FAILED) from None
        except _OutOfStock as exc:
            raise Conflict(f"商品库存不足：{exc.sku['name']}", res=CommitRes.NO_STOCK, sku_id=exc.sku["id"],
                           sku_name=exc.sku["name"]) from None
        except _Gone as exc:
            raise no_such_sku(exc.sku_id) from None
        except _Contention:
            metrics.ORDER_RETRIES.labels(cfg.stock_strategy, "contention").inc()
            if time.monotonic() > deadline:
                raise Conflict("下单人数过多，请重试", res=CommitRes.FAILED) from None
            # Start over later with every lock released, so the orders ahead can finish.
            await asyncio.sleep(random.uniform(0.002, 0.02))
        except db.DatabaseUnavailable:
            raise Unavailable("下单失败，服务繁忙，请稍后重试", res=CommitRes.FAILED) from None
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError, ConnectionError,
                asyncio.IncompleteReadError, TimeoutError) as exc:
            if db.is_retryable(exc):
                metrics.ORDER_DEADLOCKS.labels(cfg.stock_strategy).inc()
                if not retried_deadlock:
                    retried_deadlock = True
                    metrics.ORDER_RETRIES.labels(cfg.stock_strategy, "deadlock").inc()
                    log.info("order for user %s: %s, retrying once", kw["user_id"], exc)
                    continue
                raise Conflict("下单失败，请重试", res=CommitRes.FAILED) from None
            # Lost connection, killed query, statement timeout: the server rolled the transaction back.
            log.warning("order for user %s failed: %r", kw["user_id"], exc)
            raise Unavailable("下单失败，请稍后重试", res=CommitRes.FAILED) from None


async def preview_order(pool: aiomysql.Pool, redis: aioredis.Redis, cfg: OrdersSettings, *, user_id: int,
                        sku_ids: list[int]) -> dict:
    """The confirmation page's data: items at DB prices with cart counts (in the cart page's order), totals,
    addresses, a fresh idem_key."""
    in_cart = await cart.get_cart(redis, user_id=user_id)
    counts = {i: in_cart[i] for i in sku_ids if i in in_cart}
    # The cart page lists its hash in HGETALL order; so does this page, whatever order sku_ids came in.
    position = {sku_id: n for n, sku_id in enumerate(in_cart)}
    sku_ids = sorted(sku_ids, key=lambda i: position.get(i, len(position)))
    skus = await goods.get_skus(pool, sku_ids)
    for sku_id in sku_ids:
        if sku_id not in skus:
            raise no_such_sku(sku_id)
        if sku_id not in counts:
            raise NotFound(f"购物车中没有{skus[sku_id]['name']}", res=CommitRes.NO_SUCH_SKU, sku_id=sku_id)
    items = [
        {**skus[i], "count": counts[i], "amount": skus[i]["price"] * counts[i],
         "image_url": goods.image_url(skus[i]["image"])}
        for i in sku_ids
    ]
    total_price = sum((item["amount"] for item in items), Decimal("0.00"))
    return {
        "items": items,
        "sku_ids": ",".join(str(i) for i in sku_ids),
        "total_count": sum(item["count"] for item in items),
        "total_price": total_price,
        "transit_price": cfg.transit_price,
        "total_pay": total_price + cfg.transit_price,
        "addresses": await addresses.list_addresses(pool, user_id),
        # Alipay first and chosen by default; methods the shop cannot take are shown disabled.
        "pay_methods": [{"value": value, "name": status.PAY_METHODS[value],
                         "offered": value in status.OFFERED_PAY_METHODS} for value in (3, 1, 2, 4)],
        "idem_key": new_idem_key(),
    }
