"""Shared pieces of the benchmark runner: the environment, results, percentiles and child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VAR = OUT / "var"
LOGS = OUT / "logs"
PYTHON = sys.executable


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().isdigit() else default


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass
class Options:
    """Knobs, all from the environment so `make bench BENCH_SECONDS=10` works."""

    seconds: float = field(default_factory=lambda: env_float("BENCH_SECONDS", 6.0))
    processes: int = field(default_factory=lambda: env_int("BENCH_PROCESSES", 1))
    connections: int = field(default_factory=lambda: env_int("BENCH_CONNECTIONS", 50))
    wrk_threads: int = field(default_factory=lambda: env_int("BENCH_WRK_THREADS", 1))
    # HTTP scenarios run in this many short rounds (2 s at least), each right after a round of their ceiling.
    rounds: int = field(default_factory=lambda: max(1, env_int("BENCH_ROUNDS", 5)))
    # Upper bound on requests per scenario (time is the other bound).
    max_requests: int = field(default_factory=lambda: env_int("BENCH_MAX_REQUESTS", 200_000))
    buyers: int = field(default_factory=lambda: env_int("BENCH_BUYERS", 50))
    max_orders: int = field(default_factory=lambda: env_int("BENCH_MAX_ORDERS", 20_000))
    ws_idle: int = field(default_factory=lambda: env_int("BENCH_WS_IDLE", 10_000))
    payments: int = field(default_factory=lambda: env_int("BENCH_PAYMENTS", 1_000))
    # Arrival rate of the paced notify scenario (payments per second), whose p99 is held to the 50 ms target.
    notify_rate: int = field(default_factory=lambda: env_int("BENCH_NOTIFY_RATE", 100))
    base_url: str = field(default_factory=lambda: os.environ.get("BENCH_BASE_URL", "").rstrip("/"))
    db_name: str = field(default_factory=lambda: os.environ.get("FRESH_DB_NAME", "dailyfresh_bench"))
    redis_url: str = field(default_factory=lambda: os.environ.get("FRESH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    # Comma-separated scenario names to run (default: all).
    only: str = field(default_factory=lambda: os.environ.get("BENCH_ONLY", ""))
    profile: bool = field(default_factory=lambda: os.environ.get("BENCH_PROFILE", "1") not in ("0", "", "no"))

    def wants(self, name: str) -> bool:
        return not self.only or any(name.startswith(p.strip()) for p in self.only.split(",") if p.strip())


@dataclass
class Result:
    """One line of the table."""

    scenario: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    errors: int = 0
    ceiling: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    unit: str = "req/s"
    note: str = ""
    extra: dict = field(default_factory=dict)
    available: bool = True


def combine(scenario: str, runs: list[Result]) -> Result:
    """Several runs of one scenario as one line: requests and time add up, p50 is the median run's, p99 the worst
    run's (the runs' own percentiles, not recomputed over every request)."""
    elapsed = sum(r.requests / r.rps for r in runs if r.rps)
    requests = sum(r.requests for r in runs)
    p50s = sorted(r.p50_ms for r in runs if r.p50_ms is not None)
    p99s = [r.p99_ms for r in runs if r.p99_ms is not None]
    first = runs[0]
    return Result(scenario=scenario, rps=requests / elapsed if elapsed else None,
                  p50_ms=p50s[len(p50s) // 2] if p50s else None, p99_ms=max(p99s) if p99s else None,
                  requests=requests, errors=sum(r.errors for r in runs), unit=first.unit, note=first.note,
                  extra=dict(runs[-1].extra, runs=len(runs)))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of a list (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(q / 100.0 * len(ordered) + 0.4999))))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def progress(message: str) -> None:
    print(f"[bench] {message}", flush=True)


class Child:
    """A server started as a child process in its own process group, logged to bench/out/logs/."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def vm_rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def machine() -> dict:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
    }
