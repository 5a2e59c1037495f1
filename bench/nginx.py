"""The shop as `make up` runs it: nginx in front of 1 and N app processes under supervisor (fresh.deploy), each
scenario beside the bare-Tornado ceiling behind the same nginx configuration, and the scaling from 1 to N.

Scenarios (BENCH_ONLY=nginx): GET / (the static index nginx serves from its file), GET / logged in (the app's live
page), GET /goods/<id>, POST /cart/add and the notify → browser path, all through nginx.
"""

from __future__ import annotations

import dataclasses
import os
import secrets

from bench.common import PYTHON, VAR, Child, Result, free_port, progress
from bench.http import write_requests
from fresh import deploy, eventloop
from fresh.settings import load_settings


def process_counts(opts) -> list[int]:
    """1 and BENCH_PROCESSES (2 unless set higher)."""
    return [1, max(2, opts.processes)]


class Deployment:
    """`make up` on free ports under the bench's var dir (its database, Redis db and keys from the environment)."""

    def __init__(self, processes: int, sandbox_port: int):
        self.env = dict(os.environ, FRESH_SANDBOX_PORT=str(sandbox_port),
                        FRESH_SANDBOX_PUBLIC_URL=f"http://127.0.0.1:{sandbox_port}",
                        FRESH_ALIPAY_GATEWAY=f"http://127.0.0.1:{sandbox_port}/gateway.do")
        cfg = load_settings(env=self.env)
        self.layout = deploy.make_layout(cfg, app_ports=[free_port() for _ in range(processes)],
                                         public_port=free_port(), listen_host="127.0.0.1")
        deploy.render(self.layout)
        deploy.nginx_test(self.layout)
        self.pid = deploy.start(self.layout, env=self.env)
        deploy.wait_ready(self.layout, timeout=120)
        self.base_url = f"http://127.0.0.1:{self.layout.public_port}"

    def stop(self) -> None:
        deploy.stop(self.layout)


class BareBehindNginx:
    """bench.bare's N processes behind an nginx rendered from the same template (one upstream port, shared)."""

    def __init__(self, processes: int):
        port = free_port()
        self.bare = Child(f"bare-{processes}", [PYTHON, "-m", "bench.bare", "--port", str(port),
                                                "--processes", str(processes)])
        self.bare.wait_http(f"http://127.0.0.1:{port}/healthz")
        layout = deploy.make_layout(load_settings(), app_ports=[port], public_port=free_port(),
                                    listen_host="127.0.0.1")
        self.layout = dataclasses.replace(layout, var=VAR / f"bare-nginx-{processes}")
        deploy.render(self.layout)
        self.nginx = Child(f"bare-nginx-{processes}", [deploy._nginx_binary(), "-p", str(self.layout.nginx_prefix),
                                                       "-c", str(self.layout.nginx_conf)])
        self.base_url = f"http://127.0.0.1:{self.layout.public_port}"
        self.nginx.wait_http(self.base_url + "/healthz")

    def stop(self) -> None:
        self.nginx.stop()
        self.bare.stop()


def nginx_scenarios(run) -> None:
    from bench import ws

    by_count: dict[int, dict[str, Result]] = {}
    saved = (run.opts, run.bare_url, run.http_ceilings)
    for processes in process_counts(run.opts):
        progress(f"nginx in front of {processes} app process(es) under supervisor")
        shop, bare = Deployment(processes, free_port()), BareBehindNginx(processes)
        prefix = f"nginx, {processes} process{'es' if processes > 1 else ''}: "
        results: dict[str, Result] = {}
        try:
            run.opts, run.bare_url = dataclasses.replace(run.opts, base_url=shop.base_url), bare.base_url
            for s in run.sessions:
                s.base_url = shop.base_url
            people = eventloop.run(run.logged_in(20))
            cart_lines = eventloop.run(run.cart_lines())
            label = f"ceiling: bare Tornado ({processes}) behind nginx"
            run.http_ceilings = {
                "get": (label + ", GET", write_requests("nginx_bare_get", [("GET", "/get", "", "")])),
                "post": (label + ", POST form", write_requests(
                    "nginx_bare_post", [("POST", "/post", c, b) for _m, _p, c, b in cart_lines])),
            }
            xsrf = "_xsrf=" + secrets.token_hex(16)
            plans = [
                ("GET / (static index)", [("GET", "/", "", "")], "get", "bare GET"),
                ("GET / (logged in)", [("GET", "/", p.cookie_header, "") for p in people], "get", "bare GET"),
                ("GET /goods/<id>", [("GET", f"/goods/{i}", xsrf, "") for i in run.sku_ids[:30]], "get",
                 "bare GET"),
                ("POST /cart/add (logged in)", cart_lines, "post", "bare POST"),
            ]
            for name, lines, ceiling, ceiling_name in plans:
                path = write_requests("nginx_" + "".join(c if c.isalnum() else "_" for c in name), lines)
                result = run.paired(prefix + name, path, ceiling=ceiling, name=f"{ceiling_name} behind nginx",
                                    target=None)
                results[name] = run.add(result)
            result = eventloop.run(ws.notify_scenario(run, count=min(run.opts.payments, 300),
                                                      rate=run.opts.notify_rate))
            result.scenario = prefix + result.scenario
            results["notify"] = run.add(result)
        finally:
            run.opts, run.bare_url, run.http_ceilings = saved
            for s in run.sessions:
                s.base_url = run.base_url
            bare.stop()
            shop.stop()
        by_count[processes] = results
    one, many = process_counts(run.opts)
    for name, result in by_count[many].items():
        base = by_count[one].get(name)
        if base is None or not base.rps or result.rps is None:
            continue
        run.add(Result(scenario=f"nginx scaling {one} → {many} processes: {name}", rps=result.rps,
                       unit=result.unit, ceiling=f"the same with {one} process", ratio=result.rps / base.rps,
                       note=f"{base.rps:,.0f} → {result.rps:,.0f} {result.unit}"))
