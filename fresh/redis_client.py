"""The redis.asyncio client, and the lane (one pipelined connection for the hottest commands). The URL carries
the scheme, password and database number, so tests never touch the shop's data; with `redis.sentinels` both find
the primary through Redis Sentinel at each connect and follow a failover without a restart."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import RedisSSLContext, parse_url
from redis.asyncio.sentinel import Sentinel

from fresh.settings import RedisSettings, sentinel_addresses


def create_redis(cfg: RedisSettings) -> aioredis.Redis:
    """Build the client (no I/O until the first command): of the URL's server, or of the primary the Sentinels
    name (redis-py's Sentinel pool asks them at every new connection, and a connection that meets READONLY, a
    demoted primary, is dropped with ConnectionError, which the web layer answers with 503)."""
    options = dict(
        decode_responses=True,
        socket_timeout=cfg.timeout,
        socket_connect_timeout=cfg.timeout,
        max_connections=cfg.max_connections,
        health_check_interval=30,
    )
    if not cfg.sentinels:
        return aioredis.Redis.from_url(cfg.url, **options)
    return _sentinel(cfg).master_for(cfg.service_name, redis_class=SentinelRedis, **options)


class SentinelRedis(aioredis.Redis):
    """redis-py's client of the primary the Sentinels name; closing it also closes the connections to them."""

    @property
    def sentinel(self) -> Sentinel:
        return self.connection_pool.sentinel_manager

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        await self.sentinel.aclose()


def _sentinel(cfg: RedisSettings) -> Sentinel:
    server, tls = _url_options(cfg.url)
    server.pop("host", None)
    server.pop("port", None)
    if tls:
        server["ssl"] = True  # SentinelConnectionPool then makes TLS connections, with the URL's ssl_* options
    asking = dict(socket_timeout=cfg.sentinel_timeout, socket_connect_timeout=cfg.sentinel_timeout,
                  decode_responses=True)
    if cfg.sentinel_password:
        asking["password"] = cfg.sentinel_password
    if tls:
        asking.update({k: v for k, v in server.items() if k.startswith("ssl")})
    return Sentinel(sentinel_addresses(cfg.sentinels), sentinel_kwargs=asking, **server)


def _url_options(url: str) -> tuple[dict, bool]:
    """redis-py's connection options of a URL (host, port or path, db, login, ssl_*), and whether it is TLS."""
    options = parse_url(url)
    connection_class = options.pop("connection_class", None)
    tls = connection_class is not None and issubclass(connection_class, aioredis.SSLConnection)
    return options, tls


def create_lane(cfg: RedisSettings, redis: aioredis.Redis | None = None) -> Lane | aioredis.Redis:
    """The lane to the same server and database (no I/O until the first command); with Sentinels it asks those
    of `redis` (create_redis's client) for the primary. With `redis.lane` off: `redis` itself, whose methods the
    lane's users call alike."""
    if not cfg.lane:
        if redis is None:
            raise ValueError("redis.lane is off: pass the redis-py client the hot paths use instead")
        return redis
    locate = None
    if cfg.sentinels:
        if not isinstance(redis, SentinelRedis):
            raise ValueError("with redis.sentinels the lane asks the Sentinels of create_redis's client")
        sentinel, service = redis.sentinel, cfg.service_name
        locate = lambda: sentinel.discover_master(service)  # noqa: E731
    return Lane(cfg.url, timeout=cfg.timeout, locate=locate)


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
    its callers with redis ConnectionError (the web layer answers 503, as for redis-py's errors).

    It speaks redis://, rediss:// (TLS, with the URL's ssl_* options) and unix://. With `locate` (Sentinel) each
    connect asks it for the primary's address and checks with ROLE that the server is one. A READONLY reply (the
    server was demoted under us: a failover) fails like a lost connection and drops it, so the next command finds
    the new primary; Sentinel also closes the clients of a server it demotes."""

    def __init__(self, url: str, *, timeout: float,
                 locate: Callable[[], Awaitable[tuple[str, int]]] | None = None):
        options, tls = _url_options(url)
        self.host = options.get("host") or "127.0.0.1"
        self.port = int(options.get("port") or 6379)
        self.path = options.get("path")
        self.db = int(options.get("db") or 0)
        self.username = options.get("username")
        self.password = options.get("password")
        self.ssl = _ssl_context(options) if tls else None
        self.check_hostname = tls and options.get("ssl_check_hostname", True)
        self.timeout = timeout
        self.locate = locate
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

    # The few reads and writes of the hot paths, with redis-py's signatures and results, so the domain functions
    # that use them take either client.

    async def get(self, name: str) -> str | None:
        return await self.execute("GET", name)

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
        host, port = self.host, self.port
        if self.locate is not None:
            # MasterNotFoundError (no Sentinel answered, or none knows a healthy primary) is a ConnectionError.
            try:
                host, port = await asyncio.wait_for(self.locate(), self.timeout)
            except TimeoutError as exc:
                raise redis.exceptions.ConnectionError(f"no Sentinel named the primary within {self.timeout} s") \
                    from exc
        where = self.path or f"{host}:{port}"

        def protocol() -> _LaneConnection:
            return _LaneConnection(loop, self.timeout)

        try:
            if self.path:
                opening = loop.create_unix_connection(protocol, self.path)
            elif self.ssl is not None:
                opening = loop.create_connection(protocol, host, port, ssl=self.ssl,
                                                 server_hostname=host if self.check_hostname else "")
            else:
                opening = loop.create_connection(protocol, host, port)
            _, conn = await asyncio.wait_for(opening, self.timeout)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError (a refused certificate) is an OSError
            raise redis.exceptions.ConnectionError(f"Redis at {where}: {exc!r}") from exc
        hello = []
        if self.password is not None:
            hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        try:
            for args in hello:
                await conn.send(args)
            if self.locate is not None:
                # Sentinel may still name a primary it has just demoted: use only a server that says it is one.
                role = await conn.send(("ROLE",))
                if role[0] != "master":
                    raise redis.exceptions.ConnectionError(f"Redis at {where} is a {role[0]}, not the primary")
        except BaseException:
            conn.abort()
            raise
        self._conn = conn
        return conn


def _ssl_context(options: dict) -> ssl.SSLContext:
    """The TLS context redis-py would make of the same URL options (certificates required by default)."""
    return RedisSSLContext(
        keyfile=options.get("ssl_keyfile"), certfile=options.get("ssl_certfile"),
        cert_reqs=options.get("ssl_cert_reqs", "required"), ca_certs=options.get("ssl_ca_certs"),
        check_hostname=options.get("ssl_check_hostname", True),
    ).get()


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
                    if str(reply).startswith("READONLY"):
                        # A demoted primary: every caller behind this one would meet it too. The next command
                        # connects again (to the new primary, with Sentinel); until then the shop answers 503.
                        future.set_exception(redis.exceptions.ConnectionError(f"Redis is read-only now: {reply}"))
                        self._fail(lambda: redis.exceptions.ConnectionError("Redis is read-only now"))
                        self.abort()
                        return
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
