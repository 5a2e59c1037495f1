"""The Alipay client against the local sandbox gateway, over real HTTP."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient

from fresh.keys import ensure_dev_keys
from fresh.payments import alipay as alipay_mod
from fresh.payments.alipay import (
    AlipayClient,
    AlipayProtocolError,
    AlipayRejected,
    AlipaySignatureError,
    AlipayUnavailable,
    beijing_now,
    extract_signed_response,
    format_amount,
)
from tests.helpers import AppServer, free_port
from tests.payments.conftest import alipay_settings

NOTIFY_FIELDS = {"notify_time", "notify_type", "notify_id", "app_id", "auth_app_id", "charset", "version",
                 "sign_type", "sign", "trade_no", "out_trade_no", "buyer_id", "seller_id", "trade_status",
                 "total_amount", "receipt_amount", "invoice_amount", "buyer_pay_amount", "point_amount", "subject",
                 "gmt_create", "gmt_payment", "fund_bill_list"}


def pay_url(client: AlipayClient, receiver=None, no="202601010000001", amount="12.50", *, subject="", **kwargs) -> str:
    return client.page_pay_url(out_trade_no=no, total_amount=Decimal(amount), subject=subject or "天天生鲜-订单" + no,
                               return_url=receiver.return_url if receiver else "",
                               notify_url=receiver.url if receiver else "", **kwargs)


async def paid_trade(alipay, receiver, buyer, no="202601010000001", amount="12.50"):
    page = await buyer.open(pay_url(alipay, receiver, no, amount))
    assert page.code == 200
    done = await buyer.confirm(page)
    assert done.code == 302
    return done


async def test_page_pay_url_opens_cashier(alipay, buyer):
    url = pay_url(alipay, no="202601010000042", amount="1234.5")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["method"] == "alipay.trade.page.pay" and params["sign_type"] == "RSA2"
    biz = json.loads(params["biz_content"])
    assert biz["total_amount"] == "1234.50" and biz["product_code"] == "FAST_INSTANT_TRADE_PAY"
    stamp = alipay_mod.parse_time(params["timestamp"])
    # Stamped in Beijing time whatever the local zone: read back as Beijing it is (about) now.
    assert abs(stamp - beijing_now()) < timedelta(minutes=5)

    page = await buyer.open(url)
    html = page.body.decode()
    assert page.code == 200
    for text in ("收银台", "订单号", "202601010000042", "金额", "1234.50", "确认付款", "取消"):
        assert text in html


async def test_query_before_open_after_open_after_confirm(alipay, receiver, buyer):
    no = "202601010000002"
    before = await alipay.query(no)
    assert (before["code"], before["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert not alipay_mod.is_paid(before)

    # "/" comes back escaped as "\/" and "}" sits inside a string: verification must use the raw text.
    page = await buyer.open(pay_url(alipay, receiver, no, subject='草莓 1/2kg {特价} "新鲜"'))
    waiting = await alipay.query(no)
    assert (waiting["code"], waiting["trade_status"]) == ("10000", "WAIT_BUYER_PAY")
    assert waiting["subject"] == '草莓 1/2kg {特价} "新鲜"'

    await buyer.confirm(page)
    paid = await alipay.query(no)
    assert paid["code"] == "10000" and alipay_mod.is_paid(paid)
    assert paid["trade_status"] == "TRADE_SUCCESS" and paid["total_amount"] == "12.50"
    assert paid["out_trade_no"] == no and paid["trade_no"] == waiting["trade_no"] and paid["send_pay_date"]


async def test_confirm_notifies_signed_and_redirects_signed(alipay, receiver, buyer, sandbox):
    no = "202601010000003"
    subject = " 鲜橙 {2件} 1/2kg "  # edge spaces, braces, slash: all must survive into the signed notify
    page = await buyer.open(pay_url(alipay, receiver, no, "88.80", subject=subject))
    done = await buyer.confirm(page)
    assert done.code == 302
    (delivery,) = await receiver.wait_for(1)
    form = delivery["form"]
    assert delivery["content_type"].startswith("application/x-www-form-urlencoded")
    assert NOTIFY_FIELDS <= set(form)
    assert alipay.verify_notify(form)
    assert form["notify_type"] == "trade_status_sync" and form["trade_status"] == "TRADE_SUCCESS"
    assert form["app_id"] == alipay.app_id and form["seller_id"] == alipay.seller_id
    assert form["out_trade_no"] == no and Decimal(form["total_amount"]) == Decimal("88.80")
    assert form["subject"] == subject

    location = done.headers["Location"]
    assert location.startswith(receiver.return_url + "&")
    back = dict(parse_qsl(urlsplit(location).query))
    assert back.pop("from") == "alipay"
    assert back["method"] == "alipay.trade.page.pay.return" and back["out_trade_no"] == no
    assert back["trade_no"] == form["trade_no"] and back["total_amount"] == "88.80"
    assert alipay.verify_return(back)
    assert not alipay.verify_return({**back, "total_amount": "0.01"})

    # A second click (or a reload of the POST) redirects again but pays and notifies nothing more.
    again = await buyer.confirm(page)
    assert again.code == 302
    await sandbox.wait_idle()
    assert len(receiver.notifies) == 1


async def test_notify_retried_until_success(alipay, receiver, buyer, sandbox):
    receiver.answers.extend(["fail", "success\n"])  # anything but the exact body `success` is a failure
    await paid_trade(alipay, receiver, buyer)
    await receiver.wait_for(3)
    await sandbox.wait_idle()
    assert len(receiver.notifies) == 3
    ids = {d["form"]["notify_id"] for d in receiver.notifies}
    assert len(ids) == 1 and all(alipay.verify_notify(d["form"]) for d in receiver.notifies)
    assert [e["ok"] for e in sandbox.notify_log] == [False, False, True]


async def test_notify_gives_up_after_schedule(alipay, receiver, buyer, sandbox):
    sandbox.notify_schedule = [0.02, 0.02]
    receiver.answers.extend(["fail"] * 10)
    await paid_trade(alipay, receiver, buyer)
    await sandbox.wait_idle()
    assert len(receiver.notifies) == 3


async def test_drop_notifies_knob(alipay, receiver, buyer, sandbox):
    sandbox.drop_notifies = True
    await paid_trade(alipay, receiver, buyer)
    await sandbox.wait_idle()
    assert receiver.notifies == []
    assert (await alipay.query("202601010000001"))["trade_status"] == "TRADE_SUCCESS"


async def test_duplicate_and_delayed_notifies_knobs(alipay, receiver, buyer, sandbox):
    sandbox.duplicate_notifies = True
    sandbox.notify_delay = 0.1
    await paid_trade(alipay, receiver, buyer)
    await receiver.wait_for(2)
    await sandbox.wait_idle()
    assert len(receiver.notifies) == 2
    first, second = (d["form"] for d in receiver.notifies)
    assert first == second and alipay.verify_notify(first)


async def test_forged_notify_rejected(alipay, receiver, buyer):
    await paid_trade(alipay, receiver, buyer)
    (delivery,) = await receiver.wait_for(1)
    form = delivery["form"]
    assert alipay.verify_notify(form)
    assert alipay.verify_notify(dict(form)) and form == delivery["form"]  # never mutates the caller's dict
    assert not alipay.verify_notify({**form, "total_amount": "0.01"})
    assert not alipay.verify_notify({**form, "trade_status": "TRADE_FINISHED"})
    assert not alipay.verify_notify({**form, "extra": "1"})
    assert not alipay.verify_notify({k: v for k, v in form.items() if k != "sign"})
    assert not alipay.verify_notify({**form, "sign": "not base64!"})
    assert not alipay.verify_notify({**form, "sign_type": "RSA"})


async def test_close_shapes(alipay, receiver, buyer, sandbox):
    unknown = await alipay.close("202601010000009")
    assert (unknown["code"], unknown["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")

    no = "202601010000010"
    page = await buyer.open(pay_url(alipay, receiver, no))
    closed = await alipay.close(no)
    assert closed["code"] == "10000" and closed["out_trade_no"] == no and closed["trade_no"]
    assert (await alipay.query(no))["trade_status"] == "TRADE_CLOSED"
    (delivery,) = await receiver.wait_for(1)  # Alipay notifies closes too
    assert delivery["form"]["trade_status"] == "TRADE_CLOSED" and alipay.verify_notify(delivery["form"])

    refused = await buyer.confirm(page)
    assert refused.code == 409 and "交易已关闭" in refused.body.decode()
    reopened = await buyer.open(pay_url(alipay, receiver, no))
    assert "交易已关闭" in reopened.body.decode() and "确认付款" not in reopened.body.decode()

    await paid_trade(alipay, receiver, buyer, "202601010000011")
    paid = await alipay.close("202601010000011")
    assert (paid["code"], paid["sub_code"]) == ("40004", "ACQ.TRADE_STATUS_ERROR")
    assert (await alipay.query("202601010000011"))["trade_status"] == "TRADE_SUCCESS"


async def test_refund_shapes(alipay, receiver, buyer, sandbox):
    no = "202601010000020"
    unknown = await alipay.refund(no, Decimal("1.00"), "r1")
    assert unknown["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    await buyer.open(pay_url(alipay, receiver, no, "30.00"))
    unpaid = await alipay.refund(no, Decimal("1.00"), "r1")
    assert unpaid["sub_code"] == "ACQ.TRADE_STATUS_ERROR"

    await paid_trade(alipay, receiver, buyer, no, "30.00")
    part = await alipay.refund(no, Decimal("10.00"), "r1")
    assert (part["code"], part["fund_change"], part["refund_fee"]) == ("10000", "Y", "10.00")
    replay = await alipay.refund(no, Decimal("10.00"), "r1")
    assert (replay["code"], replay["fund_change"], replay["refund_fee"]) == ("10000", "N", "10.00")
    too_much = await alipay.refund(no, Decimal("20.01"), "r2")
    assert too_much["sub_code"] == "ACQ.REASON_TRADE_REFUND_FEE_ERR"
    assert (await alipay.query(no))["trade_status"] == "TRADE_SUCCESS"

    rest = await alipay.refund(no, Decimal("20.00"), "r2")
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "30.00")
    assert (await alipay.query(no))["trade_status"] == "TRADE_CLOSED"
    await sandbox.wait_idle()
    refunds = [d["form"] for d in receiver.notifies if "out_biz_no" in d["form"]]
    assert [(f["out_biz_no"], f["refund_fee"], f["trade_status"]) for f in refunds] == [
        ("r1", "10.00", "TRADE_SUCCESS"), ("r2", "30.00", "TRADE_CLOSED")]
    assert all(alipay.verify_notify(f) for f in refunds)


async def test_expired_time_expire_refuses_cashier(alipay, receiver, buyer):
    no = "202601010000030"
    page = await buyer.open(pay_url(alipay, receiver, no, time_expire=beijing_now() - timedelta(minutes=1)))
    html = page.body.decode()
    assert "交易已关闭" in html and "确认付款" not in html
    assert (await alipay.query(no))["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    fine = await buyer.open(pay_url(alipay, receiver, "202601010000031",
                                    time_expire=beijing_now() + timedelta(minutes=30)))
    assert "确认付款" in fine.body.decode() and "支付期限" in fine.body.decode()


async def test_cashier_confirm_needs_the_page_token(alipay, receiver, buyer, sandbox):
    page = await buyer.open(pay_url(alipay, receiver))
    forged = await buyer.confirm(page, token="guessed")
    assert forged.code == 403
    assert (await alipay.query("202601010000001"))["trade_status"] == "WAIT_BUYER_PAY"
    cancel = await buyer.open(f"http://127.0.0.1:{sandbox.port}/cashier/202601010000001/cancel")
    assert cancel.code == 200 and "已取消付款" in cancel.body.decode()
    assert (await alipay.query("202601010000001"))["trade_status"] == "WAIT_BUYER_PAY"
    await sandbox.wait_idle()
    assert receiver.notifies == []


async def test_same_trade_with_other_amount_refused(alipay, receiver, buyer):
    await buyer.open(pay_url(alipay, receiver, amount="10.00"))
    other = await buyer.open(pay_url(alipay, receiver, amount="0.01"))
    assert other.code == 409 and "确认付款" not in other.body.decode()


async def test_request_signed_with_wrong_key_rejected(alipay, keys_dir, sandbox, tmp_path):
    ensure_dev_keys(tmp_path)
    intruder_key = str(tmp_path / "app_private.pem")
    intruder = AlipayClient(alipay_settings(keys_dir, sandbox.gateway, app_private_key=intruder_key))
    with pytest.raises(AlipayRejected) as info:
        await intruder.query("202601010000001")
    assert (info.value.code, info.value.sub_code) == ("40002", "isv.invalid-signature")

    raw = await AsyncHTTPClient().fetch(intruder.page_pay_url(out_trade_no="1", total_amount=Decimal("1"),
                                                              subject="x"), raise_error=False)
    assert raw.code == 400 and "isv.invalid-signature" in raw.body.decode()

    other_app = AlipayClient(alipay_settings(keys_dir, sandbox.gateway, app_id="2021999999999999"))
    with pytest.raises(AlipayRejected) as info:
        await other_app.query("202601010000001")
    assert info.value.sub_code == "isv.invalid-app-id"


async def test_local_time_stamp_rejected(alipay, sandbox):
    # What the SDK does by default (datetime.now() on a non-Beijing host) is refused by the gateway.
    data = alipay._sdk.build_body("alipay.trade.query", {"out_trade_no": "1"},
                                  timestamp=alipay_mod.format_time(beijing_now() - timedelta(hours=8)))
    raw = await AsyncHTTPClient().fetch(f"{sandbox.gateway}?{alipay._sdk.sign_data(data)}")
    answer = json.loads(raw.body)
    assert answer["alipay_trade_query_response"]["sub_code"] == "isv.invalid-timestamp" and "sign" not in answer


async def test_gateway_missing_params_answers_error_shape(sandbox):
    raw = await AsyncHTTPClient().fetch(sandbox.gateway)
    assert json.loads(raw.body)["error_response"]["code"] == "40001"


async def test_response_signed_by_other_key_rejected(keys_dir, sandbox):
    # Trusting the wrong public key (here the app's own) must fail verification, never pass the answer on.
    wrong = AlipayClient(alipay_settings(keys_dir, sandbox.gateway, alipay_public_key=str(keys_dir / "app_public.pem")))
    with pytest.raises(AlipaySignatureError):
        await wrong.query("202601010000001")


class TamperingProxy(tornado.web.RequestHandler):
    async def get(self) -> None:
        upstream = await AsyncHTTPClient().fetch(self.application.upstream + "?" + self.request.query)
        self.write(upstream.body.replace(b"WAIT_BUYER_PAY", b"TRADE_SUCCESS"))


async def test_tampered_response_body_raises(keys_dir, alipay, receiver, buyer, sandbox):
    app = tornado.web.Application([(r"/gateway.do", TamperingProxy)])
    app.upstream = sandbox.gateway
    async with AppServer() as proxy:
        proxy.serve(app)
        via_proxy = AlipayClient(alipay_settings(keys_dir, f"{proxy.url}/gateway.do"))
        await buyer.open(pay_url(alipay, receiver))
        with pytest.raises(AlipaySignatureError):
            await via_proxy.query("202601010000001")
        assert (await alipay.query("202601010000001"))["trade_status"] == "WAIT_BUYER_PAY"


async def test_gateway_down_is_a_quick_clear_error(keys_dir):
    down = AlipayClient(alipay_settings(keys_dir, f"http://127.0.0.1:{free_port()}/gateway.do"))
    with pytest.raises(AlipayUnavailable):
        await down.query("1")


async def test_gateway_silent_times_out(keys_dir):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (kernel backlog) but never answers
    try:
        port = silent.getsockname()[1]
        slow = AlipayClient(alipay_settings(keys_dir, f"http://127.0.0.1:{port}/gateway.do", timeout=0.3))
        started = time.monotonic()
        with pytest.raises(AlipayUnavailable, match="timed out"):
            await slow.query("1")
        assert time.monotonic() - started < 30  # a bound against hanging, not a timing claim
    finally:
        silent.close()


def test_extract_signed_response_is_string_aware():
    inner = '{"code":"10000","subject":"苹果 }{ 1\\/2kg \\"特价\\"","n":{"a":[1,{"b":"}"}]}}'
    raw = f' {{"alipay_trade_query_response" : {inner} ,\n "sign":"abc"}}'
    text, value, sign = extract_signed_response(raw, "alipay_trade_query_response")
    assert text == inner and sign == "abc" and value["subject"] == '苹果 }{ 1/2kg "特价"'
    for bad in ("[]", '{"x":1', '{"alipay_trade_query_response":{}}}', '{"sign":"a"}',
                '{"alipay_trade_query_response":{},"alipay_trade_query_response":{}}'):
        with pytest.raises(AlipayProtocolError):
            extract_signed_response(bad, "alipay_trade_query_response")


def test_form_from_arguments_keeps_exact_values():
    form = alipay_mod.form_from_arguments({"subject": [" 草莓 ".encode()], "a": [b""]})
    assert form == {"subject": " 草莓 ", "a": ""}
    for bad in ({"a": [b"1", b"2"]}, {"a": [b"\xff"]}):
        with pytest.raises(ValueError):
            alipay_mod.form_from_arguments(bad)


def test_format_amount():
    assert format_amount(Decimal("12.5")) == "12.50" and format_amount("0.01") == "0.01"
    for bad in (Decimal("0"), Decimal("-1"), Decimal("0.001"), Decimal("NaN"), "abc", Decimal("100000000.01")):
        with pytest.raises(ValueError):
            format_amount(bad)
