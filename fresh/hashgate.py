"""A bounded lane for password hashing (argon2 costs tens of milliseconds of CPU and 64 MiB per hash)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fresh.errors import Unavailable


class HashGate:
    """Runs password hashes on a few threads of their own, with a bounded queue in front: a login or
    registration flood costs at most `concurrency` cores of argon2 and never takes the default executor's threads
    (or the CPU) from other requests; past the queue it is refused with 503 at once."""

    def __init__(self, concurrency: int, queue: int):
        self.executor = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="argon2")
        self.capacity = max(1, concurrency) + max(0, queue)
        self.pending = 0  # touched only on the event loop's thread

    async def run(self, fn: Callable, *args):
        if self.pending >= self.capacity:
            raise Unavailable("登录人数过多，请稍后再试")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.pending -= 1

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
