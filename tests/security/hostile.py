"""Hostile values and the checks every answer to them must pass."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.helpers import Response
from tests.security.routes import Route

# Wrong types, signs and sizes, other digits, control characters, markup, SQL, paths, JSON where text is meant.
HOSTILE = [
    "", " ", "0", "-1", "-0", "00", "1e30", "1" + "0" * 30, "NaN", "nan", "inf", "-inf", "0x1f", "1.5", "1,2",
    "1 2", " 7 ", "１", "١", "٣٤", "²", "\x00", "a\x00b", "\x01\x1f", "\x7f", "\r\nX-Injected: 1", "\u202e",
    "\ufeff", "😀", "𠀀" * 3, "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "' OR '1'='1",
    "1 OR 1=1", "1; DROP TABLE users; --", "1) UNION SELECT password_hash FROM users --", "../../../etc/passwd",
    "%00", "%ff", "[]", "{}", "null", "true", "[1,2]", '{"a": 1}', "a" * 5000, "9" * 19, "-9" * 10,
]
# 1 MB in one field: just under the body limit, so the handler (not the server) must cope.
MEGABYTE = "a" * (1024 * 1024 - 4096)

SETTINGS = settings(
    max_examples=25, deadline=None, database=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

text_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def field_pairs(route: Route):
    names = st.sampled_from((*route.fields, "x", "_xsrf")) if route.fields else st.sampled_from(("x", "_xsrf"))
    return st.lists(st.tuples(names, text_values), max_size=8)


def path_for(route: Route):
    """A path of the route: its groups drawn from their own regex, or hostile text quoted into them."""
    if not route.groups:
        return st.just(route.fill([]))
    group_values = [st.one_of(st.from_regex(group, fullmatch=True).filter(lambda v: "/" not in v),
                              st.sampled_from(HOSTILE).map(lambda v: quote(v, safe="")))
                    for group in route.groups]
    return st.tuples(*group_values).map(lambda values: route.fill([quote(v, safe="%") for v in values]))


def encode(route: Route, method: str, path: str, pairs: list[tuple[str, str]], *, as_json: bool, xsrf: str | None
           ) -> tuple[str, bytes | None, dict]:
    """(url path, body, headers) of a request carrying `pairs` the way a form (or a JSON client) would."""
    headers: dict[str, str] = {}
    if method in ("GET", "HEAD"):
        query = urlencode(pairs)
        return (f"{path}?{query}" if query else path), None, headers
    if xsrf is not None:
        headers["X-Xsrftoken"] = xsrf
    if as_json:
        headers["Content-Type"] = "application/json"
        return path, json.dumps(dict(pairs)).encode(), headers
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return path, urlencode(pairs).encode(), headers


def message(r: Response) -> str:
    """The refusal's message: the JSON `errmsg`, or the page."""
    if r.headers.get("Content-Type", "").startswith("application/json"):
        return r.json().get("errmsg", "")
    return r.text


_CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_answered(method: str, r: Response, route: Route | None = None) -> None:
    """Never a 5xx; a refusal (4xx) says why, in Chinese (JSON `errmsg` or the page). Alipay's notify answers in
    its protocol's words instead (`fail`)."""
    assert r.code < 500 and r.code != 599, r
    if route is not None and route.exempt_from_xsrf and r.code >= 400:
        assert r.text == "fail", r
        return
    if r.code >= 400 and method != "HEAD":
        assert _CJK.search(message(r)), r
