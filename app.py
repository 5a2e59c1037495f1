"""Entry point: settings -> pool and Redis -> make_app() -> listen -> background tasks -> wait for a signal."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal

from fresh import db, drain, eventloop, logs, replica
from fresh.background import BackgroundTasks
from fresh.catalog.search import search_mode
from fresh.redis_client import create_redis
from fresh.settings import load_settings
from fresh.web import make_app, server_options

log = logging.getLogger("fresh")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the dailyfresh shop.")
    parser.add_argument("--port", type=int, help="listen port (default: web.port)")
    parser.add_argument("--host", help="listen address (default: web.host)")
    parser.add_argument("--with-sandbox", action="store_true",
                        help="also serve the local Alipay sandbox gateway in this process (development)")
    return parser.parse_args(argv)


async def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_settings()
    logs.setup_logging(cfg.log.format, cfg.log.level)
    pool = await db.create_pool(cfg.db)
    reads = await replica.open_reads(cfg.db, pool)
    redis = create_redis(cfg.redis)
    # Decided once at start, with one warning when full-text search is unavailable (fresh/catalog/search.py), on
    # the pool the searches read from.
    await search_mode(reads, cfg.catalog.search)
    app = make_app(cfg, pool=pool, redis=redis, reads=reads)
    host, port = args.host or cfg.web.host, args.port or cfg.web.port
    server = app.listen(port, address=host, backlog=cfg.web.backlog, **server_options(cfg))
    servers = [server]
    if args.with_sandbox:
        # An outside party that only speaks the protocol: imported only when asked for.
        sandbox = importlib.import_module("fresh.payments.sandbox")
        servers.append(await sandbox.serve(cfg))
    # The one owner of the process's background work (the live-status listener, the payment watcher, the expiry...).
    background = BackgroundTasks(app, app.background)
    background.start()
    log.info("dailyfresh (%s) serving on http://%s:%d/", cfg.mode, host, port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("shutting down")
    # Stop taking work, let requests in flight finish and close the websockets (1001, going away: their pages
    # reconnect to another process), within web.drain_timeout; then stop the background work, the listener
    # that fed the websockets included.
    await drain.drain(app, [server], timeout=cfg.web.drain_timeout)
    for s in servers:
        s.stop()
    await background.stop()
    for s in servers:
        try:
            await asyncio.wait_for(s.close_all_connections(), 2)
        except TimeoutError:
            log.warning("connections still open after 2 s; closing anyway")
    app.close()
    await replica.close_reads(reads, pool)
    pool.close()
    await pool.wait_closed()
    await redis.aclose()


if __name__ == "__main__":
    eventloop.run(main())
