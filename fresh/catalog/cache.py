"""Per-process caches of catalog facts and pages, checked against one version stamp in Redis.

`cache:catalog:version` holds a random token. `invalidate_catalog()` (admin writes, the seed, a test that edits
rows by hand) replaces it, and every process drops what it cached from older data the next time it compares; a
FLUSHDB (the tests' clean-up between tests) removes it, which counts as a change too, so reused auto-increment ids
never meet a stale entry. The stamp is read in a round trip the request makes anyway (the page header's pipeline,
the cart's add script) or on the lane, where it shares a write with the other requests' commands.

Besides the stamp every entry lives a short time (seconds), for the changes that do not invalidate: stock and
sales moved by orders, comments. What each cache may show that is that old is said where it is used. Lifetimes are
read from the caches' clock (`time.monotonic` unless use_clock() gave another), so tests move time by hand.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import redis.asyncio as aioredis

from fresh.redis_client import Lane

log = logging.getLogger("fresh.catalog")
VERSION_KEY = "cache:catalog:version"


def version_key() -> str:
    """The key of the catalog's version stamp (other domains may compare it inside their own scripts)."""
    return VERSION_KEY


def new_version() -> str:
    return secrets.token_hex(8)


async def current_version(lane: Lane | aioredis.Redis, redis: aioredis.Redis) -> str:
    """The current stamp, read on the lane (fresh.redis_client; redis-py's client when redis.lane is off): under
    load the reads of concurrent requests go out in one write, which costs a page about what a per-process memo of
    the stamp did (BENCHMARKS.md, Findings)."""
    return await lane.get(VERSION_KEY) or await catalog_version(redis)


async def catalog_version(redis: aioredis.Redis) -> str:
    """The current stamp, created when missing (first use, expiry of the store, FLUSHDB)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(VERSION_KEY, new_version(), nx=True)
        pipe.get(VERSION_KEY)
        _, version = await pipe.execute()
    return version


Clock = Callable[[], float]


class LocalCache:
    """A bounded map key -> value, each entry stamped with the catalog version it was built from and a deadline
    on `clock` (monotonic seconds)."""

    def __init__(self, max_entries: int, clock: Clock = time.monotonic):
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Any, tuple[str, float, Any]] = OrderedDict()

    def get(self, key, version: str | None) -> Any:
        """The value when it is younger than its deadline and (unless version is None) built from `version`."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stamp, deadline, value = entry
        if self.clock() >= deadline or (version is not None and stamp != version):
            self._entries.pop(key, None)
            return None
        return value

    def entry(self, key) -> tuple[str, Any] | None:
        """(stamp, value) of a live entry whatever its stamp, for callers that check the stamp in Redis."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry[1]:
            self._entries.pop(key, None)
            return None
        return entry[0], entry[2]

    def expires_within(self, key, seconds: float) -> bool:
        """Whether the entry (live or not) ends within `seconds`: time to refresh it ahead."""
        entry = self._entries.get(key)
        return entry is None or entry[1] - self.clock() < seconds

    def put(self, key, version: str, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = (version, self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key=None) -> None:
        """Drop one entry, or all of them."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)


# One set of caches per Redis client, i.e. per running application (no module-level state shared between apps).
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SIZES = {"sku": 10_000, "pages": 2_000, "counts": 1_000}


def local_cache(redis: aioredis.Redis, name: str) -> LocalCache:
    """The named per-process cache of the application that owns this Redis client."""
    caches = _CACHES.get(redis)
    if caches is None:
        caches = _CACHES[redis] = {n: LocalCache(size) for n, size in _SIZES.items()}
    return caches[name]


def use_clock(redis: aioredis.Redis, clock: Clock) -> None:
    """Read the lifetimes of this application's caches from `clock` (tests pass one they move by hand)."""
    for name in _SIZES:
        local_cache(redis, name).clock = clock


_IN_FLIGHT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def in_flight(redis: aioredis.Redis) -> dict:
    """Work in progress in this process (e.g. page renders), key -> future, so concurrent misses share it."""
    return _IN_FLIGHT.setdefault(redis, {})


async def shared(redis: aioredis.Redis, key: Hashable, make: Callable[[], Awaitable[Any]]) -> Any:
    """`await make()`, once per key at a time in this process: callers that arrive while it runs wait for the same
    result (or exception) instead of repeating the work (a cold or just-expired entry under load)."""
    running = in_flight(redis)
    pending = running.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    future = running[key] = asyncio.get_running_loop().create_future()
    try:
        result = await make()
        future.set_result(result)
        return result
    except asyncio.CancelledError:
        future.cancel()
        raise
    except Exception as exc:
        future.set_exception(exc)
        future.exception()  # retrieved here: waiters re-raise it, and nobody waiting is not an error
        raise
    finally:
        del running[key]


def refresh_in_background(redis: aioredis.Redis, key: Hashable, make: Callable[[], Awaitable[Any]]) -> None:
    """Run `make()` through shared() in the background unless it is already running: an entry in its last stretch
    is rebuilt while it keeps answering, so an entry in steady demand never misses. A failure is logged (the entry
    then simply expires and the next request rebuilds it)."""
    if key in in_flight(redis):
        return
    asyncio.ensure_future(shared(redis, key, make)).add_done_callback(_log_failed_refresh)


def _log_failed_refresh(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("refreshing a cached entry failed: %r", task.exception())


def spread(ttl: float) -> float:
    """A lifetime between 80% and 100% of `ttl`, so entries filled together (a cold start, an invalidation) do not
    all expire, and get rebuilt, in the same moment."""
    return ttl * random.uniform(0.8, 1.0)


def forget_local(redis: aioredis.Redis) -> None:
    """Empty this process's caches (tests, after emptying the stores they were filled from)."""
    for cache in _CACHES.get(redis, {}).values():
        cache.forget()


async def invalidate_catalog(redis: aioredis.Redis, *also_delete: str) -> None:
    """Make every process rebuild what it cached from the catalog (call after any catalog write)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(VERSION_KEY, new_version())
        if also_delete:
            pipe.delete(*also_delete)
        await pipe.execute()
    forget_local(redis)  # this process at once; the others on their next comparison
