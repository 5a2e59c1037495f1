"""Counting the catalog's shared-page renders through the app's own metric (fresh_catalog_page_renders_total)."""

from __future__ import annotations

from prometheus_client import REGISTRY


def _total(page: str) -> float:
    return REGISTRY.get_sample_value("fresh_catalog_page_renders_total", {"page": page}) or 0.0


class Renders:
    """Renders of one page kind (index, detail) since this object was made (the counter is process-wide)."""

    def __init__(self, page: str):
        self.page = page
        self.start = _total(page)

    def count(self) -> int:
        return int(_total(self.page) - self.start)
