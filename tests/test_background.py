"""fresh.background.every: the loop every background sweep runs in."""

from __future__ import annotations

import asyncio

import pytest

from fresh.background import every


async def test_a_failing_sweep_is_logged_and_the_loop_goes_on(caplog):
    runs = []
    third = asyncio.Event()

    async def sweep():
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("gateway down")
        if len(runs) == 3:
            third.set()

    task = asyncio.create_task(every(0.01, sweep, what="test sweep"))
    await asyncio.wait_for(third.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs[:3] == [0, 1, 2]
    failures = [r for r in caplog.records if r.getMessage().startswith("test sweep failed")]
    assert len(failures) == 1 and failures[0].exc_info[0] is RuntimeError


async def test_cancelling_during_a_sweep_ends_the_loop():
    started = asyncio.Event()

    async def sweep():
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(every(0.01, sweep, what="slow sweep"))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
