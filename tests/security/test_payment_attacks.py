"""Attacks on the Alipay notify: forged and replayed notifies, changed amounts, wrong or missing app and seller,
unknown orders, and notifies for orders that must not become paid (cancelled, cash on delivery)."""

from __future__ import annotations

import pytest

from tests.fixtures.payments import order_row, signed_notify, unsigned
from tests.helpers import Client, count

NOTIFY = "/order/notify/alipay"


def _rsa2(key_path, params: dict) -> str:
    import base64

    from Cryptodome.Hash import SHA256
    from Cryptodome.PublicKey import RSA
    from Cryptodome.Signature import PKCS1_v1_5

    message = "&".join(f"{k}={v}" for k, v in sorted(params.items())).encode()
    key = RSA.import_key(key_path.read_bytes())
    return base64.b64encode(PKCS1_v1_5.new(key).sign(SHA256.new(message))).decode()


async def _refused(shop, pool, order_id, form, *, status: int = 1, code: int = 400) -> None:
    before = await count(pool, "order_events", "order_id=%s", (order_id,))
    r = await Client(shop.base_url).post(NOTIFY, form, xsrf=False)
    assert r.code == code and r.text == "fail", r
    row = await order_row(pool, order_id)
    assert row["order_status"] == status and row["trade_no"] is None
    assert await count(pool, "order_events", "order_id=%s", (order_id,)) == before


@pytest.mark.parametrize("case", ["tampered_after_signing", "signed_by_another_key", "sign_removed",
                                  "changed_amount", "wrong_app_id", "wrong_seller_id", "missing_seller_id",
                                  "unknown_order"])
async def test_bad_notifies_are_refused_and_change_nothing(shop, order, pool, sandbox, keys_dir, case,
                                                          tally):
    order_id = order["order_id"]
    good = unsigned(signed_notify(sandbox, order_id))
    if case == "tampered_after_signing":
        form = {**signed_notify(sandbox, order_id), "total_amount": "0.01"}
    elif case == "signed_by_another_key":
        # A valid RSA2 signature by the wrong party (the shop's own key, which an insider might hold).
        form = {**good, "sign_type": "RSA2", "sign": _rsa2(keys_dir / "app_private.pem", good)}
    elif case == "sign_removed":
        form = good
    elif case == "changed_amount":
        form = sandbox.signed_params({**good, "total_amount": "0.01"})
    elif case == "wrong_app_id":
        form = sandbox.signed_params({**good, "app_id": "2021999999999999"})
    elif case == "wrong_seller_id":
        form = sandbox.signed_params({**good, "seller_id": "2088999999999999"})
    elif case == "missing_seller_id":
        # Signed by the gateway but without seller_id: the check must not be skipped when the field is absent.
        form = sandbox.signed_params({k: v for k, v in good.items() if k != "seller_id"})
    else:
        form = sandbox.signed_params({**good, "out_trade_no": "20260101000000999deadbeefdeadbeef"})
    tally.count("payment attack notifies")
    # A notify that verifies but names no order of the shop's is a 404; every other refusal a 400.
    await _refused(shop, pool, order_id, form, code=404 if case == "unknown_order" else 400)


async def test_replayed_notify_records_one_payment(shop, order, pool, sandbox, tally):
    order_id = order["order_id"]
    form = signed_notify(sandbox, order_id)
    for _ in range(5):
        r = await Client(shop.base_url).post(NOTIFY, form, xsrf=False)
        tally.count("payment attack notifies")
        assert r.code == 200 and r.text == "success"
    assert await count(pool, "order_events", "order_id=%s AND to_status=2", (order_id,)) == 1
    # Replayed under another order's number it no longer verifies.
    other = {**form, "out_trade_no": order_id[:-1] + ("0" if order_id[-1] != "0" else "1")}
    r = await Client(shop.base_url).post(NOTIFY, other, xsrf=False)
    assert r.code == 400 and r.text == "fail"


async def test_notify_for_a_cancelled_order_does_not_reopen_it(shop, order, pool, sandbox, tally):
    order_id = order["order_id"]
    r = await order["buyer"]["client"].post("/order/cancel", {"order_id": order_id}, ajax=True)
    assert r.code == 200, r
    r = await Client(shop.base_url).post(NOTIFY, signed_notify(sandbox, order_id), xsrf=False)
    tally.count("payment attack notifies")
    # Acknowledged (Alipay would retry otherwise): the money is recorded against the closed order, for a refund.
    assert r.code == 200 and r.text == "success", r
    row = await order_row(pool, order_id)
    assert row["order_status"] == 6  # still cancelled; the money is left for a refund, the order is not paid


async def test_notify_for_a_cash_on_delivery_order_is_refused(shop, catalog, make_buyer, pool, sandbox,
                                                              tally):
    sku = await catalog(price="10.50", stock=5)
    buyer = await make_buyer("cod_buyer", {sku: 2}, shop.base_url)
    r = await buyer["client"].post("/order/commit", {"addr_id": str(buyer["addr_id"]), "pay_method": "1",
                                                     "sku_ids": str(sku)}, ajax=True)
    assert r.code == 200, r
    order_id = r.json()["order_id"]
    status = (await order_row(pool, order_id))["order_status"]
    tally.count("payment attack notifies")
    await _refused(shop, pool, order_id, signed_notify(sandbox, order_id), status=status)
