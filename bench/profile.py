"""py-spy on the shop process while wrk replays the slowest HTTP scenario: where one request's CPU goes."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

from bench.common import OUT, PYTHON, Result, progress
from bench.http import run_wrk

_LINE = re.compile(r":\d+\)$")


def _frame(frame: str) -> str:
    """`fn (path/to/file.py:123)` -> `fn (file.py path, no line)` so one function is one row."""
    frame = _LINE.sub(")", frame.strip())
    return frame.replace("/work/main/", "").replace(str(Path(PYTHON).parent.parent) + "/lib/python3.11/", "")


def summarise(raw: Path, top: int = 15) -> dict:
    """Self and inclusive sample shares per function from py-spy's collapsed-stack output."""
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        total += n
        if frames:
            leaf[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    # The event loop's own frames are in every stack: they say nothing about where a request's time goes.
    for name in [n for n in inclusive if n.startswith("<module>") or "asyncio/" in n or "selectors.py" in n]:
        if inclusive[name] >= 0.9 * total:
            del inclusive[name]
    share = (lambda c: [(name, n / total) for name, n in c.most_common(top)]) if total else (lambda c: [])
    return {"samples": total, "self": share(leaf), "inclusive": share(inclusive)}


def profile_during(run, label: str, load, *, seconds: float | None = None) -> dict:
    """Record the shop with py-spy while `load()` (blocking) drives it; return the summary."""
    spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not Path(spy).exists() or run.shop is None:
        progress("profile: py-spy not installed (pip install py-spy) or no local shop; skipped")
        return {}
    seconds = seconds or max(2, round(run.opts.seconds))
    out = OUT / f"profile-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')[:40]}.txt"
    progress(f"profiling {label} with py-spy for {seconds} s")
    argv = [spy, "record", "-r", "100", "-d", str(seconds), "-p", str(run.shop.pid),
            "-f", "raw", "-o", str(out)]
    spy_proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    loaded: dict = {}
    thread = threading.Thread(target=lambda: loaded.update(result=load()))
    thread.start()
    thread.join()
    try:
        _, err = spy_proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        spy_proc.kill()
        _, err = spy_proc.communicate()
    if not out.is_file():
        progress(f"profile: py-spy wrote nothing ({err.strip()[-200:]})")
        return {}
    summary = summarise(out)
    result = loaded.get("result")
    summary.update(scenario=label, rate_while_profiled=getattr(result, "rps", None),
                   unit=getattr(result, "unit", ""), raw=str(out.relative_to(OUT.parent.parent)))
    progress(f"profile: {summary['samples']} samples; top self: "
             + ", ".join(f"{name} {share:.0%}" for name, share in summary["self"][:3]))
    return summary


def profile_http(run, result: Result) -> dict:
    """py-spy while wrk replays `result`'s requests."""
    seconds = max(2, round(run.opts.seconds))
    return profile_during(run, result.scenario, lambda: run_wrk(
        result.scenario, run.base_url, Path(result.extra["requests_file"]), run.opts, seconds=seconds),
        seconds=seconds)
