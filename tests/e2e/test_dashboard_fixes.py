"""Dashboard fixes from a new owner's first run (issue 16), in headless Chromium.

Two servers: the simulated coach with a replayed log under a long path beside it, and a server
that only replays that log (no mapping chosen: an empty coach, devices unmapped).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LAPTOP, Server, _free_port, screenshot
from tests.e2e.test_dashboard_browser import expect, reported, wait_live

pytestmark = pytest.mark.e2e
NARROW = {"width": 360, "height": 740}
VIEWS = ("coach", "alerts", "can", "discover", "setup")
# AIR_CONDITIONER_COMMAND frames as a 2022 Entegra sends them (plain candump: no timestamps).
CAPTURE = (
    "".join(f"  can0  19FFE096   [8]  0{instance} 01 FF FF 64 C8 FF FF\n" for instance in (1, 2, 3))
    * 4
)


def long_log(base: Path) -> Path:
    """A capture under a path as long as people's home folders make them."""
    folder = base / "captures" / "entegra-aspire-2022-front-air-conditioner-and-thermostat-session"
    folder.mkdir(parents=True)
    path = folder / "candump-2022-07-14-afternoon-with-generator-running-and-shore-off.txt"
    path.write_text(CAPTURE)
    return path


@pytest.fixture(scope="module")
def replay_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return long_log(tmp_path_factory.mktemp("long"))


@pytest.fixture(scope="module")
def coach_server(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory, replay_path: Path
) -> Iterator[Server]:
    env = {
        "COACHIQ_CAN__INTERFACES": f"virtual0,replay:{replay_path}?rate=20",
        "COACHIQ_DASHBOARD__CAN_INACTIVITY_SECONDS": "1",
    }
    instance = Server(_free_port(), tmp_path_factory.mktemp("coach") / "server.log", env)
    instance.start()
    yield instance
    instance.stop()


def _replay_finished(server: Server) -> bool:
    interfaces = httpx.get(f"{server.base_url}/api/can/interfaces", timeout=1).json()
    replay = interfaces["interfaces"][0]["replay"]
    return bool(replay and replay["finished"])


@pytest.fixture(scope="module")
def replay_server(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory, replay_path: Path
) -> Iterator[Server]:
    env = {
        "COACHIQ_CAN__INTERFACES": f"replay:{replay_path}?rate=50",
        "COACHIQ_DASHBOARD__CAN_INACTIVITY_SECONDS": "1",
    }
    log = tmp_path_factory.mktemp("replay") / "server.log"
    instance = Server(_free_port(), log, env, ready=_replay_finished)
    instance.start()
    yield instance
    instance.stop()


def _page(browser, server: Server, viewport: dict[str, int]):
    context = browser.new_context(viewport=viewport, color_scheme="light")
    page = context.new_page()
    page.goto(server.base_url + "/")
    return context, page


def _no_overflow_on_every_view(page, name: str) -> None:
    for view in VIEWS:
        page.evaluate(f"location.hash = '#{view}'")
        page.wait_for_timeout(1500)  # data arrives and renders
        width = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, f"fixes-{name}-{view}-360")
        assert width <= NARROW["width"], f"{view}: page is {width} px wide on a 360 px screen"


def test_nothing_overflows_at_360_px_with_a_long_replay_path(
    browser, coach_server: Server, replay_path: Path
) -> None:
    context, page = _page(browser, coach_server, NARROW)
    try:
        wait_live(page)
        # The replayed log is long finished by now: its interface is quiet and alerted.
        page.evaluate("location.hash = '#alerts'")
        expect()(page.locator("#alert-list")).to_contain_text(replay_path.name[:20])
        page.evaluate("location.hash = '#can'")
        expect()(page.locator("#can-ifaces")).to_contain_text(replay_path.name[:20])
        _no_overflow_on_every_view(page, "coach")
    finally:
        context.close()


