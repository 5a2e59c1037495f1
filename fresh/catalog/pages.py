"""Catalog pages rendered once per process and reused, with the per-visitor parts left as slots.

A page is rendered with marker strings in place of what differs between visitors — the user name in the top bar,
the header's cart count, the `_xsrf` form field — and split at the markers. Serving it again is a join of the
pieces with this visitor's values: no Jinja, no MariaDB. Two variants exist per page (guest and logged-in), since
base.html shows different links to each; if a template ever shows more of the user than the name (say a staff
link), it needs a variant or a slot of its own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from markupsafe import Markup, escape

from fresh.sessions import Session

# A random token per process: page data (goods names, admin HTML) cannot contain it by accident or on purpose.
_TOKEN = secrets.token_hex(8)
_MARK = re.compile(f"\x02{_TOKEN}:([a-z]+)\x03")


def slot(name: str) -> Markup:
    """The marker a template prints where the visitor's `name` value goes (survives autoescape unchanged)."""
    return Markup(f"\x02{_TOKEN}:{name}\x03")


SLOT_USER = "user"
SLOT_COUNT = "count"
SLOT_XSRF = "xsrf"

# What templates are given instead of the visitor's own values when a reusable page is rendered.
MARKED_USER = Session(sid="", user_id=-1, username=slot(SLOT_USER))


def marked_context(*, logged_in: bool) -> dict:
    return {
        "current_user": MARKED_USER if logged_in else None,
        "session": None,
        "cart_count": slot(SLOT_COUNT),
        "xsrf_form_html": lambda: slot(SLOT_XSRF),
    }


@dataclass(frozen=True)
class Pieces:
    """A rendered page split at its slots: text, slot name, text, slot name, ..., text."""

    parts: tuple[str, ...]

    @classmethod
    def split(cls, html: str) -> Pieces:
        return cls(tuple(_MARK.split(html)))

    def fill(self, values: dict[str, str]) -> bytes:
        out = list(self.parts)
        for i in range(1, len(out), 2):
            out[i] = values[out[i]]
        return "".join(out).encode("utf-8")


def visitor_values(*, username: str, cart_count: int, xsrf_form_html: str = "") -> dict[str, str]:
    return {SLOT_USER: str(escape(username)), SLOT_COUNT: str(int(cart_count)), SLOT_XSRF: xsrf_form_html}
