"""A small Prometheus text-format registry (counters, gauges, summaries) for /metrics; per process."""

from __future__ import annotations

import threading


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.help = help_text
        self._values: dict[tuple, float] = {}
        self._lock = threading.Lock()
        REGISTRY.append(self)

    @staticmethod
    def _key(labels: dict) -> tuple:
        return tuple(sorted(labels.items()))

    def samples(self):
        for key, value in sorted(self._values.items()):
            yield self.name, key, value


class Counter(_Metric):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(_Metric):
    kind = "gauge"

    def set(self, value: float, **labels) -> None:
        self._values[self._key(labels)] = value

    def inc(self, amount: float = 1.0, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels) -> None:
        self.inc(-amount, **labels)


class Summary(_Metric):
    """Count and sum only (no quantiles): enough for rates and means."""

    kind = "summary"

    def observe(self, value: float, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            count, total = self._values.get(key, (0, 0.0))
            self._values[key] = (count + 1, total + value)

    def samples(self):
        for key, (count, total) in sorted(self._values.items()):
            yield self.name + "_count", key, count
            yield self.name + "_sum", key, total


REGISTRY: list[_Metric] = []


def render() -> str:
    lines = []
    for metric in REGISTRY:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for name, key, value in metric.samples():
            labels = ",".join(f'{k}="{v}"' for k, v in key)
            lines.append(f"{name}{{{labels}}} {value}" if labels else f"{name} {value}")
    return "\n".join(lines) + "\n"


REQUESTS = Counter("fresh_http_requests_total", "HTTP requests by status class.")
PROBE_SECONDS = Summary("fresh_health_probe_seconds", "Time of the health probes.")
