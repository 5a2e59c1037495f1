"""Async Alipay client: python-alipay-sdk signs and verifies (RSA2), Tornado's AsyncHTTPClient sends.

The SDK's own network calls (`server_api`, `api_alipay_trade_query`, ...) use blocking urllib and are never called
here. Everything this module needs from the configuration is in `AlipaySettings`; it imports nothing of the shop, so
the orders and payments domains call it, never the other way round.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from alipay import AliPay
from alipay.exceptions import AliPayException
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from fresh.settings import AlipaySettings, resolve_path

log = logging.getLogger("fresh.payments.alipay")

# Alipay stamps and reads every time in Beijing time, whatever the server's local zone is.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("100000000")

SUCCESS = "10000"
BUSINESS_FAILED = "40004"
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
PAID_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})


class AlipayError(Exception):
    """A gateway call did not produce a trustworthy answer."""

    def __init__(self, message: str, *, code: str = "", sub_code: str = "", sub_msg: str = ""):
        super().__init__(message)
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


class AlipayUnavailable(AlipayError):
    """The gateway could not be reached, timed out, answered a non-200 or 20000 (system busy): retry later."""


class AlipaySignatureError(AlipayError):
    """The answer is not signed by the Alipay key we trust (tampered, wrong key, or unsigned success)."""


class AlipayProtocolError(AlipayError):
    """The answer is not the expected JSON shape."""


class AlipayRejected(AlipayError):
    """The gateway refused the request itself (40001/40002/40006: bad app id, our signature, parameters).

    A configuration problem, not a business answer: retrying will not help.
    """


def beijing_now() -> datetime:
    return datetime.now(BEIJING)


def format_time(moment: datetime) -> str:
    """Format a datetime in Beijing time; a naive datetime is taken as this process's local time."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def format_amount(amount: Decimal | str) -> str:
    """Format yuan as the '12.50' string Alipay expects; refuse sub-cent, non-positive and oversized values."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if not value.is_finite() or value != value.quantize(CENT) or not (CENT <= value <= MAX_AMOUNT):
        raise ValueError(f"amount must be between 0.01 and 100000000 with at most 2 decimals: {amount!r}")
    return f"{value:.2f}"


def form_from_arguments(arguments: dict[str, list[bytes]]) -> dict[str, str]:
    """Decode a Tornado `request.body_arguments` / `query_arguments` dict for verify_notify/verify_return.

    Use this rather than `get_argument`, which strips whitespace and control characters: the signature covers the
    exact values, so a changed value fails verification. A repeated name or a non-UTF-8 value raises ValueError.
    """
    form = {}
    for name, values in arguments.items():
        if len(values) != 1:
            raise ValueError(f"parameter {name!r} given {len(values)} times")
        form[name] = values[0].decode("utf-8")
    return form


def is_paid(response: dict) -> bool:
    """Whether a verified query answer (or notify) says the trade is paid."""
    return response.get("trade_status") in PAID_STATUSES


def extract_signed_response(raw: str, response_key: str) -> tuple[str, dict, str | None]:
    """Return (exact raw text of `response_key`'s value, its parsed value, top-level `sign` or None).

    Alipay signs the bytes of the `*_response` value as it sent them (escapes such as `\\/` included), so the value is
    cut out of the raw text, never re-serialized. Walking the top-level object with the JSON decoder knows about
    strings, unlike a brace count that a `{` inside a string value would cut short.
    """
    decoder = json.JSONDecoder()
    ws = " \t\n\r"
    pos = len(raw) - len(raw.lstrip(ws))
    if raw[pos:pos + 1] != "{":
        raise AlipayProtocolError("gateway answer is not a JSON object")
    pos += 1
    members: dict[str, tuple[int, int, Any]] = {}
    try:
        while True:
            while raw[pos] in ws:
                pos += 1
            if raw[pos] == "}" and not members:
                break
            key, pos = decoder.raw_decode(raw, pos)
            while raw[pos] in ws:
                pos += 1
            if raw[pos] != ":" or not isinstance(key, str):
                raise ValueError("expected a key")
            pos += 1
            while raw[pos] in ws:
                pos += 1
            start = pos
            value, pos = decoder.raw_decode(raw, pos)
            if key in members:
                # Two copies of a key: which one a parser keeps is ambiguous, so trust neither.
                raise ValueError(f"duplicate key {key}")
            members[key] = (start, pos, value)
            while raw[pos] in ws:
                pos += 1
            if raw[pos] == ",":
                pos += 1
                continue
            if raw[pos] == "}":
                break
            raise ValueError("expected , or }")
    except (ValueError, IndexError) as exc:
        raise AlipayProtocolError(f"gateway answer is not valid JSON: {exc}") from None
    if raw[pos + 1:].strip(ws):
        raise AlipayProtocolError("trailing data after the gateway answer")
    sign = members.get("sign", (0, 0, None))[2]
    for key in (response_key, "error_response"):
        if key in members:
            start, end, value = members[key]
            if not isinstance(value, dict):
                raise AlipayProtocolError(f"{key} is not an object")
            return raw[start:end], value, sign if isinstance(sign, str) else None
    raise AlipayProtocolError(f"gateway answer has no {response_key}")


class AlipayClient:
    """Alipay open-platform client (RSA2). One per process; cheap calls, safe to share between coroutines."""

    def __init__(self, cfg: AlipaySettings, base_url: str = "", *, http_client: AsyncHTTPClient | None = None):
        self.cfg = cfg
        # The shop's public base URL, used to build default notify/return URLs by callers that want it.
        self.base_url = base_url.rstrip("/")
        self.gateway = cfg.gateway
        self.app_id = cfg.app_id
        self.seller_id = cfg.seller_id
        self._http = http_client
        try:
            private_pem = resolve_path(cfg.app_private_key).read_text()
            public_pem = resolve_path(cfg.alipay_public_key).read_text()
        except OSError as exc:
            raise AlipayError(f"cannot read Alipay key file ({exc}); run `python -m fresh keys` in development") \
                from None
        # The SDK is used only for its pure parts: build_body/sign_data (request signing) and verify (RSA2 check).
        self._sdk = AliPay(appid=cfg.app_id, app_notify_url=None, app_private_key_string=private_pem,
                           alipay_public_key_string=public_pem, sign_type="RSA2")

    # ---- requests -------------------------------------------------------------------------------------------

    def _signed_query(self, method: str, biz_content: dict, **common) -> str:
        # The SDK stamps datetime.now() (local time); Alipay wants Beijing time, so the timestamp is set here.
        data = self._sdk.build_body(method, biz_content, timestamp=format_time(beijing_now()), **common)
        return self._sdk.sign_data(data)

    def page_pay_url(self, *, out_trade_no: str, total_amount: Decimal, subject: str, return_url: str = "",
                     notify_url: str = "", time_expire: datetime | None = None, body: str = "") -> str:
        """Build the signed `alipay.trade.page.pay` URL that opens the cashier (no network)."""
        biz: dict[str, str] = {
            "out_trade_no": str(out_trade_no),
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "total_amount": format_amount(total_amount),
            "subject": subject[:256],
        }
        if body:
            biz["body"] = body[:128]
        if time_expire is not None:
            # An absolute deadline: timeout_express would restart each time the cashier page is reopened.
            biz["time_expire"] = format_time(time_expire)
        query = self._signed_query("alipay.trade.page.pay", biz, return_url=return_url, notify_url=notify_url)
        return f"{self.gateway}?{query}"

    async def _call(self, method: str, biz_content: dict) -> dict:
        """Send one signed API call, verify the answer on its raw text and return the inner `*_response` dict."""
        response_key = method.replace(".", "_") + "_response"
        url = f"{self.gateway}?{self._signed_query(method, biz_content)}"
        http = self._http or AsyncHTTPClient()
        request = HTTPRequest(url, method="GET", request_timeout=self.cfg.timeout, connect_timeout=self.cfg.timeout,
                              follow_redirects=False)
        try:
            response = await http.fetch(request)
        except HTTPClientError as exc:
            # 599 is Tornado's code for timeouts and connection failures.
            reason = "timed out" if exc.code == 599 else f"answered HTTP {exc.code}"
            raise AlipayUnavailable(f"Alipay gateway {reason} ({method}): {exc}") from None
        except (TimeoutError, OSError) as exc:
            raise AlipayUnavailable(f"Alipay gateway unreachable ({method}): {exc!r}") from None
        try:
            raw = response.body.decode("utf-8")
        except UnicodeDecodeError:
            raise AlipayProtocolError(f"gateway answer to {method} is not UTF-8") from None
        return self._verify_response(raw, response_key, method)

    def _verify_response(self, raw: str, response_key: str, method: str) -> dict:
        signed_text, inner, sign = extract_signed_response(raw, response_key)
        code = str(inner.get("code", ""))
        details = dict(code=code, sub_code=str(inner.get("sub_code", "")), sub_msg=str(inner.get("sub_msg", "")))
        if sign is None:
            # Gateway-level refusals (bad signature, unknown app id) come unsigned; nothing unsigned is success.
            if code and code != SUCCESS:
                raise self._error_for(code, method, details)
            raise AlipaySignatureError(f"unsigned answer to {method}", **details)
        try:
            valid = self._sdk._verify(signed_text, sign)
        except (ValueError, TypeError, AliPayException):
            valid = False
        if not valid:
            raise AlipaySignatureError(f"answer to {method} fails Alipay signature verification", **details)
        if code == SUCCESS or code == BUSINESS_FAILED:
            # 40004 is a signed business answer (ACQ.TRADE_NOT_EXIST, ACQ.TRADE_STATUS_ERROR, ...): the caller's call.
            return inner
        raise self._error_for(code, method, details)

    @staticmethod
    def _error_for(code: str, method: str, details: dict) -> AlipayError:
        text = f"Alipay refused {method}: {code} {details['sub_code']} {details['sub_msg']}".rstrip()
        if code == "20000":
            return AlipayUnavailable(text, **details)
        return AlipayRejected(text, **details)

    async def query(self, out_trade_no: str) -> dict:
        """`alipay.trade.query`: the verified answer. code 40004 + ACQ.TRADE_NOT_EXIST means "not paid yet"."""
        result = await self._call("alipay.trade.query", {"out_trade_no": str(out_trade_no)})
        self._check_same_trade(result, out_trade_no, "alipay.trade.query")
        return result

    async def close(self, out_trade_no: str) -> dict:
        """`alipay.trade.close`: code 10000 closed; 40004 ACQ.TRADE_NOT_EXIST never opened (nothing to close);
        40004 ACQ.TRADE_STATUS_ERROR paid or already closed (query to find out which)."""
        result = await self._call("alipay.trade.close", {"out_trade_no": str(out_trade_no)})
        self._check_same_trade(result, out_trade_no, "alipay.trade.close")
        return result

    async def refund(self, out_trade_no: str, refund_amount: Decimal, out_request_no: str, *,
                     refund_reason: str = "") -> dict:
        """`alipay.trade.refund`, idempotent per `out_request_no` (a replay answers fund_change "N")."""
        biz = {"out_trade_no": str(out_trade_no), "refund_amount": format_amount(refund_amount),
               "out_request_no": str(out_request_no)}
        if refund_reason:
            biz["refund_reason"] = refund_reason[:256]
        result = await self._call("alipay.trade.refund", biz)
        self._check_same_trade(result, out_trade_no, "alipay.trade.refund")
        return result

    @staticmethod
    def _check_same_trade(result: dict, out_trade_no: str, method: str) -> None:
        # A correctly signed answer about another trade (a replayed response) must not be taken for this one.
        answered = result.get("out_trade_no")
        if answered is not None and str(answered) != str(out_trade_no):
            raise AlipayProtocolError(f"{method} answered for trade {answered!r}, asked about {out_trade_no!r}")

    # ---- notify / return ------------------------------------------------------------------------------------

    def _verify_params(self, params: dict) -> bool:
        data = {str(k): v for k, v in params.items()}
        sign = data.pop("sign", None)
        sign_type = data.pop("sign_type", "RSA2")
        if not isinstance(sign, str) or not sign or sign_type != "RSA2":
            return False
        if not all(isinstance(v, str) for v in data.values()):
            return False
        try:
            return self._sdk.verify(data, sign)
        except (ValueError, TypeError, AliPayException):
            return False

    def verify_notify(self, form: dict[str, str]) -> bool:
        """Verify an async notify's signature (all fields but sign/sign_type, sorted) with the Alipay public key.

        `form` maps names to decoded str values (one value each). A valid signature is not the whole check: the
        caller still compares app_id, out_trade_no, total_amount (and seller_id) with its own records.
        """
        return self._verify_params(form)

    def verify_return(self, params: dict[str, str]) -> bool:
        """Verify the signed parameters Alipay appends to return_url (display only; the notify/query is the truth)."""
        return self._verify_params(params)


def parse_time(value: str) -> datetime | None:
    """Parse an Alipay 'yyyy-MM-dd HH:mm:ss' (Beijing) timestamp to an aware UTC datetime; None if malformed."""
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=BEIJING).astimezone(UTC)
    except (TypeError, ValueError):
        return None
