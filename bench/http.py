"""HTTP load with wrk: prepared requests (cookies, `_xsrf`, form bodies) cycled by a Lua script."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench.common import OUT, ROOT, Options, Result

WRK_DIR = ROOT / "bench" / "wrk"


def write_requests(name: str, lines: list[tuple[str, str, str, str]]) -> Path:
    """Write (method, path, cookie header, form body) lines for wrk/requests.lua."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.tsv"
    with open(path, "w") as fh:
        for fields in lines:
            assert not any("\t" in f or "\n" in f for f in fields), fields
            fh.write("\t".join(fields) + "\n")
    return path


def _script() -> Path:
    """requests.lua with the reporting functions appended (wrk loads one file)."""
    path = OUT / "wrk_requests.lua"
    path.write_text((WRK_DIR / "requests.lua").read_text() + "\n" + (WRK_DIR / "report.lua").read_text())
    return path


def run_wrk(scenario: str, base_url: str, requests_file: Path, opts: Options, *,
            seconds: float | None = None) -> Result:
    """Run wrk against base_url cycling through requests_file; return rate, p50 and p99."""
    seconds = seconds or opts.seconds
    env = dict(os.environ, BENCH_MAX_PER_THREAD=str(max(1, opts.max_requests // opts.wrk_threads)))
    argv = ["wrk", f"-t{opts.wrk_threads}", f"-c{opts.connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "5s", "-s", str(_script()), base_url, "--", str(requests_file)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    data = json.loads(line[len("BENCH_JSON "):])
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    duration = data["duration_us"] / 1e6
    return Result(
        scenario=scenario,
        rps=data["requests"] / duration if duration else None,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        errors=errors,
        extra={"wrk": data, "requests_file": str(requests_file), "base_url": base_url},
    )