def test_values_have_units_and_human_labels_and_controls_follow_capabilities(
    browser, coach_server: Server
) -> None:
    for entity_id, key in (
        ("charger.main", "current"),
        ("inverter.main", "ac_voltage"),
        ("datetime.coach", "datetime"),
        ("air_conditioner.front", "fan_speed"),
        ("light.bathroom_vanity", "state"),
    ):
        reported(coach_server, entity_id, key)
    context, page = _page(browser, coach_server, LAPTOP)
    try:
        wait_live(page)
        charger = page.get_by_test_id("entity-charger.main")
        expect()(charger).to_contain_text(re.compile(r"Current\s*\d+(\.\d)? A"))
        expect()(charger).to_contain_text(re.compile(r"Voltage\s*\d+(\.\d)? V"))
        expect()(charger).to_contain_text(re.compile(r"Of maximum\s*\d+ %"))
        inverter = page.get_by_test_id("entity-inverter.main")
        expect()(inverter).to_contain_text(re.compile(r"AC voltage\s*\d+ V"))
        expect()(inverter).to_contain_text(re.compile(r"AC frequency\s*\d+ Hz"))
        expect()(inverter).to_contain_text("AC pass-through")
        assert "Ac Passthru" not in inverter.inner_text()
        # The coach clock as people read it, not 2026-12-04T14:59:00.
        clock = page.get_by_test_id("clock-datetime.coach")
        expect()(clock).to_contain_text(re.compile(r"\d{1,2}:\d{2}:\d{2}"))
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", clock.inner_text())
        expect()(page.get_by_test_id("entity-air_conditioner.front")).to_contain_text(
            re.compile(r"Fan speed\s*\d+ %")
        )
        # A light that cannot dim has no brightness slider; one that can, has.
        expect()(page.get_by_test_id("brightness-light.bathroom_vanity")).to_have_count(0)
        expect()(page.get_by_test_id("brightness-light.living_ceiling")).to_have_count(1)
        # Every number shown in a card's table has its unit (or is a count or a label).
        for text in page.locator("article.card .kv dd").all_inner_texts():
            assert not re.fullmatch(r"-?\d+(\.\d+)?", text.strip()), f"a bare number: {text}"
        # Every button's label fits (the slide buttons were cut to "Exte…").
        cut = page.evaluate(
            "[...document.querySelectorAll('article.card button')]"
            ".filter((b) => b.offsetParent && b.scrollWidth > b.clientWidth + 1)"
            ".map((b) => b.textContent)"
        )
        assert cut == []
        assert page.get_by_test_id("extend-slide.living").inner_text() == "Extend"
        # Quick actions are offered: the coach has lights.
        page.get_by_role("link", name=re.compile("^Alerts")).click()
        expect()(page.get_by_role("button", name="All lights off")).to_be_visible()
        screenshot(page, "fixes-coach-laptop")
    finally:
        context.close()


def test_a_replay_without_a_mapping_shows_an_empty_coach_and_the_buffered_frames(
    browser, replay_server: Server
) -> None:
    held = httpx.get(f"{replay_server.base_url}/api/can/sniffer?limit=1000").json()["count"]
    assert held == CAPTURE.count("\n")
    context, page = _page(browser, replay_server, NARROW)
    try:
        notice = page.get_by_test_id("no-mapping")
        expect()(notice).to_contain_text("No coach mapping yet")
        expect()(notice.get_by_role("link", name=re.compile("Discover"))).to_have_attribute(
            "href", "#discover"
        )
        page.get_by_role("link", name=re.compile("^Alerts")).click()
        expect()(page.locator("#summary-counts")).to_contain_text("entities")
        # No lights on this coach: no "All lights" quick actions.
        expect()(page.locator("#bulk-actions")).to_be_hidden()
        expect()(page.get_by_role("button", name="All lights off")).to_have_count(0)
        # The replay ended before the CAN view was opened: its frames are shown all the same.
        page.get_by_role("link", name="CAN").click()
        expect()(page.locator("#sniffer-rows tr")).to_have_count(held)
        expect()(page.locator("#sniffer-state")).to_contain_text(f"{held} frames")
        status = page.get_by_test_id("replay-status")
        expect()(status).to_contain_text(f"Replay: {held} frames, finished")
        expect()(status).to_contain_text("without timestamps, at 50 frames/s")
        page.get_by_role("link", name="Discover").click()
        expect()(page.locator("#unmapped-rows")).to_contain_text("AIR_CONDITIONER_COMMAND")
        _no_overflow_on_every_view(page, "replay")
    finally:
        context.close()
