"""The pub/sub listener after its connection was lost, whoever reconnected it."""

from __future__ import annotations

from fresh.live import publish_status
from tests.faults.conftest import wait_until
from tests.redis_ha.conftest import FakeSocket


async def test_sockets_are_resynced_once_after_the_listeners_connection_is_killed(single, make_shop):
    """The listener's connection is closed by the server: whether redis-py reconnects it by itself within its
    retries (raising nothing) or the error reaches the listener's loop, it is a gap (messages were missed): the
    sockets are sent their status again, once, and later messages arrive."""
    shop = await make_shop(url=f"redis://127.0.0.1:{single.port}/0")
    socket = FakeSocket()
    shop.app.live.add("O1", socket)

    async def subscribed() -> bool:
        return shop.app.live.connected.is_set()

    await wait_until(subscribed, "the listener subscribed")
    admin = single.client()
    try:
        assert await admin.client_kill_filter(_type="pubsub") == 1
    finally:
        await admin.aclose()

    async def delivered() -> bool:
        await publish_status(shop.redis, "O1", {"status": "paid"})
        return bool(socket.sent)

    await wait_until(delivered, "a status published after the reconnection reached the socket")
    assert socket.resyncs == 1
