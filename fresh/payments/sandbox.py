"""Local Alipay gateway simulator: an outside party with its own port and RSA2 key that only speaks the protocol.

It imports nothing of the shop (only settings and the dev-key generator). Trades live in memory, keyed by
out_trade_no. `GET/POST /gateway.do` checks app_id, timestamp and the merchant's RSA2 signature on every call, then:
`alipay.trade.page.pay` opens a cashier page (收银台); `alipay.trade.query`, `.close`, `.refund` answer signed JSON of
the real shape. 确认付款 marks the trade paid, redirects the browser to return_url with signed parameters and sends
the signed async notify in the background, retrying on anything but the body `success`.

Run alone: `python -m fresh.payments.sandbox` (or the shop's `app.py --with-sandbox`).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hmac
import json
import logging
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit

import tornado.web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.template import Template

from fresh.keys import ensure_dev_keys
from fresh.settings import SandboxSettings, Settings, load_settings, resolve_path

log = logging.getLogger("fresh.payments.sandbox")

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Alipay refuses request timestamps far from its clock (isv.invalid-timestamp); this also catches a shop that
# stamps its local time instead of Beijing time.
TIMESTAMP_SKEW = timedelta(minutes=30)
NOTIFY_TIMEOUT = 10.0
CENT = Decimal("0.01")
COMMON_REQUIRED = ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version")
API_METHODS = ("alipay.trade.query", "alipay.trade.close", "alipay.trade.refund")

WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED = "WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_CLOSED"


def now_beijing() -> datetime:
    return datetime.now(BEIJING)


def fmt(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_beijing(value: str) -> datetime | None:
    for pattern in (TIME_FORMAT, "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=BEIJING)
        except (TypeError, ValueError):
            continue
    return None


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def parse_money(value) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount != amount.quantize(CENT) or not (CENT <= amount <= Decimal("100000000")):
        return None
    return amount


def sign_content(params: dict[str, str], *, exclude: tuple[str, ...]) -> str:
    """The string Alipay signs: sorted `k=v` pairs joined by `&`, raw values, minus the excluded names."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude)


@dataclass
class Trade:
    out_trade_no: str
    trade_no: str
    total_amount: Decimal
    subject: str
    body: str
    notify_url: str
    return_url: str
    time_expire: datetime | None
    gmt_create: datetime
    status: str = WAIT_BUYER_PAY
    gmt_payment: datetime | None = None
    gmt_close: datetime | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    refunds: dict[str, Decimal] = field(default_factory=dict)
    buyer_id: str = "2088102177846880"
    buyer_logon_id: str = "sbx***@sandbox.com"

    @property
    def refund_fee(self) -> Decimal:
        return sum(self.refunds.values(), Decimal("0.00"))

    def expired(self, moment: datetime) -> bool:
        return self.time_expire is not None and moment >= self.time_expire


class GatewayError(Exception):
    """A gateway-level refusal (unsigned answer, like Alipay's for a bad signature or app id)."""

    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str):
        super().__init__(sub_msg)
        self.payload = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def missing(name: str) -> GatewayError:
    return GatewayError("40001", "Missing Required Arguments", f"isv.missing-{name.replace('_', '-')}",
                        f"缺少{name}参数")


def invalid(sub_code: str, sub_msg: str) -> GatewayError:
    return GatewayError("40002", "Invalid Arguments", sub_code, sub_msg)


def business(sub_code: str, sub_msg: str, **extra) -> dict:
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg, **extra}


