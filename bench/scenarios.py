"""The scenarios, in the order they run, each next to the ceiling it is compared with."""

from __future__ import annotations

import asyncio
import importlib
import re
import secrets
import statistics
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bench import ceilings, profile
from bench.client import Shopper
from bench.common import Options, Result, combine, progress
from bench.fixtures import PASSWORD
from bench.http import run_wrk, write_requests
from fresh import eventloop
from fresh.cart.cart import cart_key
from fresh.settings import Settings
from fresh.web import PACKAGES

STRATEGIES = ("atomic", "pessimistic", "optimistic")


def route_exists(path: str) -> bool:
    """Whether some package of the shop in this tree routes `path` (a scenario needs its route to have landed)."""
    for name in PACKAGES:
        try:
            package = importlib.import_module(f"fresh.{name}")
        except ImportError:
            continue
        for rule in getattr(package, "ROUTES", []):
            regex = getattr(rule, "regex", None)
            if regex is None:
                # A tuple (pattern, handler...) or a fresh.hooks.Redirect (its .pattern).
                regex = re.compile((rule.pattern if hasattr(rule, "pattern") else rule[0]) + "$")
            if regex.match(path):
                return True
    return False


def ratio(result: Result, ceiling: Result | None, *, name: str, target: float | None,
          value: float | None = None) -> Result:
    """Set the result's ratio to its ceiling (`value` when the caller computed it round by round) and whether it
    meets `target`."""
    if ceiling is not None and ceiling.rps and result.rps is not None:
        result.ceiling = name
        result.ratio = value if value is not None else result.rps / ceiling.rps
        if target is not None:
            result.target = f"≥ {target:.0%} of {name}"
            result.met = result.ratio >= target and result.errors == 0
    return result


def unavailable(scenario: str, why: str, target: str = "") -> Result:
    return Result(scenario=scenario, available=False, note=why, target=target)


