"""Hostile input on every route of the route table: generated (hypothesis) and a fixed list. Every answer is a
4xx with a message or a success, never a 5xx; a refused request leaves MariaDB and Redis as they were."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.security.hostile import HOSTILE, MEGABYTE, SETTINGS, assert_answered, encode, field_pairs, path_for
from tests.security.routes import ROUTES, Route

CALLS = [(route, method) for route in ROUTES for method in route.methods]


async def send(world, tally, snapshot, route: Route, method: str, path: str, pairs, *, who: str = "a",
               as_json: bool = False, kind: str = "fixed-list hostile requests") -> None:
    client = world.client(who)
    if who != "anon" and "sid" not in client.cookies:
        # A hostile POST to /user/logout ended the session: log in again (past the throttles this suite filled).
        await snapshot.redis.delete(*[k async for k in snapshot.redis.scan_iter(match=b"throttle:*")] or [b"-"])
        await client.login({"a": "shopper_a", "b": "shopper_b", "staff": "staff_01"}[who])
    url, body, headers = encode(route, method, path, pairs, as_json=as_json,
                                xsrf=client.xsrf if method not in ("GET", "HEAD") else None)
    if method not in ("GET", "HEAD") and not as_json and not route.exempt_from_xsrf:
        body = body + (b"&" if body else b"") + b"_xsrf=" + client.xsrf.encode()
    before = await snapshot.take()
    r = await client.request(method, url, body=body, headers=headers)
    tally.count(kind)
    assert_answered(method, r, route)
    if r.code >= 400:
        tally.count(f"{kind} refused with a 4xx")
        after = await snapshot.take()
        assert after == before, f"{method} {url[:200]} answered {r.code} but changed stored data"


@pytest.mark.parametrize("route,method", CALLS, ids=[f"{m} {r.pattern}" for r, m in CALLS])
@SETTINGS
@given(data=st.data())
async def test_generated_hostile_input(route, method, data, world, snapshot, tally):
    path = data.draw(path_for(route), label="path")
    pairs = data.draw(field_pairs(route), label="fields")
    who = data.draw(st.sampled_from(("anon", "a")), label="who")
    as_json = method == "POST" and data.draw(st.booleans(), label="json")
    if method == "GET" and data.draw(st.booleans(), label="head"):
        method = "HEAD"
    await send(world, tally, snapshot, route, method, path, pairs, who=who, as_json=as_json,
               kind="generated hostile requests")


@pytest.mark.parametrize("route,method", CALLS, ids=[f"{m} {r.pattern}" for r, m in CALLS])
async def test_fixed_hostile_list(route, method, world, snapshot, tally):
    path = route.fill(["1"] * len(route.groups))
    fields = list(route.fields) or ["x"]
    cases: list[tuple[list, bool]] = [([], False)]                                # every field missing
    cases += [([(f, value) for f in fields], False) for value in HOSTILE]         # each hostile value everywhere
    cases.append(([(f, v) for f in fields for v in ("1", "2")], False))           # every field repeated
    cases.append(([(f, "1") for f in fields] + [(fields[0], MEGABYTE)], False))   # a 1 MB field
    if method == "POST":
        cases.append(([(f, "1") for f in fields], True))                          # JSON where a form is expected
    for pairs, as_json in cases:
        if method == "GET" and pairs and len(pairs[-1][1]) > 10_000:
            pairs = pairs[:-1]  # a 1 MB query string is the 414 of test_hardening, not a handler's case
        await send(world, tally, snapshot, route, method, path, pairs, as_json=as_json)
