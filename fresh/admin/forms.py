"""What the back office's domain modules return for a submitted form: the values as typed and the message of
each invalid field (the handlers show the form again with both)."""

from __future__ import annotations

from typing import Any


class Form:
    """Submitted values (kept as typed, to show again on error) and the message of each invalid field."""

    def __init__(self, values: dict[str, Any] | None = None):
        self.values: dict[str, Any] = dict(values or {})
        self.errors: dict[str, str] = {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def get(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name)
        return default if value is None else value
