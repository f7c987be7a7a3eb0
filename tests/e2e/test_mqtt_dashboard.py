"""The dashboard shows the MQTT bridge's status (a server with the bridge on the local broker)."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import LAPTOP, PageFactory, Server, _free_port
from tests.e2e.test_dashboard_browser import expect, wait_live
from tests.mqtt.conftest import BROKER_HOST, BROKER_PORT, clear_retained, port_open

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt]


@pytest.fixture(scope="module")
def mqtt_server(chromium_path, tmp_path_factory):
    if not port_open(BROKER_PORT):
        pytest.skip("Mosquitto is not reachable at 127.0.0.1:1883")
    prefix = f"coachiq-test-{uuid.uuid4().hex[:10]}"
    env = {
        "COACHIQ_MQTT__ENABLED": "true",
        "COACHIQ_MQTT__URL": f"mqtt://{BROKER_HOST}:{BROKER_PORT}",
        "COACHIQ_MQTT__TOPIC_PREFIX": prefix,
        "COACHIQ_MQTT__DISCOVERY_PREFIX": f"{prefix}-ha",
        "COACHIQ_MQTT__COACH_ID": "e2e",
    }
    instance = Server(_free_port(), tmp_path_factory.mktemp("mqtt") / "server.log", env)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        # A thread of its own: Playwright's event loop runs in this one.
        with ThreadPoolExecutor(1) as pool:
            clearing = clear_retained(BROKER_HOST, BROKER_PORT, f"{prefix}/#", f"{prefix}-ha/#")
            pool.submit(asyncio.run, clearing).result()


def test_alerts_view_shows_the_connected_bridge(browser, mqtt_server) -> None:
    pages = PageFactory(browser, mqtt_server)
    try:
        page = pages(LAPTOP)
        wait_live(page)
        page.get_by_role("link", name=re.compile("^Alerts")).click()
        status = page.locator("#mqtt-status")
        expect()(status).to_have_attribute("data-state", "connected")
        expect()(status).to_contain_text(
            f"MQTT bridge: connected to mqtt://{BROKER_HOST}:{BROKER_PORT}"
        )
        expect()(status).to_contain_text("/e2e/status")
        expect()(status).to_contain_text("0 dropped")
        assert pages.foreign_requests() == []
    finally:
        pages.close()
