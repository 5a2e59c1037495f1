"""The event loop every process of the shop runs on: uvloop (libuv) when it is installed and not turned off.

uvloop runs the same asyncio code with less CPU per socket operation, which is most of what the shop does per
request (HTTP, MariaDB and Redis round trips). FRESH_EVENT_LOOP=asyncio falls back to the standard loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any


def _uvloop():
    """The uvloop module when it is wanted (FRESH_EVENT_LOOP, default uvloop) and installed, else None."""
    if os.environ.get("FRESH_EVENT_LOOP", "uvloop") != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def loop_name() -> str:
    return "uvloop" if _uvloop() else "asyncio"


def policy() -> asyncio.AbstractEventLoopPolicy:
    """The event loop policy of the chosen loop (for runners that make their own loops, such as pytest-asyncio)."""
    uvloop = _uvloop()
    return uvloop.EventLoopPolicy() if uvloop else asyncio.DefaultEventLoopPolicy()


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run(main) on the chosen loop."""
    uvloop = _uvloop()
    return uvloop.run(main) if uvloop else asyncio.run(main)
