"""The bench's own database and Redis db: created fresh, migrated, seeded, then shoppers and stock added."""

from __future__ import annotations

import os
import subprocess

import redis.asyncio as aioredis

from bench.common import PYTHON, ROOT, progress
from fresh import db, eventloop
from fresh.accounts import addresses, users
from fresh.settings import Settings

PASSWORD = "bench-password-1"
BIG_STOCK = 100_000_000
BENCH_SKUS = 60  # extra SKUs so 50 buyers can each buy a SKU of their own


def fresh_command(*args: str) -> None:
    proc = subprocess.run([PYTHON, "-m", "fresh", *args], cwd=ROOT, env=os.environ, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"python -m fresh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


async def recreate(cfg: Settings) -> None:
    """Drop and re-create the bench database, migrate, make keys, seed, and empty the bench Redis db."""
    if not cfg.db.name.endswith("_bench") and os.environ.get("BENCH_KEEP_DB") != "1":
        raise SystemExit(f"refusing to drop {cfg.db.name!r}: the bench database name must end in _bench")
    pool = await db.create_pool(cfg.db, database="")
    try:
        await db.execute(pool, f"DROP DATABASE IF EXISTS `{cfg.db.name}`")
    finally:
        pool.close()
        await pool.wait_closed()
    redis = aioredis.from_url(cfg.redis.url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    fresh_command("migrate")
    fresh_command("keys")
    fresh_command("seed", "--demo")


async def add_shoppers(cfg: Settings, count: int) -> list[dict]:
    """`count` active users with a default address each: [{id, username, addr_id}]."""
    pool = await db.create_pool(cfg.db)
    try:
        shoppers = []
        for i in range(count):
            username = f"bench_user_{i:04d}"
            user = await users.get_user_by_name(pool, username)
            user_id = user["id"] if user else await users.register_user(
                pool, cfg.accounts, username=username, password=PASSWORD, email=f"{username}@bench.local",
                is_active=True)
            addr = await addresses.get_default_address(pool, user_id)
            addr_id = addr["id"] if addr else await addresses.add_address(
                pool, user_id=user_id, make_default=True,
                fields={"receiver": "压测", "addr": "北京市海淀区压测路1号", "zip_code": "100000",
                        "phone": "13800000000"})
            shoppers.append({"id": user_id, "username": username, "addr_id": addr_id})
        return shoppers
    finally:
        pool.close()
        await pool.wait_closed()


async def prepare_catalog(cfg: Settings) -> list[int]:
    """Give every SKU plenty of stock and add BENCH_SKUS on-sale SKUs; return all on-sale SKU ids."""
    pool = await db.create_pool(cfg.db)
    try:
        first = await db.fetchone(pool, "SELECT type_id, goods_id FROM goods_sku ORDER BY id LIMIT 1")
        if first is None:
            raise RuntimeError("the seed made no SKUs")
        have = await db.fetchone(pool, "SELECT COUNT(*) AS n FROM goods_sku WHERE name LIKE 'bench sku %%'")
        for i in range(have["n"], BENCH_SKUS):
            await db.execute(pool, "INSERT INTO goods_sku (type_id, goods_id, name, price, unite, stock, status)"
                                   " VALUES (%s, %s, %s, %s, %s, %s, 1)",
                             (first["type_id"], first["goods_id"], f"bench sku {i}", "9.90", "500g", BIG_STOCK))
        await db.execute(pool, "UPDATE goods_sku SET stock=%s, status=1", (BIG_STOCK,))
        rows = await db.fetchall(pool, "SELECT id FROM goods_sku WHERE status=1 ORDER BY id")
        return [r["id"] for r in rows]
    finally:
        pool.close()
        await pool.wait_closed()


async def prepare(cfg: Settings, *, shoppers: int) -> tuple[list[dict], list[int]]:
    progress(f"recreating database {cfg.db.name} and Redis {cfg.redis.url}")
    await recreate(cfg)
    sku_ids = await prepare_catalog(cfg)
    people = await add_shoppers(cfg, shoppers)
    progress(f"seeded: {len(sku_ids)} SKUs on sale, {len(people)} shoppers")
    return people, sku_ids


def run(coro):
    return eventloop.run(coro)
