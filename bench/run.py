"""`make bench`: seed a bench database, start the ceilings and the shop, run every scenario, write BENCHMARKS.md.

Everything runs against 127.0.0.1, each scenario bounded in time (BENCH_SECONDS) and count. Environment knobs:
BENCH_SECONDS, BENCH_ROUNDS, BENCH_PROCESSES, BENCH_CONNECTIONS, BENCH_BUYERS, BENCH_WS_IDLE, BENCH_PAYMENTS,
BENCH_NOTIFY_RATE, BENCH_ONLY (comma-separated scenario prefixes: catalog, cart, orders, ws, notify, scale, nginx:
the last runs the shop as `make up` does, nginx in front of 1 and BENCH_PROCESSES (at least 2) processes),
BENCH_SCALE_SKUS, BENCH_SCALE_REDIS_URL (bench/scale.py), BENCH_BASE_URL
(an already running shop, e.g. nginx in front of several processes, using the same FRESH_DB_NAME and
FRESH_REDIS_URL), BENCH_PROFILE=0.
"""

from __future__ import annotations

import os
import resource
import sys
import time

from bench.common import LOGS, PYTHON, ROOT, VAR, Child, Options, Result, free_port, machine, progress
from fresh import eventloop


def configure_environment(opts: Options) -> None:
    """The bench's own database, Redis db and var dir, for this process and every child."""
    keys = VAR / "keys"
    os.environ.update({
        "FRESH_MODE": "development",
        "FRESH_DB_NAME": opts.db_name,
        "FRESH_REDIS_URL": opts.redis_url,
        "FRESH_VAR_DIR": str(VAR),
        "FRESH_ALIPAY_APP_PRIVATE_KEY": str(keys / "app_private.pem"),
        "FRESH_ALIPAY_ALIPAY_PUBLIC_KEY": str(keys / "sandbox_public.pem"),
        "FRESH_SANDBOX_PRIVATE_KEY": str(keys / "sandbox_private.pem"),
        "FRESH_SANDBOX_APP_PUBLIC_KEY": str(keys / "app_public.pem"),
        # Logging in is not benchmarked: cheap password hashes keep the set-up of 50 shoppers short.
        "FRESH_ACCOUNTS_ARGON2_TIME_COST": "1",
        "FRESH_ACCOUNTS_ARGON2_MEMORY_KIB": "1024",
        "FRESH_ACCOUNTS_ARGON2_PARALLELISM": "1",
        "FRESH_ACCOUNTS_LOGIN_MAX_FAILURES": "1000",
    })
    VAR.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    # Each run starts with empty logs: the deployments append to theirs (nginx's access log grows by ~100 MB a run
    # at the static index's rate), and a log should tell about one run.
    for old in (*LOGS.glob("*.log"), *(VAR / "log").glob("*.log"), *VAR.glob("bare-nginx-*/log/*.log")):
        old.unlink(missing_ok=True)


def raise_fd_limit(wanted: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (max(wanted, hard), wanted, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, target), target))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Shop:
    """The shop as a child process (`app.py --port P`) with a stock strategy and a raised fd limit."""

    def __init__(self, strategy: str, *, sandbox_port: int, env: dict | None = None, name: str = ""):
        """`env` overrides the environment (e.g. another database); `name` tells its log apart."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, FRESH_ORDERS_STOCK_STRATEGY=strategy, FRESH_WEB_PORT=str(self.port),
                   FRESH_WEB_BASE_URL=self.base_url, FRESH_SANDBOX_PORT=str(sandbox_port),
                   FRESH_SANDBOX_PUBLIC_URL=f"http://127.0.0.1:{sandbox_port}",
                   FRESH_ALIPAY_GATEWAY=f"http://127.0.0.1:{sandbox_port}/gateway.do", **(env or {}))
        # 10,000 idle websockets need more descriptors than the usual 1024; the hard limit is as far as we may go.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        limit = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
        argv = ["prlimit", f"--nofile={limit}:{limit}", PYTHON, "app.py", "--port", str(self.port)]
        self.child = Child(f"shop-{name or strategy}", argv, env)
        self.child.wait_http(self.base_url + "/healthz", timeout=60)
        self.strategy = strategy

    @property
    def pid(self) -> int:
        # prlimit execs the program, so the child's pid is the shop's.
        return self.child.pid

    def stop(self) -> None:
        self.child.stop()


def main() -> int:
    opts = Options()
    if opts.processes > 1 and not opts.base_url:
        progress(f"BENCH_PROCESSES={opts.processes}: the nginx scenarios run 1 and {opts.processes} processes;"
                 " the others run the one process the runner starts")
    configure_environment(opts)
    fds = raise_fd_limit()
    from bench import fixtures, report, scenarios
    from fresh.settings import load_settings

    cfg = load_settings()
    info = machine()
    info.update(started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), seconds=opts.seconds, connections=opts.connections,
                processes=opts.processes, fd_limit=fds, base_url=opts.base_url or "(started by the runner)",
                rounds=opts.rounds, event_loop=eventloop.loop_name())
    progress(f"{info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB; commit {info['commit']}")
    shoppers, sku_ids = eventloop.run(fixtures.prepare(cfg, shoppers=max(opts.buyers, 20)))

    results: list[Result] = []
    ceilings: dict[str, Result] = {}
    bare = Child("bare", [PYTHON, "-m", "bench.bare", "--port", str(bare_port := free_port()),
                          "--processes", str(opts.processes if opts.base_url else 1)])
    started = time.monotonic()
    shop = None
    try:
        bare.wait_http(f"http://127.0.0.1:{bare_port}/healthz")
        run = scenarios.Run(opts=opts, cfg=cfg, shoppers=shoppers, sku_ids=sku_ids, results=results,
                            ceilings=ceilings, bare_url=f"http://127.0.0.1:{bare_port}", shop_factory=Shop,
                            sandbox_port=free_port())
        run.all()
    finally:
        run_shop = getattr(locals().get("run"), "shop", None)
        for child in (run_shop, shop):
            if child is not None:
                child.stop()
        bare.stop()
    info["elapsed"] = f"{time.monotonic() - started:.0f} s"
    path = report.write(ROOT / "BENCHMARKS.md", info=info, results=results, ceilings=ceilings,
                        notes=run.notes, profile=run.profile)
    progress(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
