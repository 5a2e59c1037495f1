"""The Redis lane: one pipelined connection shared by concurrent callers, against the real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fresh.redis_client import Lane, create_lane
from tests.helpers import free_port, wait_until

ECHO_LUA = "return {KEYS[1], ARGV[1] + 0}"


@pytest.fixture
async def lane(settings):
    lane = create_lane(settings.redis)
    yield lane
    lane.close()


async def test_concurrent_callers_each_get_their_own_reply(lane, redis):
    replies = await asyncio.gather(*(lane.execute("INCRBY", f"lane:{i % 7}", i) for i in range(500)))
    # INCRBY answers the running total of its key: the replies for one key are distinct, and the largest is the
    # key's final value, the sum of every increment.
    for k in range(7):
        total = sum(i for i in range(500) if i % 7 == k)
        mine = [r for i, r in enumerate(replies) if i % 7 == k]
        assert int(await redis.get(f"lane:{k}")) == total == max(mine)
        assert len(set(mine)) == len(mine)
    echoed = await asyncio.gather(*(lane.execute("ECHO", f"m{i}") for i in range(300)))
    assert echoed == [f"m{i}" for i in range(300)]


async def test_uses_the_database_of_its_url(lane, redis):
    # The tests' Redis URL names database 15 (or FRESH_TEST_REDIS_DB), never 0.
    await lane.execute("SET", "lane:db", "here")
    assert await redis.get("lane:db") == "here"


async def test_error_replies_raise_without_desynchronising_the_rest(lane):
    await lane.execute("SET", "lane:str", "x")
    results = await asyncio.gather(
        lane.execute("ECHO", "before"), lane.execute("HGET", "lane:str", "f"), lane.execute("ECHO", "after"),
        return_exceptions=True,
    )
    assert results[0] == "before" and results[2] == "after"
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])


async def test_script_survives_a_script_flush(lane, redis):
    script = lane.register_script(ECHO_LUA)
    assert await script(keys=["k"], args=[41]) == ["k", 41]
    await redis.script_flush()
    assert await script(keys=["k2"], args=[42]) == ["k2", 42]  # NOSCRIPT, then EVAL, which caches it again
    assert await redis.script_exists(script.sha) == [True]


async def test_killed_connection_fails_its_callers_then_reconnects(lane, redis):
    client_id = await lane.execute("CLIENT", "ID")
    blocked = asyncio.ensure_future(lane.execute("BLPOP", "lane:never", 5))

    async def waiting_in_blpop() -> bool:
        [info] = await redis.client_list(client_id=[client_id])
        return info["cmd"] == "blpop"

    await wait_until(waiting_in_blpop, timeout=5)  # the command reached the server: it is killed mid-call
    await redis.execute_command("CLIENT", "KILL", "ID", client_id)
    with pytest.raises(RedisConnectionError):
        await blocked
    assert await lane.execute("ECHO", "again") == "again"
    assert await lane.execute("CLIENT", "ID") != client_id


async def test_overdue_reply_times_out_and_the_next_command_reconnects(settings):
    lane = Lane(settings.redis.url, timeout=0.3)
    try:
        first_id = await lane.execute("CLIENT", "ID")
        # BLPOP holds the connection past the timeout; what is queued behind it times out with it.
        blocked = asyncio.ensure_future(lane.execute("BLPOP", "lane:never", 2))
        behind = asyncio.ensure_future(lane.execute("ECHO", "queued"))
        with pytest.raises(RedisTimeoutError):
            await blocked
        with pytest.raises(RedisTimeoutError):
            await behind
        assert await lane.execute("ECHO", "fresh") == "fresh"
        assert await lane.execute("CLIENT", "ID") != first_id
    finally:
        lane.close()


async def test_unreachable_server_is_a_connection_error():
    lane = Lane(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(RedisConnectionError):
        await lane.execute("PING")
    lane.close()


async def test_hash_helpers_answer_like_redis_py(lane, redis):
    await redis.hset("lane:h", mapping={"a": "1", "b": "2"})
    assert await lane.hgetall("lane:h") == await redis.hgetall("lane:h") == {"a": "1", "b": "2"}
    assert await lane.hgetall("lane:missing") == {}
    assert await lane.hmget("lane:h", ["b", "zz", "a"]) == await redis.hmget("lane:h", ["b", "zz", "a"])
    assert await lane.hdel("lane:h", "a", "zz") == 1
    assert await redis.hgetall("lane:h") == {"b": "2"}


async def test_cancelled_caller_does_not_shift_the_replies(lane):
    slow = asyncio.ensure_future(lane.execute("ECHO", "cancelled"))
    slow.cancel()
    replies = await asyncio.gather(*(lane.execute("ECHO", f"r{i}") for i in range(20)))
    assert replies == [f"r{i}" for i in range(20)]
