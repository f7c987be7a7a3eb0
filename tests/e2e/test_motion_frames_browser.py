"""The dashboard's jack and step hold buttons in headless Chromium, read on the bus.

The app runs in this process on a virtual bus with the simulated coach; a spy on the same
channel hears every frame CoachIQ sends. While a hold button is pressed, the move's frame
(LEVELING_CONTROL_COMMAND 1FFEE mode 71 with the jack's extend bits On, STEP_COMMAND 1FE88
direction 2 "extend") goes out every 100 ms; releasing the button puts the Stop on the bus (mode
11 "Abort Function", STEP_COMMAND direction 1 "stop"), and no move frame follows it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from tests.e2e.conftest import dashboard_page
from tests.safety.conftest import Heard, Live, live_coach

pytestmark = pytest.mark.e2e
JACKS = "leveling.jacks"  # the shipped coach's hydraulic four-point system
STEP = "step.entry"  # STEP_COMMAND instance 1
MANUAL_FOUR_POINT = "manual_hydraulic_electric_leveling_four_point"  # mode 71


async def _press(page: Any, test_id: str) -> None:
    """Put the mouse on a button (retrying while live updates redraw its card) and press it."""
    from playwright.async_api import Error as PlaywrightError

    button = page.get_by_test_id(test_id)
    deadline = time.monotonic() + 20
    while True:
        try:
            await button.scroll_into_view_if_needed(timeout=2000)
            box = await button.bounding_box(timeout=2000)
            if box is not None:
                break
            problem: object = "not visible"
        except PlaywrightError as error:  # replaced by a redraw while it was looked at
            problem = error
        assert time.monotonic() < deadline, f"{test_id} could not be pressed: {problem}"
        await page.wait_for_timeout(100)
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()


async def _hold(page: Any, test_id: str, seconds: float) -> float:
    """Hold a button for ``seconds``; the monotonic time it was released."""
    await _press(page, test_id)
    await asyncio.sleep(seconds)
    released = time.monotonic()
    await page.mouse.up()
    return released


def _check(moves: list[Heard], stops: list[Heard], released: float, held: float) -> None:
    """Moves repeated while held (never 400 ms apart), Stop within 1 s of the release, no move
    after it."""
    assert len(moves) >= 6, moves
    gaps = [b.at - a.at for a, b in itertools.pairwise(moves)]
    assert max(gaps) <= 0.4, gaps
    assert moves[-1].at - moves[0].at >= held - 0.6  # it kept going while the button was held
    after = [s for s in stops if s.at > moves[0].at]
    assert after and after[0].at - released < 1.0, (after, released)
    assert all(m.at < after[0].at for m in moves)


async def test_holding_the_jack_and_step_buttons_puts_the_frames_on_the_bus(
    chromium_path: str,
) -> None:
    live: Live
    async with live_coach() as live:
        await live.ready(JACKS, STEP)
        async with dashboard_page(chromium_path, live.ws_base.replace("ws://", "http://")) as page:
            await page.get_by_test_id(f"jack-{JACKS}").select_option("left_front")
            released = await _hold(page, f"extend-{JACKS}", 1.5)
            await asyncio.sleep(1.2)
            moves = live.spy.select(
                "LEVELING_CONTROL_COMMAND",
                operating_mode=MANUAL_FOUR_POINT,
                jack_extend_or_air_spring_fill_left_front="on",
            )
            assert all(
                m.signals["jack_extend_or_air_spring_fill_right_front"] == "off" for m in moves
            )
            aborts = live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="abort_function")
            _check(moves, aborts, released, 1.5)

            released = await _hold(page, f"extend-{STEP}", 1.5)
            await asyncio.sleep(1.2)
            moves = live.spy.select("STEP_COMMAND", instance=1, direction_of_movement="extend")
            stops = live.spy.select("STEP_COMMAND", instance=1, direction_of_movement="stop")
            _check(moves, stops, released, 1.5)
        safety = (await live.http.get("/api/safety")).json()
        assert safety["leases"] == []
        ends = {e["entity_id"]: e for e in safety["recent_lease_ends"]}
        assert ends[JACKS]["ran_s"] >= 1.3 and ends[STEP]["ran_s"] >= 1.3
