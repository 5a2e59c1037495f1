"""Paging for the admin lists: out-of-range page numbers land on the nearest page (lists change under staff)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Page:
    number: int
    pages: int
    total: int
    size: int
    items: list = field(default_factory=list)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def with_items(self, items: list) -> Page:
        return replace(self, items=items)

    @property
    def window(self) -> list[int]:
        first = max(1, min(self.number - 3, self.pages - 6))
        return list(range(first, min(self.pages, first + 6) + 1))


def page_of(total: int, number: int, size: int) -> Page:
    pages = max(1, math.ceil(total / size))
    return Page(number=min(max(number, 1), pages), pages=pages, total=total, size=size)


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '!') matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"
