"""The setup wizard on a phone: the simulated coach in its own process, the server on the same
udp_multicast bus with a mapping that lacks two lights and a tank."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import can
import httpx
import pytest

from tests.e2e.conftest import PHONE, ROOT, PageFactory, Server, _free_port, screenshot
from tests.e2e.test_dashboard_browser import expect, wait_live
from tests.mapping.conftest import MISSING, mapping_lacking

pytestmark = pytest.mark.e2e

GROUP = "239.74.163.88"
DIMMER_STATUS_3, DIMMER_COMMAND_2 = 0x1FEDA, 0x1FEDB


class BusRecorder:
    """Every DC dimmer frame for instance 3 seen on the multicast bus, as (DGN, data hex)."""

    def __init__(self, port: int) -> None:
        self.bus = can.Bus(interface="udp_multicast", channel=GROUP, port=port)
        self.frames: list[tuple[int, str]] = []
        self.seen = 0  # every frame, of any DGN
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wizard-bus-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self.bus.recv(0.2)
            if message is None:
                continue
            self.seen += 1
            dgn = (message.arbitration_id >> 8) & 0x1FFFF
            if dgn in (DIMMER_STATUS_3, DIMMER_COMMAND_2) and message.data[0] == 3:
                self.frames.append((dgn, bytes(message.data).hex().upper()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.bus.shutdown()


@pytest.fixture(scope="module")
def coach(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("wizard")
    port = _free_port()
    options = json.dumps({"port": port})
    simulator = subprocess.Popen(
        [sys.executable, "-m", "backend.cli.main", "simulate", "--bustype", "udp_multicast",
         "--channel", GROUP, "--bus-options", options, "--duration", "600"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "COACHIQ_PERSISTENCE__DATA_DIR": str(work / "sim")},
        stdout=(work / "simulator.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    owner = work / "owner" / "coach.yml"
    owner.parent.mkdir()
    owner.write_text(mapping_lacking(*MISSING), encoding="utf-8")
    server = Server(
        _free_port(),
        work / "server.log",
        {
            "COACHIQ_CAN__BUSTYPE": "udp_multicast",
            "COACHIQ_CAN__INTERFACES": GROUP,
            "COACHIQ_CAN__BUS_OPTIONS": options,
            "COACHIQ_FEATURES__ENABLE_SIMULATOR": "false",
            "COACHIQ_RVC__COACH_MAPPING_PATH": str(owner),
            "COACHIQ_PERSISTENCE__DATA_DIR": str(work / "data"),
        },
    )
    recorder = BusRecorder(port)
    try:
        # The simulated coach first (on a loaded machine its start takes a while), then the server.
        deadline = time.monotonic() + 60
        while recorder.seen < 50 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert recorder.seen >= 50, (work / "simulator.log").read_text()[-2000:]
        server.start()
        yield {"server": server, "owner": owner, "recorder": recorder}
    finally:
        server.stop()
        recorder.close()
        simulator.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            simulator.wait(10)


def _entity(server: Server, entity_id: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/api/entities/{entity_id}", timeout=5)


def test_wizard_identifies_names_applies_and_undoes(browser, coach) -> None:
    server, owner, recorder = coach["server"], coach["owner"], coach["recorder"]
    original = owner.read_text(encoding="utf-8")
    pages = PageFactory(browser, server)
    try:
        page = pages(PHONE)
        wait_live(page)
        page.get_by_role("link", name="Setup", exact=True).click()
        light = page.locator('[data-device="DC_DIMMER_STATUS_3:3"]')
        expect()(light).to_be_visible()
        expect()(page.locator('[data-device="DC_DIMMER_STATUS_3:5"]')).to_be_visible()
        expect()(page.locator('[data-device="TANK_STATUS:3"]')).to_be_visible()
        expect()(page.locator('.wizard-group[data-kind="tank"]')).to_contain_text("TANK_STATUS #3")
        screenshot(page, "wizard-phone")

        # Identify: the simulated light goes on and off three times, then back as it was.
        recorder.frames.clear()
        light.get_by_role("button", name="Identify").click()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            commands = [d for g, d in recorder.frames if g == DIMMER_COMMAND_2]
            if len(commands) >= 7:
                break
            time.sleep(0.2)
        commands = [d for g, d in recorder.frames if g == DIMMER_COMMAND_2]
        levels = [d[4:6] + d[6:8] for d in commands[:6]]  # desired level, command
        assert levels == ["C800", "0003", "C800", "0003", "C800", "0003"], commands
        statuses = [d[4:6] for g, d in recorder.frames if g == DIMMER_STATUS_3]
        assert "C8" in statuses and "00" in statuses  # the simulated light showed both

        # Name it: "Porch light" in area "Exterior" (an existing area, found by its name).
        light.get_by_role("button", name="Name it").click()
        form = page.locator("#wizard-form")
        form.get_by_label("Name").fill("Porch light")
        form.get_by_label("Area").fill("Exterior")
        form.get_by_role("button", name="Apply").click()
        expect()(page.locator('[data-device="DC_DIMMER_STATUS_3:3"]')).to_have_count(0)
        entities = httpx.get(f"{server.base_url}/api/entities", timeout=5).json()
        porch = next(e for e in entities if e["entity_id"] == "light.porch_light")
        assert porch["area"] == "exterior" and porch["available"] is True
        assert porch["state"]["state"] in ("on", "off")
        assert "entity_id: light.porch_light" in owner.read_text(encoding="utf-8")
        page.get_by_role("link", name="Coach", exact=True).click()
        expect()(page.get_by_test_id("entity-light.porch_light")).to_be_visible()

        # Undo: the previous mapping is back, in the file and in the API.
        page.get_by_role("link", name="Setup", exact=True).click()
        page.get_by_role("button", name="Undo").click()
        expect()(page.locator('[data-device="DC_DIMMER_STATUS_3:3"]')).to_be_visible()
        assert _entity(server, "light.porch_light").status_code == 404
        assert owner.read_text(encoding="utf-8") == original
        assert pages.foreign_requests() == []
    finally:
        pages.close()


def test_a_refused_import_shows_its_problems_and_applies_nothing(browser, coach, tmp_path: Path):
    server = coach["server"]
    pages = PageFactory(browser, server)
    try:
        page = pages(PHONE)
        wait_live(page)
        page.get_by_role("link", name="Setup", exact=True).click()
        broken = tmp_path / "broken.yml"
        broken.write_text(coach["owner"].read_text("utf-8").replace("TANK_STATUS", "TANK_X", 1))
        page.locator("#wizard-import").set_input_files(str(broken))
        expect()(page.locator("#wizard-diff-summary")).to_contain_text("Refused")
        expect()(page.locator("#wizard-diff-text")).to_contain_text("unknown DGN 'TANK_X'")
        expect()(page.get_by_role("button", name="Apply", exact=True)).to_be_disabled()
    finally:
        pages.close()
