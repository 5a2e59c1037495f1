"""BENCHMARKS.md: machine, commit, date, every figure with its ceiling from the same run, and the targets."""

from __future__ import annotations

from pathlib import Path

from bench.common import Result


def _num(value, fmt: str = "{:,.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def _met(result: Result) -> str:
    if not result.available:
        return "not available"
    return {True: "**met**", False: "**not met**", None: ""}[result.met]


def _row(r: Result) -> str:
    if not r.available:
        return f"| {r.scenario} | — | — | — | — | — | {r.target or '—'} | not available: {r.note} |"
    ratio = f"{r.ratio:.1%} of {r.ceiling}" if r.ratio is not None else "—"
    target = r.target or "—"
    verdict = _met(r)
    note = "; ".join(x for x in (f"{r.errors} errors" if r.errors else "", r.note) if x)
    return (f"| {r.scenario} | {_num(r.rps)} {r.unit} | {_num(r.p50_ms, '{:.1f}')} | {_num(r.p99_ms, '{:.1f}')} "
            f"| {r.requests:,} | {ratio} | {target} | {' '.join(x for x in (verdict, note) if x) or '—'} |")


HEADER = ("| scenario | rate | p50 ms | p99 ms | count | vs ceiling (same run) | target | result |\n"
          "|---|---:|---:|---:|---:|---|---|---|")


def write(path: Path, *, info: dict, results: list[Result], ceilings: dict, notes: list[str], profile: dict,
          analysis: str = "") -> Path:
    ceiling_rows = [r for r in results if r.scenario.startswith("ceiling:")]
    rows = [r for r in results if not r.scenario.startswith("ceiling:")]
    targets = [r for r in rows if r.target]
    met = [r for r in targets if r.met]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); do not edit by hand — the runner rewrites this file.",
        "Every figure is measured against 127.0.0.1 on a freshly seeded database (`dailyfresh_bench`, Redis db 10)",
        "and set against a ceiling measured **in the same run on the same machine**, because these machines are",
        "shared and noisy: the ratio is the figure to compare between runs, not the absolute rate. Each HTTP",
        "scenario runs in short rounds, each right after a round of its ceiling, and its ratio is the median of the",
        "rounds' ratios; each stock strategy's order scenarios run between two measurements of the hot-row ceiling",
        "and are compared with their mean.",
        "",
        "## Run",
        "",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB RAM, Linux {info['kernel']},"
        f" Python {info['python']}",
        f"- commit: `{info['commit']}`",
        f"- date: {info['started']} (whole run {info.get('elapsed', '?')})",
        f"- load: wrk, {info['connections']} connections, {info['seconds']:g} s per scenario"
        f" ({info.get('rounds', 1)} rounds for HTTP); the shop as {info['processes']} process(es) at"
        f" {info['base_url']} on {info.get('event_loop', 'asyncio')}; fd limit {info['fd_limit']}",
        "",
        f"Targets met: **{len(met)} of {len(targets)}**"
        + (" (" + ", ".join(f"{r.scenario}: {_met(r).strip('*')}" for r in targets) + ")" if targets else ""),
        "",
        "## Ceilings",
        "",
        HEADER,
        *(_row(r) for r in ceiling_rows),
        "",
        "## Scenarios",
        "",
        HEADER,
        *(_row(r) for r in rows),
        "",
    ]
    details = [r for r in rows if r.extra.get("details")]
    if details:
        lines += ["## Details", ""]
        for r in details:
            lines.append(f"- **{r.scenario}**: {r.extra['details']}")
        lines.append("")
    if profile:
        lines += ["## Profiles", "",
                  "py-spy (`record -r 100`, CPU samples only, stacks read with the process paused so they are whole)"
                  " on the shop process while the scenario ran again; shares of the process's samples.", ""]
        for summary in profile.values():
            lines += [
                f"### {summary['scenario']}",
                "",
                f"{summary['samples']:,} samples; {_num(summary.get('rate_while_profiled'))} {summary.get('unit', '')}"
                f" while sampled; raw stacks in `{summary.get('raw', '')}`.",
                "",
                "| self time (leaf function) | share |",
                "|---|---:|",
                *(f"| `{name}` | {share:.1%} |" for name, share in summary["self"][:10]),
                "",
                "| inclusive time | share |",
                "|---|---:|",
                *(f"| `{name}` | {share:.1%} |" for name, share in summary["inclusive"][:14]),
                "",
            ]
    findings = Path(__file__).with_name("findings.md")
    if not analysis and findings.is_file():
        analysis = findings.read_text()
    if analysis:
        lines += [analysis.rstrip(), ""]
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    path.write_text("\n".join(lines))
    return path
