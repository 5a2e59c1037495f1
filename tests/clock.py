"""A clock tests move by hand, for the caches whose entries expire (fresh.catalog.cache.use_clock)."""

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
