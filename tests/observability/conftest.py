"""Observability fixtures: a capture of every log record, /metrics read through prometheus-client's parser, and one
order placed and paid through the session's shop and sandbox gateway."""

from __future__ import annotations

import json
import logging
import secrets

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fresh import db, logs
from fresh.cart.cart import AddRes
from fresh.payments.pay import PayRes
from tests.fixtures.payments import Buyer

Series = tuple[str, tuple]


class Capture(logging.Handler):
    """Keeps every record the process writes (at DEBUG and above) while a test runs."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> list[logging.LogRecord]:
        return self.records[mark:]

    def lines(self, fmt: str, records: list[logging.LogRecord] | None = None) -> list[str]:
        formatter = logs.make_formatter(fmt)
        return [formatter.format(r) for r in (self.records if records is None else records)]


@pytest.fixture
def captured():
    """Every log record of the process during the test, the root logger opened to DEBUG."""
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def scrape(client) -> dict[Series, float]:
    """Every sample of /metrics: (sample name, sorted labels) -> value."""
    r = await client.get("/metrics")
    assert r.code == 200, r
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def series(name: str, **labels) -> Series:
    return name, tuple(sorted(labels.items()))


def moved(before: dict[Series, float], after: dict[Series, float], *prefixes: str) -> dict[Series, float]:
    """The series starting with one of `prefixes` whose value changed, with the change."""
    out = {}
    for key in set(before) | set(after):
        if key[0].startswith(prefixes):
            change = after.get(key, 0.0) - before.get(key, 0.0)
            if change:
                out[key] = change
    return out


def json_lines(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


async def place_order(client, buyer: dict, sku: int, *, count: int = 2, headers: dict | None = None):
    """Add `count` of `sku` to the cart over HTTP and commit it (Alipay); the commit's response."""
    added = await client.post("/cart/add", {"sku_id": str(sku), "count": str(count)}, ajax=True)
    assert added.code == 200 and added.json()["res"] == AddRes.OK, added
    return await client.post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "3",
                                               "sku_ids": str(sku), "idem_key": secrets.token_hex(8)},
                             ajax=True, headers=headers)


async def pay(client, order_id: str):
    """Pay the order on the sandbox cashier; the cashier's redirect (to the signed return URL)."""
    r = await client.post("/order/pay", {"order_id": order_id}, ajax=True)
    assert r.code == 200 and r.json()["res"] == PayRes.GO, r
    browser = Buyer()
    cashier = await browser.open(r.json()["pay_url"])
    assert cashier.code == 200, cashier
    done = await browser.confirm(cashier)
    assert done.code == 302, done
    return done


async def order_status(pool, order_id: str) -> int:
    row = await db.fetchone(pool, "SELECT order_status FROM order_info WHERE order_id=%s", (order_id,))
    return row["order_status"]
