"""Redis through Sentinel: the shop finds the primary through the Sentinels and follows a failover without a
restart (sessions and carts on the lane and on redis-py, the pub/sub listener); a write that reaches a replica
answers 503, never 500."""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions

from fresh.live import publish_status
from fresh.redis_client import Lane, create_lane, create_redis
from fresh.settings import RedisSettings
from tests.faults.conftest import wait_until
from tests.helpers import free_port
from tests.redis_ha.conftest import DEADLINE, SERVICE, FakeSocket, add_to_cart, failed_over, tls_url

# The servers are the test's own: any database number will do; not 0, to show the URL's is the one used.
DB = 3


async def _acknowledged_by_the_replica(primary) -> None:
    """Everything written to the primary so far is on the replica: one replication stream carries every write in
    order, so a write of our own that WAIT says the replica has covers the ones before it."""
    client = primary.client(db=DB)
    try:
        await client.set("test:marker", "1")
        assert await client.wait(1, 10_000) == 1
    finally:
        await client.aclose()


async def _cart_adds_until_they_work(client, sku_id: int, *, concurrency: int = 10) -> list[int]:
    """Rounds of `concurrency` simultaneous POST /cart/add (count 1) until a whole round answers 200; every answer
    before must be a 503 (unavailable), never a 500 or a refusal. The statuses, in order."""
    statuses: list[int] = []

    async def round_ok() -> bool:
        answers = await asyncio.gather(*(add_to_cart(client, sku_id, 1) for _ in range(concurrency)))
        statuses.extend(a.code for a in answers)
        return all(a.code == 200 for a in answers)

    await wait_until(round_ok, "a round of cart adds all answered 200", timeout=DEADLINE)
    assert set(statuses) <= {200, 503}, statuses
    return statuses


async def _delivered_after_the_failover(shop, socket: FakeSocket) -> None:
    """A status published now reaches the process's socket (published again until the listener is back)."""
    async def delivered() -> bool:
        await publish_status(shop.redis, "O1", {"status": "paid", "n": len(socket.sent)})
        return bool(socket.sent)

    await wait_until(delivered, "a status published after the failover reached the socket", timeout=DEADLINE)
    assert socket.sent[0]["status"] == "paid"


async def _shop_with_a_cart(make_shop, replicated, shopper, sku_id, *, url: str = f"redis://127.0.0.1/{DB}"):
    shop = await make_shop(url=url, sentinels=replicated.sentinels_setting, service_name=SERVICE)
    client = shop.client()
    await client.login(shopper)
    response = await add_to_cart(client, sku_id, 2)
    assert response.code == 200 and response.json()["total_count"] == 2
    # The cart and session are on the primary the Sentinels named, in the URL's database.
    primary = replicated.primary.client(db=DB)
    try:
        assert await primary.keys("cart_*") and await primary.keys("session:*")
    finally:
        await primary.aclose()
    socket = FakeSocket()
    shop.app.live.add("O1", socket)

    async def subscribed() -> bool:
        return shop.app.live.connected.is_set()

    await wait_until(subscribed, "the pub/sub listener subscribed")
    await _acknowledged_by_the_replica(replicated.primary)
    return shop, client, socket


async def test_the_shop_follows_a_failover_without_a_restart(replicated, make_shop, shopper, sku_id):
    shop, client, socket = await _shop_with_a_cart(make_shop, replicated, shopper, sku_id)

    replicated.primary.kill()
    # Shoppers keep adding from the moment of the kill: 503 while no primary answers (Sentinel waits
    # down-after-milliseconds, then elects and promotes), then 200 from the new one, with no restart.
    statuses = await _cart_adds_until_they_work(client, sku_id)
    assert 503 in statuses  # the window was met, not waited out
    assert await failed_over(replicated)
    promoted = replicated.replica.client(db=DB)
    try:
        [cart_key] = await promoted.keys("cart_*")
        [count] = (await promoted.hgetall(cart_key)).values()
    finally:
        await promoted.aclose()
    # The two acknowledged by the replica before the kill are there, and the last round's ten, made on the new
    # primary (an add the dying primary acknowledged may be lost: replication is asynchronous).
    assert int(count) >= 2 + 10
    # The session (read on the lane) and the cart work on as before.
    response = await add_to_cart(client, sku_id, 1)
    assert response.code == 200 and response.json()["total_count"] == int(count) + 1
    page = await client.get("/cart")
    assert page.code == 200 and "红富士苹果" in page.text and "alice_01" in page.text
    # The listener found the new primary by itself, and the sockets it holds were sent the status again for
    # what they may have missed meanwhile (the page re-reads it).
    await _delivered_after_the_failover(shop, socket)
    assert socket.resyncs >= 1


