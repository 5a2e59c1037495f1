"""rediss:// (TLS, a throwaway CA, client certificates required) and unix:// URLs, for every use of Redis: the
redis-py client, the lane, and the shop itself (sessions, the cart add on the lane, pages, the pub/sub listener)."""

from __future__ import annotations

import pytest
import redis.exceptions

from fresh.live import publish_status
from fresh.redis_client import Lane, create_lane, create_redis
from fresh.settings import RedisSettings
from tests.faults.conftest import wait_until
from tests.redis_ha.conftest import FakeSocket, add_to_cart, tls_url

DB = 3


@pytest.fixture(params=["tls", "unix"])
def redis_url(request) -> str:
    """The URL of a redis-server of the test's own that speaks only TLS, or only on a unix socket."""
    if request.param == "tls":
        server = request.getfixturevalue("tls_redis")
        return tls_url(server.tls, server.port, DB)
    return f"unix://{request.getfixturevalue('unix_redis')}?db={DB}"


async def test_the_client_and_the_lane_speak_it(redis_url):
    cfg = RedisSettings(url=redis_url)
    client = create_redis(cfg)
    lane = create_lane(cfg, client)
    try:
        await lane.execute("SET", "k", "from the lane")
        assert await client.get("k") == "from the lane"
        assert (await client.client_info())["db"] == DB
        script = lane.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await script(keys=["n"], args=[5]) == 5
        assert await lane.hgetall("missing") == {}
    finally:
        lane.close()
        await client.aclose()


async def test_the_shop_runs_on_it(redis_url, make_shop, shopper, sku_id):
    shop = await make_shop(url=redis_url)
    client = shop.client()
    await client.login(shopper)  # the session, written by redis-py
    response = await add_to_cart(client, sku_id, 2)  # the session check and the add, on the lane
    assert response.code == 200 and response.json()["total_count"] == 2
    page = await client.get("/cart")
    assert page.code == 200 and "红富士苹果" in page.text and "alice_01" in page.text
    assert (await client.get("/readyz")).json()["redis"] == "ok"
    socket = FakeSocket()
    shop.app.live.add("O1", socket)

    async def delivered() -> bool:
        await publish_status(shop.redis, "O1", {"status": "paid"})
        return bool(socket.sent)

    await wait_until(delivered, "a published status reached the socket")


async def test_tls_refuses_a_server_certificate_from_an_unknown_ca(tls_redis):
    """Without the CA the server's certificate is not trusted: unavailable (503), for redis-py and the lane."""
    cfg = RedisSettings(url=tls_url(tls_redis.tls, tls_redis.port, DB, ca=False), timeout=2.0)
    client = create_redis(cfg)
    lane = create_lane(cfg, client)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await client.ping()
        with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await lane.execute("PING")
    finally:
        lane.close()
        await client.aclose()


async def test_tls_without_a_client_certificate_is_refused_by_the_server(tls_redis):
    lane = Lane(tls_url(tls_redis.tls, tls_redis.port, DB, client_cert=False), timeout=2.0)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await lane.execute("PING")
    finally:
        lane.close()
