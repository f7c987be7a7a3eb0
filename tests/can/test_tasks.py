"""cancel_and_wait: the child is cancelled and awaited; the caller's own cancellation survives."""

from __future__ import annotations

import asyncio

import pytest

from backend.integrations.can.tasks import cancel_and_wait


async def test_child_is_cancelled_and_awaited() -> None:
    child = asyncio.create_task(asyncio.sleep(60), name="child")
    await cancel_and_wait(child)
    assert child.cancelled()


async def test_callers_cancellation_propagates() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()  # takes a while to clean up
            raise

    child = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(child), name="stopper")
    await asyncio.sleep(0.01)
    stopper.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert child.done()


async def test_finished_or_missing_task_is_fine() -> None:
    await cancel_and_wait(None)

    async def boom() -> None:
        raise RuntimeError("already reported")

    failed = asyncio.create_task(boom(), name="boom")
    await asyncio.sleep(0)
    await cancel_and_wait(failed)
    assert failed.done()