class SandboxApp(tornado.web.Application):
    """The simulator. Test knobs are plain attributes, settable at runtime:
    `drop_notifies`, `duplicate_notifies`, `notify_delay`, `notify_schedule` (list of seconds between attempts),
    `failing_trades` (out_trade_nos whose query/close/refund calls answer 20000 系统繁忙, as during an outage).
    Test actions: `force_pay(out_trade_no)` (the money arrives whatever the trade's state, as when a payment and a
    close cross inside Alipay), `refund_from_back_office(out_trade_no, amount)` (a refund made in Alipay's own
    console). `calls` counts API calls per (method, out_trade_no)."""

    def __init__(self, cfg: SandboxSettings, *, debug: bool = False):
        super().__init__(
            [
                tornado.web.url(r"/gateway\.do", GatewayHandler, name="gateway"),
                tornado.web.url(r"/cashier/([A-Za-z0-9_]{1,64})/pay", ConfirmHandler, name="confirm"),
                tornado.web.url(r"/cashier/([A-Za-z0-9_]{1,64})/cancel", CancelHandler, name="cancel"),
            ],
            debug=debug,
        )
        self.cfg = cfg
        self.private_key, self.app_public_key = load_keys(cfg)
        self.trades: dict[str, Trade] = {}
        self.drop_notifies = cfg.drop_notifies
        self.duplicate_notifies = cfg.duplicate_notifies
        self.notify_delay = cfg.notify_delay
        self.notify_schedule = parse_schedule(cfg.notify_schedule)
        self.notify_timeout = NOTIFY_TIMEOUT
        # One entry per delivery attempt: {out_trade_no, trade_status, notify_id, attempt, code, body, ok}.
        self.notify_log: deque[dict] = deque(maxlen=10000)
        self.failing_trades: set[str] = set()
        self.calls: Counter[tuple[str, str]] = Counter()
        self._tasks: set[asyncio.Task] = set()
        self._seq = 0

    # ---- keys --------------------------------------------------------------------------------------------

    def sign(self, content: str) -> str:
        signature = self.private_key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verify_merchant(self, content: str, sign: str) -> bool:
        try:
            signature = base64.b64decode(sign, validate=True)
            self.app_public_key.verify(signature, content.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def signed_json(self, response_key: str, inner: dict, *, signed: bool = True) -> str:
        # Alipay escapes "/" in its answers; a client that re-serializes instead of verifying the raw text fails.
        text = json.dumps(inner, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")
        if not signed:
            return f'{{"{response_key}":{text}}}'
        return f'{{"{response_key}":{text},"sign":"{self.sign(text)}"}}'

    def signed_params(self, params: dict[str, str]) -> dict[str, str]:
        params = {**params, "sign_type": "RSA2"}
        params["sign"] = self.sign(sign_content(params, exclude=("sign", "sign_type")))
        return params

    def return_params(self, trade: Trade) -> dict[str, str]:
        """The signed query the buyer's browser brings back to return_url after paying."""
        return self.signed_params({
            "method": "alipay.trade.page.pay.return", "app_id": self.cfg.app_id, "auth_app_id": self.cfg.app_id,
            "charset": "utf-8", "version": "1.0", "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no,
            "total_amount": money(trade.total_amount), "seller_id": self.cfg.seller_id,
            "timestamp": fmt(now_beijing()),
        })

    # ---- trades ------------------------------------------------------------------------------------------

    def new_trade_no(self) -> str:
        self._seq += 1
        return f"{now_beijing():%Y%m%d}22001{secrets.randbelow(10**8):08d}{self._seq:04d}"[:28]

    def refresh(self, trade: Trade) -> Trade:
        """Close an unpaid trade whose time_expire has passed (Alipay does this on its own clock)."""
        if trade.status == WAIT_BUYER_PAY and trade.expired(now_beijing()):
            self.set_closed(trade)
        return trade

    def set_closed(self, trade: Trade) -> None:
        trade.status, trade.gmt_close = TRADE_CLOSED, now_beijing()
        self.send_notify(trade, gmt_close=fmt(trade.gmt_close))

    def pay(self, trade: Trade) -> bool:
        """Mark a waiting trade paid and notify; False (and nothing sent) if it is not waiting any more."""
        self.refresh(trade)
        if trade.status != WAIT_BUYER_PAY:
            return False
        trade.status, trade.gmt_payment = TRADE_SUCCESS, now_beijing()
        self.send_notify(trade)
        return True

    def force_pay(self, out_trade_no: str) -> Trade:
        """Test action: take the buyer's money for a trade whatever its state (closed included) and notify."""
        trade = self.trades[out_trade_no]
        trade.status, trade.gmt_payment, trade.gmt_close = TRADE_SUCCESS, now_beijing(), None
        self.send_notify(trade)
        return trade

    def refund_from_back_office(self, out_trade_no: str, amount: Decimal, *, notify: bool = True) -> str:
        """Test action: a refund made in Alipay's console (not through the API); returns its out_biz_no."""
        trade = self.trades[out_trade_no]
        request_no = f"BO{self.new_trade_no()}"
        self.apply_refund(trade, request_no, amount, notify=notify)
        return request_no

    def apply_refund(self, trade: Trade, request_no: str, amount: Decimal, *, notify: bool = True) -> datetime:
        trade.refunds[request_no] = amount
        if trade.refund_fee == trade.total_amount:
            trade.status, trade.gmt_close = TRADE_CLOSED, now_beijing()
        gmt_refund = now_beijing()
        if notify:
            self.send_notify(trade, out_biz_no=request_no, refund_fee=money(trade.refund_fee),
                             gmt_refund=fmt(gmt_refund))
        return gmt_refund

    # ---- notify ------------------------------------------------------------------------------------------

    def notify_params(self, trade: Trade, **extra: str) -> dict[str, str]:
        amount = money(trade.total_amount)
        params = {
            "notify_time": fmt(now_beijing()), "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16), "app_id": self.cfg.app_id, "auth_app_id": self.cfg.app_id,
            "charset": "utf-8", "version": "1.0", "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
            "buyer_id": trade.buyer_id, "buyer_logon_id": trade.buyer_logon_id, "seller_id": self.cfg.seller_id,
            "seller_email": "sandbox_seller@sandbox.com", "trade_status": trade.status, "total_amount": amount,
            "subject": trade.subject, "gmt_create": fmt(trade.gmt_create),
        }
        if trade.body:
            params["body"] = trade.body
        if trade.gmt_payment:
            params.update(receipt_amount=amount, invoice_amount=amount, buyer_pay_amount=amount, point_amount="0.00",
                          gmt_payment=fmt(trade.gmt_payment),
                          fund_bill_list=json.dumps([{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]))
        params.update(extra)
        return self.signed_params(params)

    def send_notify(self, trade: Trade, **extra: str) -> None:
        """Queue the signed notify for the trade's current state; never blocks the caller."""
        if not trade.notify_url:
            return
        params = self.notify_params(trade, **extra)
        copies = 2 if self.duplicate_notifies else 1
        task = asyncio.get_running_loop().create_task(self._deliver(trade.notify_url, params, copies))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, params: dict[str, str], copies: int) -> None:
        if self.drop_notifies:
            self.notify_log.append({**_log_entry(params, 0), "dropped": True})
            return
        if self.notify_delay:
            await asyncio.sleep(self.notify_delay)
        # Duplicates go out concurrently, the way a resend can overlap a slow first delivery.
        await asyncio.gather(*(self._deliver_one(url, params) for _ in range(copies)))

    async def _deliver_one(self, url: str, params: dict[str, str]) -> None:
        body = urlencode(params)
        schedule = list(self.notify_schedule)
        for attempt in range(1, len(schedule) + 2):
            entry = _log_entry(params, attempt)
            request = HTTPRequest(url, method="POST", body=body, follow_redirects=False,
                                  headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                                  request_timeout=self.notify_timeout, connect_timeout=self.notify_timeout)
            try:
                response = await AsyncHTTPClient().fetch(request, raise_error=False)
                entry.update(code=response.code, body=(response.body or b"")[:200].decode("utf-8", "replace"))
                entry["ok"] = response.code == 200 and response.body == b"success"
            except (TimeoutError, HTTPClientError, OSError) as exc:
                entry.update(code=599, body=repr(exc))
            self.notify_log.append(entry)
            if entry["ok"]:
                return
            if attempt > len(schedule):
                log.warning("notify for %s given up after %d attempts", params["out_trade_no"], attempt)
                return
            await asyncio.sleep(schedule[attempt - 1])

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every queued notify has been delivered or given up (tests)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_notifies(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _log_entry(params: dict[str, str], attempt: int) -> dict:
    return {"out_trade_no": params["out_trade_no"], "trade_status": params["trade_status"],
            "notify_id": params["notify_id"], "attempt": attempt, "code": None, "body": "", "ok": False}


def parse_schedule(value: str) -> list[float]:
    try:
        delays = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"sandbox.notify_schedule must be comma-separated seconds: {value!r}") from None
    if any(d < 0 for d in delays):
        raise ValueError("sandbox.notify_schedule must not be negative")
    return delays


def load_keys(cfg: SandboxSettings):
    private_path, public_path = resolve_path(cfg.private_key), resolve_path(cfg.app_public_key)
    if not private_path.is_file() or not public_path.is_file():
        # First run in development: the same generator as `python -m fresh keys` (it never overwrites).
        ensure_dev_keys(private_path.parent)
    try:
        private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        public_key = serialization.load_pem_public_key(public_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"sandbox: cannot load keys ({exc}); run `python -m fresh keys`") from None
    return private_key, public_key


class SandboxHandler(tornado.web.RequestHandler):
    application: SandboxApp

    def params(self) -> dict[str, str]:
        try:
            return {k: v[-1].decode("utf-8") for k, v in self.request.arguments.items()}
        except UnicodeDecodeError:
            raise invalid("isv.invalid-charset", "字符集错误") from None

    def page(self, title: str, message: str, *, status: int = 200, trade: Trade | None = None, link: str = ""):
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(MESSAGE_PAGE.generate(title=title, message=message, trade=trade, link=link, css=CSS))

    def write_error(self, status_code: int, **kwargs) -> None:
        self.page("出错了", "请求无法处理。", status=status_code)


class GatewayHandler(SandboxHandler):
    async def get(self) -> None:
        await self.handle()

    async def post(self) -> None:
        await self.handle()

    async def handle(self) -> None:
        method = self.request.arguments.get("method", [b""])[-1].decode("utf-8", "replace")
        response_key = method.replace(".", "_") + "_response" if method in API_METHODS else "error_response"
        try:
            params = self.params()
            self.check_common(params)
            try:
                biz = json.loads(params.get("biz_content", "{}"))
            except ValueError:
                biz = None
            if not isinstance(biz, dict):
                raise invalid("isv.invalid-biz-content", "biz_content不是合法的JSON对象")
        except GatewayError as exc:
            if method == "alipay.trade.page.pay":
                return self.page("支付请求无效", f"{exc.payload['sub_code']}：{exc.payload['sub_msg']}", status=400)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            return self.finish(self.application.signed_json(response_key, exc.payload, signed=False))
        if method == "alipay.trade.page.pay":
            return self.cashier(params, biz)
        out_trade_no = str(biz.get("out_trade_no", ""))
        self.application.calls[(method, out_trade_no)] += 1
        if out_trade_no in self.application.failing_trades:
            # Alipay's answer while its systems are down for this trade: signed, code 20000, retry later.
            inner = {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error",
                     "sub_msg": "系统繁忙"}
            self.set_header("Content-Type", "application/json; charset=utf-8")
            return self.finish(self.application.signed_json(response_key, inner))
        handler = {"alipay.trade.query": self.query, "alipay.trade.close": self.close,
                   "alipay.trade.refund": self.refund}[method]
        inner = handler(biz)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(self.application.signed_json(response_key, inner))

    def check_common(self, params: dict[str, str]) -> None:
        for name in COMMON_REQUIRED:
            if not params.get(name):
                raise missing(name)
        if params["method"] not in API_METHODS + ("alipay.trade.page.pay",):
            raise invalid("isv.invalid-method", "不存在的方法名")
        if params["app_id"] != self.application.cfg.app_id:
            raise invalid("isv.invalid-app-id", "无效的AppID参数")
        if params["sign_type"] != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型")
        if params["charset"].lower() != "utf-8":
            raise invalid("isv.invalid-charset", "字符集错误")
        stamp = parse_beijing(params["timestamp"])
        if stamp is None or abs(now_beijing() - stamp) > TIMESTAMP_SKEW:
            raise invalid("isv.invalid-timestamp", "非法的时间戳参数（须为北京时间，误差30分钟以内）")
        # Requests sign every parameter but `sign` itself; sign_type included (unlike notifies).
        if not self.application.verify_merchant(sign_content(params, exclude=("sign",)), params["sign"]):
            raise invalid("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配")

    # ---- page.pay ----------------------------------------------------------------------------------------

    def cashier(self, params: dict[str, str], biz: dict) -> None:
        app = self.application
        out_trade_no = str(biz.get("out_trade_no", ""))
        amount = parse_money(biz.get("total_amount", ""))
        subject = str(biz.get("subject", ""))
        if not out_trade_no or len(out_trade_no) > 64 or not out_trade_no.replace("_", "").isalnum() \
                or not out_trade_no.isascii():
            return self.page("支付请求无效", "订单号（out_trade_no）缺失或格式不正确。", status=400)
        if amount is None:
            return self.page("支付请求无效", "金额（total_amount）须在 0.01 至 100000000 元之间，最多两位小数。",
                             status=400)
        if not subject:
            return self.page("支付请求无效", "缺少商品名称（subject）。", status=400)
        if biz.get("product_code") != "FAST_INSTANT_TRADE_PAY":
            return self.page("支付请求无效", "product_code 须为 FAST_INSTANT_TRADE_PAY。", status=400)
        time_expire = None
        if biz.get("time_expire"):
            time_expire = parse_beijing(str(biz["time_expire"]))
            if time_expire is None:
                return self.page("支付请求无效", "time_expire 格式应为 yyyy-MM-dd HH:mm:ss。", status=400)
        trade = app.trades.get(out_trade_no)
        if trade is None:
            if time_expire is not None and now_beijing() >= time_expire:
                return self.page("交易已关闭", f"订单 {out_trade_no} 已超过支付期限，交易已关闭。")
            trade = Trade(out_trade_no=out_trade_no, trade_no=app.new_trade_no(), total_amount=amount,
                          subject=subject, body=str(biz.get("body", "")), notify_url=params.get("notify_url", ""),
                          return_url=params.get("return_url", ""), time_expire=time_expire,
                          gmt_create=now_beijing())
            app.trades[out_trade_no] = trade
        elif trade.total_amount != amount:
            return self.page("交易信息被篡改", "同一订单号的金额与首次下单时不一致（ACQ.CONTEXT_INCONSISTENT）。",
                             status=409, trade=trade)
        app.refresh(trade)
        if trade.status == TRADE_SUCCESS:
            return self.page("订单已支付", "该笔订单已支付成功，请勿重复付款。", trade=trade,
                             link=trade.return_url and merchant_home(trade.return_url))
        if trade.status == TRADE_CLOSED:
            return self.page("交易已关闭", "该笔交易已关闭，无法继续付款。", trade=trade)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(CASHIER_PAGE.generate(trade=trade, money=money, fmt=fmt, seller_id=app.cfg.seller_id,
                                          pay_url=self.reverse_url("confirm", trade.out_trade_no),
                                          cancel_url=self.reverse_url("cancel", trade.out_trade_no), css=CSS))

    # ---- server APIs -------------------------------------------------------------------------------------

    def find(self, biz: dict) -> Trade | None:
        app = self.application
        if biz.get("trade_no"):
            trade = next((t for t in app.trades.values() if t.trade_no == str(biz["trade_no"])), None)
        else:
            trade = app.trades.get(str(biz.get("out_trade_no", "")))
        return app.refresh(trade) if trade else None

    @staticmethod
    def ids(biz: dict) -> dict:
        return {k: str(biz[k]) for k in ("out_trade_no", "trade_no") if biz.get(k)}

    def query(self, biz: dict) -> dict:
        if not biz.get("out_trade_no") and not biz.get("trade_no"):
            return business("ACQ.INVALID_PARAMETER", "参数无效：out_trade_no与trade_no不能同时为空")
        trade = self.find(biz)
        if trade is None:
            return business("ACQ.TRADE_NOT_EXIST", "交易不存在", buyer_pay_amount="0.00", invoice_amount="0.00",
                            point_amount="0.00", receipt_amount="0.00", **self.ids(biz))
        paid = trade.gmt_payment is not None
        amount = money(trade.total_amount)
        inner = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
                 "buyer_logon_id": trade.buyer_logon_id, "trade_status": trade.status, "total_amount": amount,
                 "subject": trade.subject, "buyer_pay_amount": amount if paid else "0.00",
                 "invoice_amount": amount if paid else "0.00",
                 "receipt_amount": amount if paid else "0.00", "point_amount": "0.00",
                 "buyer_user_id": trade.buyer_id}
        if paid:
            inner["send_pay_date"] = fmt(trade.gmt_payment)
            inner["fund_bill_list"] = [{"amount": amount, "fund_channel": "ALIPAYACCOUNT"}]
        return inner

    def close(self, biz: dict) -> dict:
        if not biz.get("out_trade_no") and not biz.get("trade_no"):
            return business("ACQ.INVALID_PARAMETER", "参数无效：out_trade_no与trade_no不能同时为空")
        trade = self.find(biz)
        if trade is None:
            return business("ACQ.TRADE_NOT_EXIST", "交易不存在", **self.ids(biz))
        if trade.status != WAIT_BUYER_PAY:
            # Only a trade waiting for payment can be closed (paid, refunded or already closed: status error).
            return business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法", trade_no=trade.trade_no,
                            out_trade_no=trade.out_trade_no)
        self.application.set_closed(trade)
        return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def refund(self, biz: dict) -> dict:
        if not biz.get("out_trade_no") and not biz.get("trade_no"):
            return business("ACQ.INVALID_PARAMETER", "参数无效：out_trade_no与trade_no不能同时为空")
        amount = parse_money(biz.get("refund_amount", ""))
        if amount is None:
            return business("ACQ.INVALID_PARAMETER", "参数无效：refund_amount")
        trade = self.find(biz)
        if trade is None:
            return business("ACQ.TRADE_NOT_EXIST", "交易不存在", **self.ids(biz))
        request_no = str(biz.get("out_request_no") or trade.trade_no)
        answer = {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
                  "buyer_logon_id": trade.buyer_logon_id, "buyer_user_id": trade.buyer_id}
        if request_no in trade.refunds:
            # A replay of a refund already made: no money moves again.
            return {**answer, "fund_change": "N", "refund_fee": money(trade.refund_fee),
                    "send_back_fee": "0.00"}
        if trade.gmt_payment is None:
            return business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法", **self.ids(biz))
        if not biz.get("out_request_no") and amount != trade.total_amount:
            return business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与交易金额不相等")
        if trade.status != TRADE_SUCCESS or trade.refund_fee + amount > trade.total_amount:
            return business("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额超限", **self.ids(biz))
        gmt_refund = self.application.apply_refund(trade, request_no, amount)
        return {**answer, "fund_change": "Y", "refund_fee": money(trade.refund_fee),
                "gmt_refund_pay": fmt(gmt_refund), "send_back_fee": money(amount)}


