"""The redis.asyncio client, and the lane (one pipelined connection for the hottest commands). The URL carries
the database number, so tests never touch the shop's data."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis
import redis.asyncio as aioredis
import redis.exceptions

from fresh.settings import RedisSettings


def create_redis(cfg: RedisSettings) -> aioredis.Redis:
    """Build the client (no I/O until the first command)."""
    return aioredis.Redis.from_url(
        cfg.url,
        decode_responses=True,
        socket_timeout=cfg.timeout,
        socket_connect_timeout=cfg.timeout,
        max_connections=cfg.max_connections,
        health_check_interval=30,
    )


def create_lane(cfg: RedisSettings) -> Lane:
    """The lane to the same server and database (no I/O until the first command)."""
    return Lane(cfg.url, timeout=cfg.timeout)


# --- the lane: one pipelined connection for the hottest commands -----------------------------------------------

class Lane:
    """One Redis connection shared by every coroutine of the process, for the hottest single commands and scripts.

    Commands issued in the same event-loop iteration leave in one write, and the replies that arrive together are
    parsed together by hiredis; Redis answers a connection's commands in order, so replies go to their callers
    first in, first out. Against a pooled redis-py call this saves most of the per-command Python work and, under
    load, most of the system calls. Nothing that holds the connection (BLPOP, SUBSCRIBE, MULTI/EXEC, WATCH) may go
    through it: everything queued behind would wait.

    Every command is bounded by the client's timeout: when the oldest outstanding reply is overdue, the connection
    is dropped, its callers get redis TimeoutError, and the next command connects again. A lost connection fails
    its callers with redis ConnectionError (the web layer answers 503, as for redis-py's errors)."""

    def __init__(self, url: str, *, timeout: float):
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError(f"the lane speaks plain redis:// only, not {parts.scheme}://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int((parts.path or "/0").lstrip("/") or 0)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._conn: _LaneConnection | None = None
        self._connecting: asyncio.Task | None = None

    async def execute(self, *args: Any) -> Any:
        """Send one command; its reply (decoded as UTF-8), or ResponseError for an error reply."""
        conn = self._conn
        if conn is None or conn.closed or conn.loop is not asyncio.get_running_loop():
            conn = await self._connect()
        return await conn.send(args)

    def register_script(self, source: str) -> LaneScript:
        return LaneScript(self, source)

    # The few hash reads and writes of the hot paths, with redis-py's signatures and results, so the domain
    # functions that use them take either client.

    async def hgetall(self, name: str) -> dict[str, str]:
        flat = await self.execute("HGETALL", name)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    async def hmget(self, name: str, keys: list, *args: Any) -> list[str | None]:
        return await self.execute("HMGET", name, *keys, *args)

    async def hdel(self, name: str, *keys: Any) -> int:
        return await self.execute("HDEL", name, *keys)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.abort()
            self._conn = None

    async def _connect(self) -> _LaneConnection:
        loop = asyncio.get_running_loop()
        task = self._connecting
        if task is None or task.done() or task.get_loop() is not loop:
            if self._conn is not None:
                self._conn.abort()  # closed, or left by an event loop that has ended
                self._conn = None
            task = self._connecting = loop.create_task(self._open())
        return await asyncio.shield(task)

    async def _open(self) -> _LaneConnection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _LaneConnection(loop, self.timeout), self.host, self.port),
                self.timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise redis.exceptions.ConnectionError(f"Redis at {self.host}:{self.port}: {exc!r}") from exc
        hello = []
        if self.password is not None:
            hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        for args in hello:
            await conn.send(args)
        self._conn = conn
        return conn


class LaneScript:
    """A Lua script run by EVALSHA on the lane; the first run after a SCRIPT FLUSH (or on a new server) sends the
    source with EVAL, which also caches it."""

    def __init__(self, lane: Lane, source: str):
        self.lane = lane
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: list = (), args: list = ()) -> Any:
        try:
            return await self.lane.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except redis.exceptions.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.lane.execute("EVAL", self.source, len(keys), *keys, *args)


class _LaneConnection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float):
        self.loop = loop
        self.timeout = timeout
        self.reader = hiredis.Reader(encoding="utf-8", replyError=redis.exceptions.ResponseError)
        self.transport: asyncio.Transport | None = None
        self.pending: deque[tuple[asyncio.Future, float]] = deque()
        self.out: list[bytes] = []
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False

    def send(self, args) -> asyncio.Future:
        if self.closed:
            raise redis.exceptions.ConnectionError("Redis connection closed")
        future = self.loop.create_future()
        deadline = self.loop.time() + self.timeout
        self.pending.append((future, deadline))
        if not self.out:
            self.loop.call_soon(self._flush)
        self.out.append(hiredis.pack_command(args))
        if self.timer is None:
            self.timer = self.loop.call_at(deadline, self._check_overdue)
        return future

    def _flush(self) -> None:
        out, self.out = self.out, []
        if out and not self.closed:
            self.transport.write(b"".join(out))

    def _check_overdue(self) -> None:
        self.timer = None
        if not self.pending:
            return
        deadline = self.pending[0][1]
        if self.loop.time() >= deadline:
            self._fail(lambda: redis.exceptions.TimeoutError(f"Redis did not answer within {self.timeout} s"))
            self.abort()
        else:
            self.timer = self.loop.call_at(deadline, self._check_overdue)

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future, _ = self.pending.popleft()
                if future.done():
                    continue  # its caller was cancelled
                if isinstance(reply, redis.exceptions.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:
            message = f"Redis protocol error: {exc!r}"
            self._fail(lambda: redis.exceptions.ConnectionError(message))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        message = f"Redis connection lost: {exc!r}" if exc else "Redis closed the connection"
        self._fail(lambda: redis.exceptions.ConnectionError(message))

    def _fail(self, error: Callable[[], Exception]) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        while self.pending:
            future, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(error())

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            try:
                self.transport.abort()
            except RuntimeError:  # its event loop has ended
                pass
