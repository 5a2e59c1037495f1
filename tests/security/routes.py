"""The route table as the security suite sees it: read from a real `make_app()` at collection time, so a route
another package adds (admin pages, /readyz ...) is attacked without anyone editing these tests."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from dataclasses import dataclass

import tornado.web
import tornado.websocket

from fresh.settings import Settings
from fresh.web import make_app

METHODS = ("get", "post", "put", "delete", "patch")
# Argument names a handler's module reads (self.arg("x"), int_arg, get_argument(s), f-string prefixes too).
_ARG_RE = re.compile(r"\.(?:arg|int_arg|get_argument|get_arguments|get_body_argument|get_query_argument)\(\s*f?"
                     r"[\"']([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Route:
    pattern: str           # the path regex, without the trailing $
    handler: type
    name: str
    methods: tuple[str, ...]
    fields: tuple[str, ...]

    @property
    def is_websocket(self) -> bool:
        return issubclass(self.handler, tornado.websocket.WebSocketHandler)

    @property
    def is_admin(self) -> bool:
        return self.pattern.startswith("/admin")

    @property
    def exempt_from_xsrf(self) -> bool:
        """Server-to-server endpoints (the Alipay notify) check a signature instead of `_xsrf`."""
        return "check_xsrf_cookie" in vars(self.handler)

    @property
    def groups(self) -> list[str]:
        return _top_level_groups(self.pattern)

    def fill(self, values: list[str]) -> str:
        """The path with the groups replaced by `values` (in order)."""
        out, end = [], 0
        for (start, stop), value in zip(_top_level_spans(self.pattern), values, strict=True):
            out += [self.pattern[end:start - 1], value]
            end = stop + 1
        out.append(self.pattern[end:])
        return _unescape("".join(out))

    def __str__(self) -> str:
        return f"{self.pattern} [{','.join(self.methods)}]"


def _top_level_groups(pattern: str) -> list[str]:
    return [pattern[start:stop] for start, stop in _top_level_spans(pattern)]


def _top_level_spans(pattern: str) -> list[tuple[int, int]]:
    """Where each outermost group's body starts and stops in a route regex (escaped parentheses skipped)."""
    spans, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                spans.append((start, i))
        i += 1
    return spans


def _unescape(text: str) -> str:
    """Literal parts of a route regex: `\\.` -> `.`, optional `?` after a slash dropped."""
    return re.sub(r"\\(.)", r"\1", text.replace("/?", "/"))


# ... and the names of `{k: self.arg(k) for k in ("a", "b")}`.
_LOOP_RE = re.compile(r"for \w+ in \(([^)]*)\)")


def _fields(handler: type) -> tuple[str, ...]:
    """Every argument name the handler's modules read: a superset of what this handler reads."""
    names: set[str] = set()
    for cls in handler.__mro__:
        module = sys.modules.get(cls.__module__)
        if module is None or not cls.__module__.startswith("fresh."):
            continue
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            continue
        names.update(_ARG_RE.findall(source))
        for group in _LOOP_RE.findall(source):
            names.update(re.findall(r"[\"']([A-Za-z_]\w*)[\"']", group))
    return tuple(sorted(names))


def _methods(handler: type) -> tuple[str, ...]:
    return tuple(m.upper() for m in METHODS
                 if getattr(handler, m, None) is not getattr(tornado.web.RequestHandler, m))


def route_table() -> list[Route]:
    cfg = dataclasses.replace(Settings(), web=dataclasses.replace(Settings().web, cookie_secret="x" * 40))
    app = make_app(cfg, pool=None, redis=None)
    try:
        routes = []
        for rule in app.wildcard_router.rules:
            pattern = rule.matcher.regex.pattern
            routes.append(Route(pattern=pattern[:-1] if pattern.endswith("$") else pattern,
                                handler=rule.target, name=rule.name or "", methods=_methods(rule.target),
                                fields=_fields(rule.target)))
        return routes
    finally:
        app.close()


ROUTES = route_table()