async def test_a_switchover_by_the_operator_is_followed(replicated, make_shop, shopper, sku_id):
    """SENTINEL FAILOVER: the primary is demoted to a replica while the shop holds connections to it."""
    shop, client, socket = await _shop_with_a_cart(make_shop, replicated, shopper, sku_id)
    sentinel = replicated.sentinels[0].client()
    try:
        assert await sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
    finally:
        await sentinel.aclose()
    await _cart_adds_until_they_work(client, sku_id)
    await wait_until(lambda: failed_over(replicated), "Sentinel promoted the replica", timeout=DEADLINE)
    await _cart_adds_until_they_work(client, sku_id)
    await _delivered_after_the_failover(shop, socket)
    # The demoted primary follows the new one and took none of the writes after the switchover.
    old = replicated.primary.client()
    try:
        await wait_until(lambda: _role_is(old, "slave"), "the old primary became a replica", timeout=DEADLINE)
    finally:
        await old.aclose()


async def test_sentinel_over_tls_is_followed(tls_replicated, make_shop, shopper, sku_id):
    """Servers, replication and Sentinels speaking only TLS: the rediss:// URL's CA and client certificate serve
    the Sentinels too, and a switchover is followed as over plain TCP."""
    group = tls_replicated
    url = tls_url(group.primary.tls, 1, DB, host="unused")  # with Sentinels the URL's host and port are not used
    shop, client, socket = await _shop_with_a_cart(make_shop, group, shopper, sku_id, url=url)
    sentinel = group.sentinels[0].client()
    try:
        assert await sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
    finally:
        await sentinel.aclose()
    await wait_until(lambda: failed_over(group), "Sentinel promoted the replica", timeout=DEADLINE)
    await _cart_adds_until_they_work(client, sku_id)
    await _delivered_after_the_failover(shop, socket)
    promoted = group.replica.client(db=DB)
    try:
        assert await promoted.keys("session:*")
    finally:
        await promoted.aclose()


async def _role_is(client, role: str) -> bool:
    return (await client.execute_command("ROLE"))[0] == role


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "redis-py"])
async def test_a_write_that_reaches_a_replica_answers_503(pair, make_shop, shopper, sku_id, lane):
    """redis.url naming a server that is a replica now (a primary demoted without Sentinel in front): pages that
    only read still work, a cart add answers 503 with the unavailable message, and nothing is written."""
    primary, replica = pair
    writer = await make_shop(url=f"redis://127.0.0.1:{primary.port}/{DB}")
    client = writer.client()
    await client.login(shopper)
    await _acknowledged_by_the_replica(primary)

    reader = await make_shop(url=f"redis://127.0.0.1:{replica.port}/{DB}", lane=lane)
    client.base_url = reader.base_url  # the same browser (cookies) on the shop that reaches the replica
    page = await client.get("/cart")
    assert page.code == 200 and "alice_01" in page.text
    response = await add_to_cart(client, sku_id, 1)
    assert response.code == 503 and response.json()["errmsg"] == "服务暂时不可用，请稍后再试"
    direct = primary.client(db=DB)
    try:
        assert not await direct.keys("cart_*")
    finally:
        await direct.aclose()


async def test_the_lane_drops_a_connection_that_answers_readonly(pair):
    """The lane's connection to a server that turned replica fails its callers as unavailable and is dropped."""
    _, replica = pair
    lane = Lane(f"redis://127.0.0.1:{replica.port}/{DB}", timeout=5.0)
    try:
        first = await lane.execute("CLIENT", "ID")
        with pytest.raises(redis.exceptions.ConnectionError, match="read-only"):
            await lane.execute("SET", "k", "v")
        second = await lane.execute("CLIENT", "ID")
        assert second != first  # a new connection
        # A script that writes meets the same refusal.
        with pytest.raises(redis.exceptions.ConnectionError, match="read-only"):
            await lane.register_script("return redis.call('SET', KEYS[1], 'v')")(keys=["k"])
        assert await lane.execute("CLIENT", "ID") != second
    finally:
        lane.close()


async def test_the_lane_uses_only_a_server_that_says_it_is_the_primary(pair):
    """A Sentinel may name a primary it has just demoted: the lane checks ROLE when it connects."""
    primary, replica = pair
    named = {"port": replica.port}

    async def locate():
        return "127.0.0.1", named["port"]

    lane = Lane(f"redis://127.0.0.1/{DB}", timeout=5.0, locate=locate)
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match="not the primary"):
            await lane.execute("PING")
        named["port"] = primary.port
        assert await lane.execute("SET", "k", "v") == "OK"
        direct = primary.client(db=DB)
        try:
            assert await direct.get("k") == "v"
        finally:
            await direct.aclose()
    finally:
        lane.close()


async def test_no_sentinel_answering_is_unavailable(tmp_path):
    """Sentinels configured but none reachable: every use fails as unavailable (503), not with another error."""
    cfg = RedisSettings(url="redis://127.0.0.1/0", sentinels=f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}",
                        sentinel_timeout=0.5, timeout=2.0)
    client = create_redis(cfg)
    lane = create_lane(cfg, client)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await client.ping()
        with pytest.raises(redis.exceptions.ConnectionError):
            await lane.execute("PING")
    finally:
        lane.close()
        await client.aclose()
