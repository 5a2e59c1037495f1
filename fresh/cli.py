"""python -m fresh {migrate,seed,reindex,createadmin,keys,expire-orders}"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys

from fresh import db, logs, migrate, packages
from fresh.hooks import Command, Runtime
from fresh.settings import Settings, load_settings

log = logging.getLogger("fresh.cli")


async def cmd_migrate(cfg: Settings, args) -> None:
    await migrate.create_database(cfg.db)
    pool = await db.create_pool(cfg.db)
    try:
        applied = await migrate.migrate(pool)
    except migrate.MigrationError as exc:
        sys.exit(str(exc))
    finally:
        pool.close()
        await pool.wait_closed()
    print(f"database {cfg.db.name}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


async def cmd_seed(cfg: Settings, args) -> None:
    """Run each package's SEED (demo catalog, demo shopper); every seeder is idempotent."""
    if (args.demo or args.scale) and cfg.production:
        sys.exit("seed --demo/--scale refuses to run in production mode")
    from fresh.redis_client import create_redis

    pool = await db.create_pool(cfg.db)
    redis = create_redis(cfg.redis)
    try:
        for seeder in packages.collect().seeders:
            await seeder(pool, redis, cfg, demo=args.demo)
        if args.scale:
            from fresh.catalog.scale import seed_scale

            mode, indexed = await seed_scale(pool, redis, skus=args.scale)
            print(f"catalog scaled to {args.scale} SKU ids; search index ({mode.value}): {indexed} on-sale SKUs")
    finally:
        pool.close()
        await pool.wait_closed()
        await redis.aclose()


async def cmd_reindex(cfg: Settings, args) -> None:
    """Rebuild the search table from the catalog (on Mroonga when the server has it)."""
    from fresh.catalog.search import rebuild_search_index

    pool = await db.create_pool(cfg.db)
    try:
        mode, indexed = await rebuild_search_index(pool)
    finally:
        pool.close()
        await pool.wait_closed()
    print(f"search index ({mode.value}): {indexed} on-sale SKUs")


async def cmd_createadmin(cfg: Settings, args) -> None:
    from fresh.accounts import users

    password = os.environ.get("FRESH_ADMIN_PASSWORD") or getpass.getpass("password (8-20): ")
    if not 8 <= len(password) <= 20:
        sys.exit("the password must have 8 to 20 characters")
    if not users.USERNAME_RE.match(args.username):
        sys.exit("the username must have 5 to 20 letters, digits or _")
    pool = await db.create_pool(cfg.db)
    try:
        user_id = await users.set_staff(pool, cfg.accounts, username=args.username, password=password,
                                        email=args.email)
    finally:
        pool.close()
        await pool.wait_closed()
    print(f"staff user {args.username} (id {user_id}) ready")


async def cmd_keys(cfg: Settings, args) -> None:
    from fresh.keys import ensure_dev_keys

    if cfg.production:
        sys.exit("keys refuses to run in production mode: configure the real keys")
    written = ensure_dev_keys(cfg.var_path / "keys")
    print("dev keys: " + (", ".join(p.name for p in written) if written else f"present in {cfg.var_path / 'keys'}"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fresh")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create the database if needed and apply migrations")
    seed = sub.add_parser("seed", help="load the demo catalog (idempotent)")
    seed.add_argument("--demo", action="store_true", help="also create the development shopper 'demo'")
    seed.add_argument("--scale", type=int, default=0, metavar="N",
                      help="then grow the catalog to N SKUs (copies of the demo's) for benchmarks")
    sub.add_parser("reindex", help="rebuild the search index from the catalog (moves it onto Mroonga when present)")
    admin = sub.add_parser("createadmin", help="create a staff user (password from FRESH_ADMIN_PASSWORD or a prompt)")
    admin.add_argument("--username", default="admin")
    admin.add_argument("--email", default="admin@dailyfresh.local")
    sub.add_parser("keys", help="generate the development RSA2 key pairs into var/keys/ (once)")
    parts = packages.collect()
    for command in parts.commands:  # the packages' own (fresh/packages.py)
        command_parser = sub.add_parser(command.name, help=command.help)
        if command.add_arguments is not None:
            command.add_arguments(command_parser)
    args = parser.parse_args(argv)
    cfg = load_settings()
    logs.setup_logging(cfg.log.format, cfg.log.level)
    handlers = {"migrate": cmd_migrate, "seed": cmd_seed, "reindex": cmd_reindex, "createadmin": cmd_createadmin,
                "keys": cmd_keys}
    package_commands = {command.name: command for command in parts.commands}
    if args.command in package_commands:
        asyncio.run(run_package_command(package_commands[args.command], cfg, args, parts.hooks))
    else:
        asyncio.run(handlers[args.command](cfg, args))


async def run_package_command(command: Command, cfg: Settings, args, hooks) -> None:
    """Run a package's command with a Runtime: the pool, Redis and every package's hooks, as the web app has."""
    from fresh.redis_client import create_redis

    pool = await db.create_pool(cfg.db)
    redis = create_redis(cfg.redis)
    try:
        await command.run(Runtime(cfg=cfg, db=pool, redis=redis, hooks=hooks), args)
    finally:
        pool.close()
        await pool.wait_closed()
        await redis.aclose()
