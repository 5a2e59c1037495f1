"""Logging: the request id on every line, readable text or one JSON object per line, and domain events.

Every record carries `request_id`, `route` and `user_id` from a context variable: BaseHandler binds them for the
request it serves (the id from nginx's X-Request-Id, or a new one), background work binds an id per unit of work
(`unit_of_work("expire:<order_id>")`), and tasks started meanwhile inherit them. `event()` writes a domain event
(order placed, payment recorded, ...) as a readable line whose fields also travel as JSON keys.

Never pass a password, a session id, a cookie, a key or a signature to a log call: nothing here can recognise one.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


@dataclass
class LogContext:
    """What the lines written for one request (or one unit of background work) share; the user is filled in
    once the session is loaded."""

    request_id: str
    route: str = ""
    user_id: int = 0


_CONTEXT: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("fresh_log_context", default=None)


def current() -> LogContext | None:
    return _CONTEXT.get()


def bind(ctx: LogContext) -> contextvars.Token:
    """Make `ctx` the context of every line written from here on in this task (and the tasks it starts)."""
    return _CONTEXT.set(ctx)


@contextlib.contextmanager
def unit_of_work(work_id: str) -> Iterator[LogContext]:
    """Log the block's lines under their own id (background work: one order of the watcher or the expiry)."""
    ctx = LogContext(request_id=work_id)
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


# --- records -------------------------------------------------------------------------------------------------

_installed_base = None


def install() -> None:
    """Make every LogRecord of the process carry the context's fields (idempotent). A record factory rather than
    a handler filter, so the fields are there for whatever handler (or test capture) ends up writing the line."""
    global _installed_base
    if _installed_base is not None:
        return
    base = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = base(*args, **kwargs)
        ctx = _CONTEXT.get()
        if ctx is None:
            record.request_id, record.route, record.user_id = "-", "", 0
        else:
            record.request_id, record.route, record.user_id = ctx.request_id, ctx.route, ctx.user_id
        return record

    _installed_base = base
    logging.setLogRecordFactory(factory)


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields) -> None:
    """Log the domain event `name` with its fields: `order_placed order_id=... amount=...` as text, and
    {"event": "order_placed", "order_id": ..., ...} in JSON."""
    if not logger.isEnabledFor(level):
        return
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    # The fields travel as one attribute: as extras of their own, a field named like a LogRecord attribute
    # (user_id, name, ...) would make logging raise in the middle of the domain's work.
    logger.log(level, "%s %s", name, text, extra={"event": name, "fields": fields})


# --- output --------------------------------------------------------------------------------------------------

# The attributes every LogRecord has; anything else on a record came from `extra` (an event's fields, the access
# line's status and duration).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id", "route", "user_id", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, route, user_id, then the event's name
    and fields (and status, method, path, duration_ms on the access line), then exc for a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        route = getattr(record, "route", "")
        if route:
            out["route"] = route
        user_id = getattr(record, "user_id", 0)
        if user_id:
            out["user_id"] = user_id
        for key, value in record.__dict__.items():
            if key == "fields" and isinstance(value, dict):
                for field, field_value in value.items():
                    out.setdefault(field, field_value)
            elif key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable line of `make run`; records made before install() (none in practice) still format."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return super().format(record)


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter(TEXT_FORMAT)
    raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def setup_logging(fmt: str = "text", level: str = "INFO", stream=None) -> None:
    """The process's logging: one handler on the root logger, writing `fmt` lines to stderr (or `stream`)."""
    install()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
