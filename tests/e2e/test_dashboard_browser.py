"""The dashboard in headless Chromium against a running server with the simulated coach."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.e2e.conftest import LAPTOP, PHONE, screenshot

pytestmark = pytest.mark.e2e
EXPECT_MS = 10_000


def expect():
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=EXPECT_MS)
    return playwright_expect


def entity(server, entity_id: str) -> dict:
    return httpx.get(f"{server.base_url}/api/entities/{entity_id}", timeout=5).json()


def reported(server, entity_id: str, key: str = "state") -> dict:
    """The entity once its device has reported ``key`` (right after start it may not have)."""
    deadline = time.monotonic() + 10
    while True:
        record = entity(server, entity_id)
        if record["available"] and record["state"].get(key) is not None:
            return record
        assert time.monotonic() < deadline, f"{entity_id} has not reported {key}: {record}"
        time.sleep(0.2)


def command(server, entity_id: str, body: dict) -> None:
    response = httpx.post(
        f"{server.base_url}/api/entities/{entity_id}/command", json=body, timeout=5
    )
    assert response.status_code == 202, response.text


def wait_live(page) -> None:
    expect()(page.locator("#conn")).to_have_attribute("data-state", "live")


def test_page_loads_offline_and_shows_the_coach(open_page, server) -> None:
    page = open_page(LAPTOP)
    wait_live(page)
    cards = page.locator("article.card")
    expect()(cards).to_have_count(len(httpx.get(f"{server.base_url}/api/entities").json()))
    expect()(page.get_by_test_id("entity-tank.fresh_water")).to_contain_text("%")
    expect()(page.get_by_test_id("entity-battery.house")).to_contain_text("V")
    expect()(page.locator("section.area h2").first).to_have_text("Living room")
    page.wait_for_timeout(500)
    screenshot(page, "coach-laptop")


def test_turning_a_light_on_is_confirmed_by_the_device(open_page, server) -> None:
    light = "light.galley_ceiling"
    if reported(server, light)["state"]["state"] != "off":
        command(server, light, {"command": "set", "state": "off"})
    page = open_page(PHONE)
    wait_live(page)
    card = page.get_by_test_id(f"entity-{light}")
    switch = page.get_by_test_id(f"switch-{light}")
    expect()(switch).not_to_be_checked()
    switch.click()
    expect()(page.get_by_test_id(f"status-{light}")).to_have_text("Confirmed")
    expect()(card).to_have_class(re.compile(r"\bis-on\b"))
    expect()(page.get_by_test_id(f"switch-{light}")).to_be_checked()
    assert entity(server, light)["state"]["state"] == "on"
    card.scroll_into_view_if_needed()
    screenshot(page, "coach-phone")


def test_thermostat_setpoint_change_is_confirmed(open_page, server) -> None:
    zone = "thermostat.front"
    before = reported(server, zone, "setpoint_heat")["state"]["setpoint_heat"]
    page = open_page(LAPTOP)
    wait_live(page)
    output = page.get_by_test_id(f"setpoint_heat-{zone}")
    expect()(output).to_have_text(f"{before:.1f} °C")
    target = before + 0.5 if before < 30 else before - 0.5
    page.get_by_test_id(f"setpoint_heat-{zone}-{'up' if target > before else 'down'}").click()
    expect()(page.get_by_test_id(f"status-{zone}")).to_have_text("Confirmed")
    expect()(page.get_by_test_id(f"setpoint_heat-{zone}")).to_have_text(f"{target:.1f} °C")
    assert entity(server, zone)["state"]["setpoint_heat"] == pytest.approx(target)


def test_sniffer_shows_frames_filters_and_pauses(open_page, server) -> None:
    page = open_page(LAPTOP)
    page.get_by_role("link", name="CAN").click()
    rows = page.locator("#sniffer-rows tr")
    expect()(rows.nth(5)).to_be_attached()
    expect()(page.locator("#can-ifaces")).to_contain_text("virtual0")
    page.wait_for_timeout(2500)  # a few chart samples
    screenshot(page, "can-laptop")
    # Filter on TANK_STATUS: new rows are all that DGN.
    page.get_by_role("button", name="Clear").click()
    page.get_by_label("DGN filter").fill("1FFB7")
    page.wait_for_timeout(600)
    page.get_by_role("button", name="Clear").click()
    expect()(rows.first).to_be_attached()
    page.wait_for_timeout(1000)
    dgns = set(page.locator("#sniffer-rows tr td:nth-child(4)").all_inner_texts())
    assert dgns == {"1FFB7"}
    # Paused: nothing new arrives.
    page.get_by_role("button", name="Pause").click()
    page.wait_for_timeout(300)
    count = rows.count()
    page.wait_for_timeout(1500)
    assert rows.count() == count
    page.get_by_role("button", name="Resume").click()
    expect()(rows.nth(count)).to_be_attached()


def test_alerts_activity_and_discover_views(open_page, server) -> None:
    command(server, "light.bedroom_reading", {"command": "set", "state": "on"})
    page = open_page(LAPTOP)
    wait_live(page)
    page.get_by_role("link", name=re.compile("^Alerts")).click()
    expect()(page.locator("#activity-list")).to_contain_text(
        "Bedroom reading light: set (state=on)"
    )
    expect()(page.locator("#summary-counts")).to_contain_text("entities")
    expect()(page.locator("#mqtt-status")).to_contain_text("MQTT bridge: off")
    page.get_by_role("button", name="All lights off").click()
    expect()(page.locator("#bulk-result")).to_contain_text("sent")
    screenshot(page, "alerts-laptop")
    page.get_by_role("link", name="Discover").click()
    # The simulated coach is fully mapped, so the view says so (it lists what is not).
    expect()(page.locator("#unmapped-rows")).to_contain_text("Every instance on the bus is mapped")
    expect()(page.locator("#unknown-rows")).to_contain_text("No unknown DGNs seen")
    screenshot(page, "discover-laptop")

    phone = open_page(PHONE, theme="dark")
    wait_live(phone)
    assert phone.evaluate("document.documentElement.dataset.theme") == "dark"
    screenshot(phone, "coach-phone-dark")
    phone.get_by_role("link", name=re.compile("^Alerts")).click()
    expect()(phone.locator("#activity-list li").first).to_be_attached()
    screenshot(phone, "alerts-phone-dark")
    phone.get_by_role("link", name="CAN").click()
    expect()(phone.locator("#sniffer-rows tr").nth(3)).to_be_attached()
    screenshot(phone, "can-phone-dark")
    # No horizontal scrolling of the page on a 375-pixel phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_phone_light_theme_alerts_can_and_discover_views(open_page, server) -> None:
    page = open_page(PHONE, theme="light")
    wait_live(page)
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.get_by_role("link", name=re.compile("^Alerts")).click()
    expect()(page.locator("#summary-counts")).to_contain_text("entities")
    expect()(page.locator("#activity-list li").first).to_be_attached()
    screenshot(page, "alerts-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("link", name="CAN").click()
    expect()(page.locator("#sniffer-rows tr").nth(5)).to_be_attached()
    expect()(page.locator("#can-ifaces")).to_contain_text("virtual0")
    page.wait_for_timeout(2500)  # a few chart samples
    screenshot(page, "can-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("link", name="Discover").click()
    expect()(page.locator("#unmapped-rows")).to_contain_text("Every instance on the bus is mapped")
    screenshot(page, "discover-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# Records every value the connection indicator takes, from before the page's scripts run.
RECORD_CONNECTION = """
window.__connectionStates = [];
new MutationObserver((records) => {
  for (const record of records) {
    if (record.target.id === "conn") window.__connectionStates.push(record.target.dataset.state);
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
"""


def refuse_websockets(page) -> None:
    """Every WebSocket of the page fails before it opens, as behind a proxy that refuses them.

    ``page.route`` does not see WebSocket handshakes; ``route_web_socket`` does, and closing the
    route without connecting it to the server fails the page's socket.
    """
    page.add_init_script(RECORD_CONNECTION)
    page.route_web_socket(re.compile(r"/ws/"), lambda ws: ws.close(code=1011, reason="refused"))


def test_without_websockets_the_page_polls_and_a_light_is_confirmed(open_page, server) -> None:
    light = "light.porch"
    reported(server, light)
    page = open_page(PHONE, setup=refuse_websockets)
    expect()(page.locator("#conn")).to_have_attribute("data-state", "polling")
    expect()(page.locator("#conn")).to_contain_text("Polling")
    expect()(page.get_by_test_id("entity-tank.fresh_water")).to_contain_text("%")
    # A change made elsewhere (another phone, the wall switch) reaches the page by polling.
    target = "off" if page.get_by_test_id(f"switch-{light}").is_checked() else "on"
    command(server, light, {"command": "set", "state": target})
    switch = page.get_by_test_id(f"switch-{light}")
    if target == "on":
        expect()(switch).to_be_checked()
    else:
        expect()(switch).not_to_be_checked()
    # A command from the page is confirmed by the device, seen over REST alone.
    switch.click()
    expect()(page.get_by_test_id(f"status-{light}")).to_have_text("Confirmed")
    flipped = "off" if target == "on" else "on"
    assert entity(server, light)["state"]["state"] == flipped
    if flipped == "on":
        expect()(page.get_by_test_id(f"switch-{light}")).to_be_checked()
    else:
        expect()(page.get_by_test_id(f"switch-{light}")).not_to_be_checked()
    states = page.evaluate("window.__connectionStates")
    assert "polling" in states and "live" not in states, states
    screenshot(page, "coach-phone-polling")


def test_page_recovers_when_the_server_restarts(open_page, server) -> None:
    light = "light.bedroom_ceiling"
    page = open_page(PHONE)
    wait_live(page)
    server.stop()
    expect()(page.locator("#conn")).not_to_have_attribute("data-state", "live")
    expect()(page.locator("#conn")).to_have_attribute(
        "data-state", re.compile("offline|reconnecting")
    )
    server.start()
    expect()(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20_000)
    if reported(server, light)["state"]["state"] != "off":
        command(server, light, {"command": "set", "state": "off"})
        expect()(page.get_by_test_id(f"switch-{light}")).not_to_be_checked()
    page.get_by_test_id(f"switch-{light}").click()
    expect()(page.get_by_test_id(f"status-{light}")).to_have_text("Confirmed")
    assert entity(server, light)["state"]["state"] == "on"
