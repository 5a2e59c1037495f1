"""Live order status: one Redis pub/sub listener per process fans out to that process's websockets.

A status change anywhere (notify, watcher, admin, expiry, cancel, on any instance) is PUBLISHed to
`order:<order_id>`; every process listens with one PSUBSCRIBE and forwards to the sockets it holds for that order.
The Application owns one Broadcaster (`app.live`); its listener is one of the process's background tasks.
Orders and payments both publish, so this sits beside the Redis client rather than in either domain.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis
import redis.exceptions

from fresh import metrics

log = logging.getLogger("fresh.live")
CHANNEL_PREFIX = "order:"
# The publisher's wall-clock time travels with each message under this key, for the publish -> send delay; it is
# taken off before the payload reaches a browser.
SENT_AT = "_published_at"


def order_channel(order_id: str) -> str:
    return f"{CHANNEL_PREFIX}{order_id}"


async def publish_status(redis: aioredis.Redis, order_id: str, payload: dict) -> None:
    """Tell every process's listeners about an order's new status."""
    message = {**payload, SENT_AT: time.time()}
    await redis.publish(order_channel(order_id), json.dumps(message, ensure_ascii=False, default=str))


class Subscriber(Protocol):
    def send_status(self, payload: dict) -> None: ...

    async def resync(self) -> None: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


# WebSocket close code 1001: the endpoint is going away (the process is shutting down); clients reconnect.
GOING_AWAY = 1001


class Broadcaster:
    """Holds this process's sockets per order and runs the one pub/sub listener that feeds them."""

    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self.sockets: dict[str, set[Subscriber]] = defaultdict(set)
        self.connected = asyncio.Event()
        # Set when the listener's connection was made again under it (see run()).
        self.gap = False

    def add(self, order_id: str, socket: Subscriber) -> None:
        self.sockets[order_id].add(socket)
        metrics.WS_OPEN.inc()

    def remove(self, order_id: str, socket: Subscriber) -> None:
        sockets = self.sockets.get(order_id)
        if sockets and socket in sockets:
            sockets.discard(socket)
            metrics.WS_OPEN.dec()
            if not sockets:
                del self.sockets[order_id]

    def close_all(self, code: int = GOING_AWAY, reason: str = "服务重启，请重新连接") -> int:
        """Close every socket of this process (at shutdown); return how many were open."""
        sockets = [s for group in list(self.sockets.values()) for s in list(group)]
        for socket in sockets:
            socket.close(code, reason)
        return len(sockets)

    def dispatch(self, channel: str, data: str) -> None:
        order_id = channel[len(CHANNEL_PREFIX):]
        sockets = self.sockets.get(order_id)
        if not sockets:
            return
        try:
            payload = json.loads(data)
        except ValueError:
            log.warning("ignoring malformed message on %s", channel)
            return
        sent_at = payload.pop(SENT_AT, None) if isinstance(payload, dict) else None
        for socket in list(sockets):
            socket.send_status(payload)
            metrics.WS_MESSAGES.inc()
            if isinstance(sent_at, int | float):
                metrics.WS_DELAY.observe(max(0.0, time.time() - sent_at))

    async def run(self) -> None:
        """Listen until cancelled; reconnect with backoff, and resync every socket after a gap."""
        delay = 0.5
        first = True
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            self.gap = False
            try:
                await asyncio.wait_for(pubsub.psubscribe(CHANNEL_PREFIX + "*"), 5)
                # Within its retries redis-py may reconnect a lost pub/sub connection and subscribe again by itself
                # (to the new primary after a Sentinel failover); then no error reaches this loop, yet messages were
                # missed, so the reconnection is noted (_reconnected) and treated as a gap too.
                pubsub.connection.register_connect_callback(self._reconnected)
                self.connected.set()
                if not first:
                    await self._resync()
                first, delay = False, 0.5
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if self.gap:
                        self.gap = False
                        log.warning("pub/sub listener reconnected to Redis; resyncing its sockets")
                        await self._resync()
                    if message and message["type"] == "pmessage":
                        self.dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (TimeoutError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
                self.connected.clear()
                metrics.REDIS_ERRORS.labels("pubsub").inc()
                log.warning("pub/sub listener lost Redis (%r); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                if pubsub.connection is not None:
                    pubsub.connection.deregister_connect_callback(self._reconnected)
                try:
                    await asyncio.wait_for(pubsub.aclose(), 2)
                except Exception:  # the connection is already gone
                    pass

    def _reconnected(self, connection: object) -> None:
        self.gap = True
        metrics.REDIS_ERRORS.labels("pubsub").inc()

    async def _resync(self) -> None:
        # Messages published while we were away are lost: send each socket the status now.
        await asyncio.gather(*(s.resync() for group in list(self.sockets.values()) for s in group),
                             return_exceptions=True)
