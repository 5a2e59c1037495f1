"""The one owner of a process's background tasks: started together with the app, cancelled and awaited together.

`make_app` lists the work (`app.background`: the live-status listener, then each package's BACKGROUND, e.g. the
payment watcher and the order expiry); `app.py`'s `main()` starts it after listening and stops it on shutdown.
Nothing else starts a long-lived task.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

from fresh.hooks import Background, Context

log = logging.getLogger("fresh.background")


def task_name(work: Background) -> str:
    return getattr(work, "__qualname__", repr(work))


class BackgroundTasks:
    """Runs each background coroutine function as one task; a task that dies is logged, not restarted (each loop
    catches its own errors, so a death is a bug worth seeing)."""

    def __init__(self, ctx: Context, work: Sequence[Background]):
        self.ctx = ctx
        self.work = list(work)
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        if self.tasks:
            raise RuntimeError("background tasks already started")
        for work in self.work:
            task = asyncio.create_task(work(self.ctx), name=task_name(work))
            task.add_done_callback(_report_early_end)
            self.tasks.append(task)

    async def stop(self, timeout: float = 3.0) -> None:
        """Cancel every task and wait (at most `timeout` seconds) for them to finish."""
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning("background task %s did not stop within %.0fs", task.get_name(), timeout)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("background task %s had failed: %r", task.get_name(), task.exception())

    async def __aenter__(self) -> BackgroundTasks:
        self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()


async def every(interval: float, sweep: Callable[[], Awaitable[object]], *, what: str, jitter: float = 0.2) -> None:
    """Await `sweep()` every `interval` seconds (each wait drawn within ±`jitter` of it) until cancelled. The first
    run waits a random part of one interval, so processes started together do not all wake at once. A failed run
    is logged and the next one goes on: a background loop outlives any one bad sweep."""
    await asyncio.sleep(random.uniform(0, interval))
    while True:
        try:
            await sweep()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s failed; next try in %.1fs", what, interval, exc_info=True)
        await asyncio.sleep(interval * random.uniform(1 - jitter, 1 + jitter))


def _report_early_end(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task %s died", task.get_name(), exc_info=exc)
    else:
        # One-shot start-up work (payments.prepare_client) ends here; loops never return.
        log.info("background task %s finished", task.get_name())
