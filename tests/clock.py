"""A clock tests move by hand, for whatever takes one: the caches whose entries expire (fresh.catalog.cache.use_clock),
the replica's retry (fresh.replica.open_reads), the drain's quiet period and deadline (Application.clock)."""

from __future__ import annotations


class ManualClock:
    """Monotonic seconds that pass only when the test calls advance()."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock never goes back"
        self.now += seconds