@dataclass
class Run:
    opts: Options
    cfg: Settings
    shoppers: list[dict]
    sku_ids: list[int]
    results: list[Result]
    ceilings: dict[str, Result]
    bare_url: str
    shop_factory: object
    sandbox_port: int
    shop: object = None
    notes: list[str] = field(default_factory=list)
    profile: dict = field(default_factory=dict)
    sessions: list[Shopper] = field(default_factory=list)
    paid: set = field(default_factory=set)
    http_ceilings: dict = field(default_factory=dict)

    # --- plumbing ------------------------------------------------------------------------------------------

    def add(self, result: Result) -> Result:
        self.results.append(result)
        if not result.available:
            progress(f"{result.scenario}: not available ({result.note})")
            return result
        parts = [f"{result.rps:,.0f} {result.unit}" if result.rps is not None else "",
                 f"p50 {result.p50_ms:.1f} ms" if result.p50_ms is not None else "",
                 f"p99 {result.p99_ms:.1f} ms" if result.p99_ms is not None else "",
                 f"{result.ratio:.1%} of {result.ceiling}" if result.ratio is not None else "",
                 f"{result.errors} errors" if result.errors else "",
                 {True: "target met", False: "target NOT met", None: ""}[result.met]]
        progress(f"{result.scenario}: " + ", ".join(p for p in parts if p))
        return result

    def ceiling(self, key: str, result: Result) -> Result:
        self.ceilings[key] = result
        return self.add(result)

    @property
    def base_url(self) -> str:
        return self.opts.base_url or self.shop.base_url

    def use_shop(self, strategy: str) -> None:
        """(Re)start the shop with a stock strategy, unless the runner was given a base URL."""
        if self.opts.base_url:
            return
        if self.shop is not None and self.shop.strategy == strategy:
            return
        if self.shop is not None:
            self.shop.stop()
            self.shop = None
        progress(f"starting the shop (stock strategy {strategy})")
        self.shop = self.shop_factory(strategy, sandbox_port=self.sandbox_port)
        for shopper in self.sessions:  # sessions live in Redis: they outlast the process
            shopper.base_url = self.shop.base_url

    async def logged_in(self, count: int) -> list[Shopper]:
        """Shoppers logged in over HTTP (cookie jar with sid and a hex `_xsrf`)."""
        if len(self.sessions) < count:
            fresh = [Shopper(self.base_url) for _ in range(count - len(self.sessions))]
            people = self.shoppers[len(self.sessions):count]
            await asyncio.gather(*(s.login(p["username"], PASSWORD) for s, p in zip(fresh, people, strict=True)))
            for s, p in zip(fresh, people, strict=True):
                s.user = p
            self.sessions += fresh
        return self.sessions[:count]

    # --- the run -------------------------------------------------------------------------------------------

    def all(self) -> None:
        self.notes += [
            "Shoppers' passwords are hashed with cheap argon2 parameters in the bench only (logging in is not"
            " measured); every other setting is the development default, one shop process, access log on.",
            "wrk replays prepared requests (bench/wrk/requests.lua): logged-in POSTs carry the signed `sid` cookie"
            " of a real login and a hex `_xsrf` cookie equal to the form field, as a browser does.",
            "Order commits: each buyer's cart gets one unit through the cart's domain function before every"
            " commit; only the commit request is timed. Deadlock retries are read from /metrics"
            " (fresh_order_retries_total, reason=deadlock), else counted from the 'retrying once' log lines.",
            "Oversell is checked in MariaDB after each scenario: stock+sales unchanged per SKU, sales delta equal to"
            " the order_goods delta, and nothing sold beyond the stock.",
        ]
        self.use_shop("atomic")
        if self.opts.wants("catalog") or self.opts.wants("cart"):
            self.http_scenarios()
        if self.opts.wants("redis") or self.opts.wants("cart"):
            self.ceiling("redis", ceilings.redis_hset(self.opts))
        if self.opts.wants("orders"):
            self.order_scenarios()
        if self.opts.wants("ws") or self.opts.wants("notify"):
            self.websocket_scenarios()
        if self.opts.wants("scale"):
            from bench import scale

            scale.scale_scenarios(self)
        if self.opts.wants("nginx"):
            from bench import nginx

            nginx.nginx_scenarios(self)
        if self.opts.profile and self.opts.wants("profile"):
            self.profile_slowest()

    def http_scenarios(self) -> None:
        opts = self.opts
        cart_lines = eventloop.run(self.cart_lines())
        self.http_ceilings = {
            "get": ("ceiling: bare Tornado GET", write_requests("bare_get", [("GET", "/get", "", "")])),
            "post": ("ceiling: bare Tornado POST form",
                     write_requests("bare_post", [("POST", "/post", c, b) for _m, _p, c, b in cart_lines])),
        }
        if opts.wants("catalog"):
            if route_exists("/"):
                eventloop.run(Shopper(self.base_url).get("/"))  # fill the cache
                lines = write_requests("index", [("GET", "/", "", "")])
                self.add(self.paired("GET / (index, cached)", lines, ceiling="get", name="bare GET", target=0.5))
            else:
                self.add(unavailable("GET / (index, cached)", "route not in this tree", "≥ 50% of bare GET"))
            if route_exists("/goods/1"):
                seeded = self.sku_ids[:30]
                # A visitor's first page sets the `_xsrf` cookie its forms need; every later page of the visit
                # sends it back. The target is held to the pages of a visit; the first page is shown beside.
                xsrf = "_xsrf=" + secrets.token_hex(16)
                lines = write_requests("detail", [("GET", f"/goods/{i}", xsrf, "") for i in seeded])
                self.add(self.paired("GET /goods/<id> (detail)", lines, ceiling="get", name="bare GET", target=0.5))
                lines = write_requests("detail_first", [("GET", f"/goods/{i}", "", "") for i in seeded])
                self.add(self.paired("GET /goods/<id> (detail, a visit's first page: sets `_xsrf`)", lines,
                                     ceiling="get", name="bare GET", target=None))
            else:
                self.add(unavailable("GET /goods/<id> (detail)", "route not in this tree", "≥ 50% of bare GET"))
        if opts.wants("cart"):
            if route_exists("/cart/add"):
                lines = write_requests("cart_add", cart_lines)
                self.add(self.paired("POST /cart/add (logged in)", lines, ceiling="post", name="bare POST",
                                     target=0.5))
            else:
                self.add(unavailable("POST /cart/add (logged in)", "route not in this tree", "≥ 50% of bare POST"))

    def paired(self, scenario: str, lines, *, ceiling: str, name: str, target: float | None) -> Result:
        """The scenario in `opts.rounds` short runs, each right after a run of its ceiling, so that each pair sees
        the machine in the same moment (other work on a shared machine comes and goes within seconds). The ratio
        is the median of the rounds' ratios; rates add up over the rounds (bench.common.combine)."""
        label, ceiling_lines = self.http_ceilings[ceiling]
        seconds = max(2.0, self.opts.seconds / self.opts.rounds)
        # Unmeasured warm-up of both: caches filled, connections and pools opened.
        run_wrk(label, self.bare_url, ceiling_lines, self.opts, seconds=1)
        run_wrk(scenario, self.base_url, lines, self.opts, seconds=1)
        pairs = []
        for _ in range(self.opts.rounds):
            pairs.append((run_wrk(label, self.bare_url, ceiling_lines, self.opts, seconds=seconds),
                          run_wrk(scenario, self.base_url, lines, self.opts, seconds=seconds)))
        bare = self.ceiling(f"{ceiling}: {scenario}", combine(f"{label}, paired with {scenario}",
                                                               [c for c, _ in pairs]))
        result = combine(scenario, [r for _, r in pairs])
        rounds = [r.rps / c.rps for c, r in pairs if r.rps and c.rps]
        result.note = (f"{len(pairs)} rounds of {seconds:g} s; ratio per round "
                       + ", ".join(f"{x:.0%}" for x in rounds) + " (median counts)")
        return ratio(result, bare, name=name, target=target, value=statistics.median(rounds) if rounds else None)

    async def empty_carts(self, people: list[Shopper]) -> None:
        """Empty these shoppers' carts: every scenario that adds starts far from the caps, which an earlier scenario's
        adds would reach (the cart then answers 409, counted as errors)."""
        redis = aioredis.from_url(self.cfg.redis.url)
        try:
            await asyncio.wait_for(asyncio.gather(*(redis.delete(cart_key(p.user["id"])) for p in people)), 30)
        finally:
            await redis.aclose()

    async def cart_lines(self) -> list[tuple[str, str, str, str]]:
        """POST /cart/add requests of 20 logged-in shoppers over every SKU, count 1 (far from any cap)."""
        if not route_exists("/user/login"):
            return [("POST", "/cart/add", "", f"sku_id={i}&count=1") for i in self.sku_ids]
        people = await self.logged_in(20)
        await self.empty_carts(people)
        lines = []
        for n, sku_id in enumerate(self.sku_ids * 2):
            s = people[n % len(people)]
            lines.append(("POST", "/cart/add", s.cookie_header, s.form({"sku_id": sku_id, "count": 1})))
        return lines

    def order_scenarios(self) -> None:
        from bench import orders

        if not route_exists("/order/commit"):
            for strategy in STRATEGIES:
                for kind in ("distinct SKUs", "hot SKU"):
                    self.add(unavailable(f"POST /order/commit {strategy}, {kind}", "route not in this tree"))
            return
        for strategy in STRATEGIES:
            self.use_shop(strategy)
            # The hot-row ceiling is measured right before and right after this strategy's runs; their mean is
            # what the strategy's figures are compared with.
            around = [eventloop.run(ceilings.mariadb_hot_row(self.cfg, self.opts))]
            results = [eventloop.run(orders.commit_scenario(self, strategy=strategy, kind=kind))
                       for kind in ("distinct", "hot")]
            around.append(eventloop.run(ceilings.mariadb_hot_row(self.cfg, self.opts)))
            hot = self.ceiling(f"mariadb: {strategy}", combine(
                f"{around[0].scenario}, before and after the {strategy} runs", around))
            for kind, result in zip(("distinct", "hot"), results, strict=True):
                ratio(result, hot, name="MariaDB hot row", target=0.25 if kind == "hot" else None)
                if kind == "hot":
                    result.met = result.met and result.extra.get("oversell") == 0
                self.add(result)
            self.add(eventloop.run(orders.sellout_scenario(self, strategy=strategy)))
        self.use_shop("atomic")

    def websocket_scenarios(self) -> None:
        from bench import ws

        if not route_exists("/ws/orders/2024010100000012345"):
            if self.opts.wants("ws"):
                self.add(unavailable("WS idle connections", "WS /ws/orders/<order_id> not in this tree"))
            if self.opts.wants("notify"):
                self.add(unavailable("notify → browser latency", "WS /ws/orders/<order_id> not in this tree",
                                     "p99 < 50 ms"))
            return
        self.use_shop("atomic")
        if self.opts.wants("ws"):
            self.add(eventloop.run(ws.idle_scenario(self)))
        if self.opts.wants("notify"):
            if route_exists("/order/notify/alipay"):
                self.add(eventloop.run(ws.notify_scenario(self, rate=self.opts.notify_rate)))
                self.add(eventloop.run(ws.notify_scenario(self)))
            else:
                self.add(unavailable("notify → browser latency", "POST /order/notify/alipay not in this tree",
                                     "p99 < 50 ms"))

    def profile_slowest(self) -> None:
        """py-spy on the shop during the slowest HTTP path, the hot-SKU commit and the notify path."""
        if self.opts.base_url:
            return
        profiles = {}
        candidates = [r for r in self.results if r.available and r.ratio is not None and r.extra.get("requests_file")]
        if candidates:
            worst = min(candidates, key=lambda r: r.ratio)
            profiles["http"] = profile.profile_http(self, worst)
        if self.opts.wants("orders") and route_exists("/order/commit"):
            from bench import orders

            self.use_shop("atomic")
            profiles["orders"] = profile.profile_during(
                self, "POST /order/commit atomic, hot SKU",
                lambda: eventloop.run(orders.commit_scenario(self, strategy="atomic", kind="hot")))
        if self.opts.wants("notify") and route_exists("/order/notify/alipay"):
            from bench import ws

            self.use_shop("atomic")
            seconds = max(3, round(self.opts.seconds))
            eventloop.run(ws._orders(self, min(self.opts.payments, 300)))  # committed before sampling starts
            profiles["notify"] = profile.profile_during(self, "notify → browser", lambda: eventloop.run(
                ws.notify_scenario(self, count=min(self.opts.payments, 300))), seconds=seconds)
        self.profile = {k: v for k, v in profiles.items() if v}
