"""One pagination for every list of the shop and the back office.

Pages are numbered from 1. A number outside 1..pages (a link made before the list shrank, a hand-typed URL) is
PageOutOfRange, carrying the nearest page (the last one past the end, 1 below the start): the list's handler
redirects there, so the page shown always matches its URL. Unhandled, it is a 404.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from fresh.errors import NotFound

WINDOW = 5  # page links shown around the current one


class PageOutOfRange(NotFound):
    message = "页码超出范围"

    def __init__(self, nearest: int):
        super().__init__()
        self.nearest = nearest


@dataclass(frozen=True)
class Page:
    number: int
    pages: int
    total: int
    size: int
    items: list = field(default_factory=list)

    @property
    def offset(self) -> int:
        """Rows before this page (the query's OFFSET)."""
        return (self.number - 1) * self.size

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def window(self) -> list[int]:
        """At most WINDOW page numbers, the current one as central as the range allows."""
        first = max(1, min(self.number - WINDOW // 2, self.pages - WINDOW + 1))
        return list(range(first, min(self.pages, first + WINDOW - 1) + 1))

    def with_items(self, items: list) -> Page:
        return replace(self, items=items)


def page_of(total: int, number: int, size: int) -> Page:
    """Page `number` of a list of `total` rows, `size` a page (an empty list has one, empty, page).

    PageOutOfRange when `number` is not a page of it."""
    pages = max(1, math.ceil(total / size))
    if not 1 <= number <= pages:
        raise PageOutOfRange(min(max(number, 1), pages))
    return Page(number=number, pages=pages, total=total, size=size)
