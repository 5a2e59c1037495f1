"""fresh.paging: the one pagination of the shop's and the back office's lists."""

from __future__ import annotations

import pytest

from fresh.errors import NotFound
from fresh.paging import Page, PageOutOfRange, page_of


def test_a_page_of_a_list():
    page = page_of(total=26, number=2, size=12)
    assert (page.number, page.pages, page.total, page.offset) == (2, 3, 26, 12)
    assert page.has_prev and page.has_next and page.window == [1, 2, 3]
    assert page.with_items(["a"]).items == ["a"] and page.items == []


def test_an_empty_list_has_one_empty_page():
    page = page_of(total=0, number=1, size=12)
    assert (page.pages, page.offset, page.has_prev, page.has_next) == (1, 0, False, False)


@pytest.mark.parametrize(("total", "number", "nearest"), [(26, 4, 3), (26, 10**9, 3), (0, 2, 1), (26, 0, 1),
                                                            (26, -5, 1)])
def test_a_number_outside_the_pages_names_the_nearest_page(total, number, nearest):
    with pytest.raises(PageOutOfRange) as out:
        page_of(total=total, number=number, size=12)
    # Unhandled it is a 404 with a message; the lists' handlers redirect to `nearest` instead.
    assert out.value.nearest == nearest and isinstance(out.value, NotFound) and out.value.message


@pytest.mark.parametrize(("pages", "current", "window"), [
    (1, 1, [1]), (4, 4, [1, 2, 3, 4]), (9, 1, [1, 2, 3, 4, 5]), (9, 5, [3, 4, 5, 6, 7]), (9, 9, [5, 6, 7, 8, 9]),
])
def test_the_window_of_page_links(pages, current, window):
    assert Page(number=current, pages=pages, total=pages * 10, size=10).window == window
