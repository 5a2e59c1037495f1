"""The static index: the anonymous index page kept in a file for nginx to serve (catalog.static_index).

Every process polls the catalog version; when the file holds an older one, the process that takes a short Redis
lease renders the page (the very one an anonymous visitor gets from the app, through fetch_internal) and replaces
the file atomically. nginx sends the file for GET / without a session cookie and falls through to the app when it
is missing; so a visitor without a session sees a catalog write within about POLL_SECONDS plus one render.

The lease and the version the file holds are per machine and file (each machine behind a balancer has its own
nginx and file).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from pathlib import Path

from fresh.catalog.cache import catalog_version
from fresh.loopback import fetch_internal
from fresh.settings import resolve_path

log = logging.getLogger("fresh.catalog.static_index")
POLL_SECONDS = 0.5
LEASE_SECONDS = 15
# Release the lease only if it is still ours (it may have expired and been taken by another process).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _keys(path: Path) -> tuple[str, str]:
    where = f"{socket.gethostname()}:{path}"
    return f"static_index:lease:{where}", f"static_index:version:{where}"


def _write_atomically(path: Path, body: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(body)
    os.chmod(tmp, 0o644)
    tmp.replace(path)  # nginx reads either the old file or the new one, never half of one


async def refresh_static_index(app, path: Path) -> bool:
    """Render the index to `path` if the file is missing or older than the catalog; True when this call wrote it."""
    lease_key, version_key = _keys(path)
    redis = app.redis
    version = await catalog_version(redis)
    loop = asyncio.get_running_loop()
    if await redis.get(version_key) == version and await loop.run_in_executor(None, path.is_file):
        return False
    token = secrets.token_hex(8)
    if not await redis.set(lease_key, token, nx=True, ex=LEASE_SECONDS):
        return False  # another process renders it
    try:
        status, body = await fetch_internal(app, "/", request_id="static-index")
        if status != 200:
            log.warning("static index not written: GET / answered %d", status)
            return False
        await loop.run_in_executor(None, _write_atomically, path, body)
        # Stamped with the version read before rendering: a write during the render makes the next poll render
        # again.
        await redis.set(version_key, version)
        log.info("static index written for catalog version %s", version)
        return True
    finally:
        await redis.eval(_RELEASE, 1, lease_key, token)


async def keep_static_index(app) -> None:
    """Background task: keep catalog.static_index current while the process runs (nothing when it is unset)."""
    if not app.cfg.catalog.static_index:
        return
    path = resolve_path(app.cfg.catalog.static_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            await refresh_static_index(app, path)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or MariaDB away: nginx keeps the old file or falls through to the app
            log.warning("static index refresh failed: %r", exc)
        await asyncio.sleep(POLL_SECONDS)
