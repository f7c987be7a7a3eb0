"""Display units kept per account, in headless Chromium with authentication required: a choice
made in one browser follows the account into another, over that browser's own choice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import LAPTOP, _free_port
from tests.e2e.test_security_browser import PASSWORD, expect
from tests.security.live import SecureServer, cli

pytestmark = pytest.mark.e2e
ZONE = "thermostat.front"
PREFERENCES = "/api/security/me/preferences"


@pytest.fixture(scope="module")
def account_server(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureServer]:
    data = tmp_path_factory.mktemp("units-data")
    cli(data, "users", "add", "anna", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    cli(data, "users", "add", "ben", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    token = cli(data, "tokens", "create", "units-e2e", "--role", "admin").splitlines()[-1]
    log = tmp_path_factory.mktemp("units-server") / "server.log"
    instance = SecureServer(_free_port(), log, data, token)
    instance.start()
    yield instance
    instance.stop()


def _log_in(page, server: SecureServer, name: str, browser_choice: str | None = None) -> None:
    page.goto(server.base_url + "/")
    expect()(page.locator("#login-form")).to_be_visible()
    if browser_choice is not None:  # what this browser chose before anyone logged in
        page.evaluate(f"localStorage.setItem('coachiq-units', '{browser_choice}')")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect()(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect()(page.get_by_test_id("whoami")).to_contain_text(name)


def _stored_units(server: SecureServer, name: str, wanted: str | None) -> str | None:
    """The account's stored units, read through the API as that account (waits for ``wanted``)."""
    with httpx.Client(base_url=server.base_url) as client:
        login = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        deadline = time.monotonic() + 10  # the dashboard saves in the background
        while (units := client.get(PREFERENCES).json()["units"]) != wanted:
            if time.monotonic() > deadline:
                return units
            time.sleep(0.2)
        return units


def test_the_accounts_units_follow_it_into_another_browser(browser, account_server) -> None:
    laptop = browser.new_context(viewport=LAPTOP)
    phone = browser.new_context(viewport=LAPTOP)
    try:
        page = laptop.new_page()
        _log_in(page, account_server, "anna")
        toggle = page.get_by_test_id("units-toggle")
        expect()(toggle).to_have_text("°C")  # no choice anywhere: the server's default
        expect()(page.get_by_test_id(f"setpoint_heat-{ZONE}")).to_contain_text("°C")
        toggle.click()
        expect()(toggle).to_have_text("°F")
        expect()(page.get_by_test_id(f"setpoint_heat-{ZONE}")).to_contain_text("°F")
        assert _stored_units(account_server, "anna", "us") == "us"
        assert page.evaluate("localStorage.getItem('coachiq-units')") is None

        # Another browser that chose metric for itself: anna's account wins there.
        other = phone.new_page()
        _log_in(other, account_server, "anna", browser_choice="metric")
        expect()(other.get_by_test_id("units-toggle")).to_have_text("°F")
        expect()(other.get_by_test_id(f"setpoint_heat-{ZONE}")).to_contain_text("°F")

        # Ben has chosen nothing: in that browser he sees the browser's own choice.
        other.click("#logout")
        expect()(other.locator("#login-form")).to_be_visible()
        _log_in(other, account_server, "ben")
        expect()(other.get_by_test_id("units-toggle")).to_have_text("°C")
        assert _stored_units(account_server, "ben", None) is None
    finally:
        laptop.close()
        phone.close()
