"""The event loop every process of the shop runs on: uvloop (libuv) when it is installed and not turned off.

uvloop runs the same asyncio code with less CPU per socket operation, which is most of what the shop does per
request (HTTP, MariaDB and Redis round trips). FRESH_EVENT_LOOP=asyncio falls back to the standard loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any


def loop_name() -> str:
    wanted = os.environ.get("FRESH_EVENT_LOOP", "uvloop")
    if wanted == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "asyncio"
    return "uvloop" if wanted == "uvloop" else "asyncio"


def policy() -> asyncio.AbstractEventLoopPolicy:
    """The event loop policy of the chosen loop (for runners that make their own loops, such as pytest-asyncio)."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run(main) on the chosen loop."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
