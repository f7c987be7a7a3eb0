"""Display units in headless Chromium: the toggle, converted values, setpoints sent in SI."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import LAPTOP, PageFactory, Server, _free_port
from tests.e2e.test_dashboard_browser import command, entity, expect, reported, wait_live

pytestmark = pytest.mark.e2e
ZONE = "thermostat.front"
TANK = "tank.fresh_water"


def test_conversions_written_out(open_page) -> None:
    """The dashboard's conversion functions against values worked out by hand."""
    page = open_page(LAPTOP)
    wait_live(page)
    got = page.evaluate(
        """async () => {
          const u = await import("/static/js/units.js");
          const r = (x) => Math.round(x * 100) / 100;
          const us = (v, unit) => {
            const d = u.toDisplay(v, unit, "us");
            return [r(d.value), d.unit];
          };
          return {
            c: us(20, "°C"), l: us(100, "L"), kpa: us(100, "kPa"), kmh: us(100, "km/h"),
            lh: us(10, "L/h"), k: us(2, "K"), metric: u.toDisplay(100, "L", "metric"),
            volt: us(13.2, "V"), back: r(u.fromDisplay(68, "°C", "us")),
            backGal: r(u.fromDisplay(26.42, "L", "us")),
          };
        }"""
    )
    assert got["c"] == [68, "°F"]
    assert got["l"] == [26.42, "gal"]
    assert got["kpa"] == [14.5, "psi"]
    assert got["kmh"] == [62.14, "mph"]
    assert got["lh"] == [2.64, "gal/h"]
    assert got["k"] == [3.6, "°F"]  # a 2 K dead band is 3.6 °F wide, no 32° offset
    assert got["metric"] == {"value": 100, "unit": "L"}
    assert got["volt"] == [13.2, "V"]  # not a unit that differs
    assert got["back"] == 20
    assert got["backGal"] == 100.01


def test_switching_to_us_units_converts_and_sends_si(open_page, server) -> None:
    command(server, ZONE, {"command": "set_setpoint", "heat": 20})
    deadline = time.monotonic() + 5
    while reported(server, ZONE, "setpoint_heat")["state"]["setpoint_heat"] != pytest.approx(20):
        assert time.monotonic() < deadline, entity(server, ZONE)
        time.sleep(0.1)
    # The REST command must be finished, or the page's click supersedes it (a failed result).
    while entity(server, ZONE)["pending_command"] is not None:
        assert time.monotonic() < deadline, entity(server, ZONE)
        time.sleep(0.1)
    volume = reported(server, TANK, "volume_l")["state"]["volume_l"]

    page = open_page(LAPTOP)
    sent: list[dict] = []
    page.on(
        "request",
        lambda r: (
            sent.append(json.loads(r.post_data or "{}"))
            if r.method == "POST" and r.url.endswith(f"/api/entities/{ZONE}/command")
            else None
        ),
    )
    wait_live(page)
    setpoint = page.get_by_test_id(f"setpoint_heat-{ZONE}")
    expect()(setpoint).to_have_text("20.0 °C")
    expect()(page.get_by_test_id(f"entity-{TANK}")).to_contain_text(" L")
    toggle = page.get_by_test_id("units-toggle")
    expect()(toggle).to_have_text("°C")
    toggle.click()
    expect()(toggle).to_have_text("°F")
    expect()(setpoint).to_have_text("68.0 °F")
    tank = page.get_by_test_id(f"entity-{TANK}")
    expect()(tank).to_contain_text(re.compile(r"\d+ gal of \d+ gal"))
    gallons = round(volume / 3.785411784)
    assert any(f"{g} gal" in tank.inner_text() for g in (gallons - 1, gallons, gallons + 1)), (
        tank.inner_text()
    )  # the simulated tank drains slowly

    page.get_by_test_id(f"setpoint_heat-{ZONE}-up").click()
    expect()(page.get_by_test_id(f"status-{ZONE}")).to_have_text("Confirmed")
    assert sent == [{"command": "set_setpoint", "heat": 20.56}]  # 69 °F, sent in °C
    assert entity(server, ZONE)["state"]["setpoint_heat"] == pytest.approx(20.56, abs=0.04)
    expect()(page.get_by_test_id(f"setpoint_heat-{ZONE}")).to_have_text("69.0 °F")

    # the choice is this browser's: kept over a reload
    page.reload()
    wait_live(page)
    expect()(page.get_by_test_id("units-toggle")).to_have_text("°F")
    expect()(page.get_by_test_id(f"setpoint_heat-{ZONE}")).to_have_text("69.0 °F")
    command(server, ZONE, {"command": "set_setpoint", "heat": 20})


@pytest.fixture(scope="module")
def us_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("us") / "server.log"
    instance = Server(_free_port(), log, {"COACHIQ_UNITS__SYSTEM": "us"})
    instance.start()
    yield instance
    instance.stop()


def test_the_server_setting_is_the_default_of_a_new_browser(browser, us_server) -> None:
    factory = PageFactory(browser, us_server)
    try:
        page = factory(LAPTOP)
        wait_live(page)
        expect()(page.get_by_test_id("units-toggle")).to_have_text("°F")
        expect()(page.get_by_test_id(f"entity-{TANK}")).to_contain_text(" gal")
        expect()(page.get_by_test_id(f"setpoint_heat-{ZONE}")).to_contain_text("°F")
        page.get_by_test_id("units-toggle").click()
        expect()(page.get_by_test_id(f"entity-{TANK}")).to_contain_text(" L")
    finally:
        factory.close()
