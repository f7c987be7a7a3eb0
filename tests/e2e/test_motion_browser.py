"""Motion safety on the dashboard in headless Chromium: a held button renews over the WebSocket,
"Stop all" shows while something moves, and the chassis notice for a coach without
CHASSIS_MOBILITY_STATUS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH
from tests.e2e.conftest import LAPTOP, PageFactory, Server, _free_port, screenshot

pytestmark = pytest.mark.e2e
SLIDE = "slide.living"


def expect():
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=10_000)
    return playwright_expect


def _centre(page, test_id: str) -> tuple[float, float]:
    """The centre of a button on the page, retrying while live updates redraw its card (the
    button is replaced, or not yet laid out, for a moment)."""
    from playwright.sync_api import Error as PlaywrightError

    button = page.get_by_test_id(test_id)
    deadline = time.monotonic() + 20
    while True:
        try:
            button.scroll_into_view_if_needed(timeout=2000)
            box = button.bounding_box(timeout=2000)
            if box is not None:
                return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            problem: object = "not visible"
        except PlaywrightError as error:
            problem = error
        assert time.monotonic() < deadline, f"{test_id} could not be pressed: {problem}"
        page.wait_for_timeout(100)


def safety(server: Server) -> dict:
    return httpx.get(f"{server.base_url}/api/safety", timeout=5).json()


def wait_parked(server: Server) -> None:
    deadline = time.monotonic() + 15
    while not safety(server)["interlock"]["parked"]:
        assert time.monotonic() < deadline, safety(server)
        time.sleep(0.2)


def test_holding_extend_renews_over_the_websocket_and_stop_all_shows(open_page, server) -> None:
    wait_parked(server)
    page = open_page(LAPTOP)
    expect()(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect()(page.get_by_test_id("stop-all")).to_be_hidden()
    _press(page, f"extend-{SLIDE}")
    page.wait_for_timeout(1500)  # held well past the 400 ms hold timeout
    leases = [lease for lease in safety(server)["leases"] if lease["entity_id"] == SLIDE]
    assert leases and leases[0]["renewals"] >= 5, [
        (e["ended"], e["ran_s"]) for e in safety(server)["recent_lease_ends"]
    ]
    expect()(page.get_by_test_id("stop-all")).to_be_visible()
    screenshot(page, "motion-holding")
    page.mouse.up()
    deadline = time.monotonic() + 5
    while any(lease["entity_id"] == SLIDE for lease in safety(server)["leases"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ended = [e for e in safety(server)["recent_lease_ends"] if e["entity_id"] == SLIDE][-1]
    assert ended["ran_s"] >= 1.3  # it lived because the page renewed it, then the release ended it
    expect()(page.get_by_test_id("stop-all")).to_be_hidden()


@pytest.fixture
def absent_server(chromium_path: str, tmp_path: Path) -> Iterator[Server]:
    mapping = tmp_path / "coach.yml"
    mapping.write_text(
        DEFAULT_MAPPING_PATH.read_text(encoding="utf-8") + "\nchassis: {mobility_status: absent}\n",
        encoding="utf-8",
    )
    instance = Server(
        _free_port(), tmp_path / "server.log", env={"COACHIQ_RVC__COACH_MAPPING_PATH": str(mapping)}
    )
    instance.start()
    yield instance
    instance.stop()


def test_chassis_absent_shows_a_permanent_notice(browser, absent_server) -> None:
    factory = PageFactory(browser, absent_server)
    try:
        page = factory(LAPTOP)
        notice = page.get_by_test_id("chassis-notice")
        expect()(notice).to_be_visible()
        expect()(notice).to_contain_text("does not report whether it is moving")
        page.wait_for_timeout(2500)  # still there after a few safety polls
        expect()(notice).to_be_visible()
        screenshot(page, "motion-chassis-absent")
    finally:
        factory.close()


def _press(page, test_id: str):
    """Move the mouse onto a button (retrying while live updates redraw its card), press it."""
    page.mouse.move(*_centre(page, test_id))
    page.mouse.down()


def _held_then_released(server: Server, page, entity_id: str, command: dict) -> None:
    page.wait_for_timeout(1500)  # held well past the 400 ms hold timeout
    leases = [lease for lease in safety(server)["leases"] if lease["entity_id"] == entity_id]
    assert leases and leases[0]["command"] == command and leases[0]["renewals"] >= 5, leases
    page.mouse.up()
    deadline = time.monotonic() + 5
    while any(lease["entity_id"] == entity_id for lease in safety(server)["leases"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ended = [e for e in safety(server)["recent_lease_ends"] if e["entity_id"] == entity_id][-1]
    assert ended["ran_s"] >= 1.3


def test_jack_and_step_cards_hold_like_a_slide(open_page, server) -> None:
    wait_parked(server)
    page = open_page(LAPTOP)
    expect()(page.locator("#conn")).to_have_attribute("data-state", "live")
    jacks = "leveling.jacks"
    expect()(page.get_by_test_id(f"jacks-down-{jacks}")).to_contain_text("0 of 4 jacks down")
    page.get_by_test_id(f"jack-{jacks}").select_option("left_front")
    _press(page, f"extend-{jacks}")
    screenshot(page, "motion-jack-holding")
    _held_then_released(server, page, jacks, {"command": "extend", "jack": "left_front"})
    expect()(page.get_by_test_id(f"jacks-down-{jacks}")).to_contain_text("1 of 4 jacks down")
    _press(page, "extend-step.entry")
    _held_then_released(server, page, "step.entry", {"command": "extend"})
    expect()(page.get_by_test_id("auto_level-leveling.jacks")).to_be_visible()
