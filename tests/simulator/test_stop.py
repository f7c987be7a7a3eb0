"""Stopping the simulated coach: a cancelled stop ends cancelled, and stopping again finishes."""

from __future__ import annotations

import asyncio

import pytest

from tests.simulator.conftest import Bench


async def test_a_cancelled_stop_is_not_swallowed(bench: Bench) -> None:
    # The server's shutdown being cancelled (Ctrl-C twice, a shutdown timeout) must propagate
    # out of the simulator's stop instead of looking like a clean stop.
    stopper = asyncio.create_task(bench.coach.stop())
    await asyncio.sleep(0)  # the stop has cancelled the coach's task and waits for it
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert stopper.cancelled()
    await bench.coach.stop()  # a second stop completes the shutdown (the fixture stops again)
    assert bench.coach.buses == {}