def merchant_home(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme in ("http", "https") and parts.netloc else ""


class ConfirmHandler(SandboxHandler):
    def post(self, out_trade_no: str) -> None:
        app = self.application
        trade = app.trades.get(out_trade_no)
        token = self.get_body_argument("token", "")
        # The per-trade token only appears in the cashier page: a cross-site form cannot pay for the buyer.
        if trade is None or not hmac.compare_digest(token.encode(), trade.token.encode()):
            return self.page("请求无效", "付款请求已失效，请从商户页面重新发起支付。", status=403)
        app.pay(trade)  # a second click finds TRADE_SUCCESS and sends nothing more
        if trade.status == TRADE_CLOSED:
            return self.page("交易已关闭", "该笔订单已超过支付期限，交易已关闭。", status=409, trade=trade)
        if trade.status != TRADE_SUCCESS:
            return self.page("付款失败", "该笔交易当前不能付款。", status=409, trade=trade)
        if not trade.return_url:
            return self.page("支付成功", "付款成功，可关闭此页面。", trade=trade)
        sep = "&" if "?" in trade.return_url else "?"
        self.redirect(trade.return_url + sep + urlencode(app.return_params(trade)))


class CancelHandler(SandboxHandler):
    def get(self, out_trade_no: str) -> None:
        trade = self.application.trades.get(out_trade_no)
        link = merchant_home(trade.return_url) if trade and trade.return_url else ""
        self.page("已取消付款", "您已取消本次付款，订单仍可在商户处重新支付。", trade=trade, link=link)


CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.6 "PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;color:#333;
 background:#f2f4f7}
.bar{background:#1677ff;color:#fff;padding:0 24px;height:56px;display:flex;align-items:center;gap:12px}
.bar .logo{width:32px;height:32px}
.bar h1{font-size:18px;font-weight:600;margin:0;white-space:nowrap}
.bar .tag{margin-left:auto;font-size:12px;background:rgba(255,255,255,.18);padding:2px 10px;border-radius:10px}
.card{max-width:560px;margin:40px auto;background:#fff;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08);
 overflow:hidden}
.card .head{padding:28px 32px 20px;border-bottom:1px solid #eef0f3;text-align:center}
.card .head .label{color:#888;font-size:13px}
.card .head .amount{font-size:40px;font-weight:600;color:#1f1f1f;letter-spacing:.5px}
.card .head .amount small{font-size:22px;margin-right:4px}
.card dl{margin:0;padding:16px 32px;display:grid;grid-template-columns:90px 1fr;row-gap:10px}
.card dt{color:#888}.card dd{margin:0;word-break:break-all}
.card .actions{padding:8px 32px 28px;display:flex;gap:12px}
.btn{flex:1;height:44px;border-radius:6px;font-size:16px;cursor:pointer;border:1px solid #1677ff;
 display:inline-flex;align-items:center;justify-content:center;text-decoration:none}
.btn.primary{background:#1677ff;color:#fff}.btn.primary:hover{background:#0958d9}
.btn.ghost{background:#fff;color:#1677ff}.btn.ghost:hover{background:#f0f6ff}
.actions form{flex:1;display:flex}
.msg{padding:32px;text-align:center}.msg h2{margin:0 0 8px;font-size:20px}.msg p{color:#666;margin:0 0 16px}
.note{text-align:center;color:#999;font-size:12px;margin-bottom:32px}
@media (max-width:600px){.bar{padding:0 16px}.bar .tag{display:none}
 .card{margin:16px}.card dl{padding:16px 20px}.card .actions{padding:8px 20px 24px}}
"""

LOGO = """<svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#fff"/>
<path d="M9 11h14M16 7v6M11 16h10c-1 5-5 9-11 10M14 19c2 3 6 6 10 7" fill="none" stroke="#1677ff" stroke-width="2.4"
 stroke-linecap="round" stroke-linejoin="round"/></svg>"""

HEADER = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }} - 支付宝沙箱</title>
<style>{% raw css %}</style></head><body>
<div class="bar">""" + LOGO + """<h1>支付宝沙箱 · 收银台</h1><span class="tag">本地沙箱 · 不产生真实扣款</span></div>"""

CASHIER_PAGE = Template(HEADER.replace("{{ title }}", "收银台") + """
<div class="card">
  <div class="head"><div class="label">应付金额</div>
    <div class="amount" id="amount"><small>¥</small>{{ money(trade.total_amount) }}</div></div>
  <dl>
    <dt>订单号</dt><dd id="out_trade_no">{{ trade.out_trade_no }}</dd>
    <dt>商品</dt><dd>{{ trade.subject }}</dd>
    <dt>收款方</dt><dd>天天生鲜（{{ seller_id }}）</dd>
    {% if trade.time_expire %}<dt>支付期限</dt><dd>{{ fmt(trade.time_expire) }} 前（北京时间）</dd>{% end %}
  </dl>
  <div class="actions">
    <form method="post" action="{{ pay_url }}">
      <input type="hidden" name="token" value="{{ trade.token }}">
      <button type="submit" class="btn primary">确认付款</button>
    </form>
    <a class="btn ghost" href="{{ cancel_url }}">取消</a>
  </div>
</div>
<p class="note">这是本地模拟的支付宝网关，点击“确认付款”即视为买家付款成功。</p>
</body></html>""")

MESSAGE_PAGE = Template(HEADER + """
<div class="card"><div class="msg"><h2>{{ title }}</h2><p>{{ message }}</p>
{% if trade %}<p>订单号：{{ trade.out_trade_no }}</p>{% end %}
{% if link %}<a class="btn ghost" style="max-width:200px;margin:0 auto" href="{{ link }}">返回商户</a>{% end %}
</div></div></body></html>""")


def make_sandbox_app(cfg: SandboxSettings, *, debug: bool = False, **knobs) -> SandboxApp:
    """Build the simulator (no I/O but reading keys); `knobs` override cfg's test knobs, e.g. drop_notifies=True."""
    if knobs:
        cfg = dataclasses.replace(cfg, **knobs)
    return SandboxApp(cfg, debug=debug)


async def serve(cfg: Settings) -> HTTPServer:
    """Serve the sandbox on cfg.sandbox.host:port in the running loop (app.py --with-sandbox)."""
    app = make_sandbox_app(cfg.sandbox)
    server = HTTPServer(app, max_body_size=1024 * 1024)
    server.listen(cfg.sandbox.port, address=cfg.sandbox.host)
    log.info("Alipay sandbox gateway on http://%s:%d/gateway.do", cfg.sandbox.host, cfg.sandbox.port)
    return server


async def main() -> None:
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_settings()
    server = await serve(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    try:
        await asyncio.wait_for(server.close_all_connections(), 5)
    except TimeoutError:
        pass


if __name__ == "__main__":
    from fresh.eventloop import run  # the loop the shop's processes run on

    run(main())
