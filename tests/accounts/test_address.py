"""The address book: validation, one default, ownership."""

from __future__ import annotations

import asyncio

import pytest

from fresh.accounts import addresses
from tests.helpers import add_address, count, create_user

GOOD = {"receiver": "王五", "addr": "广州市天河区体育西路1号", "zip_code": "510620", "phone": "13600000000"}


@pytest.mark.parametrize("field,value,message", [
    ("receiver", "", "请填写收件人"),
    ("addr", "", "请填写详细地址"),
    ("zip_code", "12345", "邮编应为6位数字"),
    ("zip_code", "abcdef", "邮编应为6位数字"),
    ("phone", "1380013800", "手机格式不正确"),
    ("phone", "2380013800x", "手机格式不正确"),
    ("receiver", "名" * 21, "收件人最多20个字"),
])
async def test_bad_fields(user_client, pool, field, value, message):
    r = await user_client.post("/user/address", dict(GOOD, **{field: value}))
    assert r.code == 400 and message in r.text
    assert await count(pool, "addresses") == 0


async def test_first_is_default_and_new_default_replaces_it(user_client, pool, user):
    assert (await user_client.post("/user/address", GOOD)).code == 302
    assert (await user_client.post("/user/address", dict(GOOD, receiver="赵六"))).code == 302
    rows = await addresses.list_addresses(pool, user["id"])
    assert [r["receiver"] for r in rows if r["is_default"]] == ["王五"]
    assert (await user_client.post("/user/address", dict(GOOD, receiver="孙七", is_default="on"))).code == 302
    rows = await addresses.list_addresses(pool, user["id"])
    assert [r["receiver"] for r in rows if r["is_default"]] == ["孙七"]
    r = await user_client.get("/user/address")
    assert "孙七 收" in r.text


async def test_concurrent_first_addresses_make_one_default(pool, user):
    await asyncio.gather(*(add_address(pool, user["id"], default=False, receiver=f"r{i}") for i in range(8)))
    assert await count(pool, "addresses", "user_id=%s AND is_default=1", (user["id"],)) == 1


async def test_set_default_of_another_users_address_is_404(user_client, pool, settings, user):
    other = await create_user(pool, settings, "mallory1")
    theirs = await add_address(pool, other)
    mine = await add_address(pool, user["id"])
    r = await user_client.post("/user/address/default", {"addr_id": str(theirs)})
    assert r.code == 404
    assert (await addresses.get_default_address(pool, other))["id"] == theirs
    assert (await addresses.get_default_address(pool, user["id"]))["id"] == mine
    r = await user_client.post("/user/address/default", {"addr_id": "abc"})
    assert r.code == 400


async def test_anonymous_post_is_refused(client, pool):
    r = await client.post("/user/address", GOOD)
    assert r.code == 401
    assert await count(pool, "addresses") == 0
