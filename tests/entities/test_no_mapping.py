"""Off the simulator, no mapping chosen means an empty coach, never the simulated coach's."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from backend.main import create_app
from tests.factories import make_settings

OFF = {"enable_persistence": False, "enable_dashboard": False, "enable_websocket": False}


def test_a_real_bus_without_a_mapping_gives_an_empty_coach() -> None:
    # socketcan on an adapter this machine does not have: the interface keeps reconnecting,
    # the coach model starts empty and says why.
    settings = make_settings(
        can={"bustype": "socketcan", "interfaces": "coachiq_nocan0", "reconnect_initial": 5},
        features=OFF,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/entities").json() == []
        coach = client.get("/api/entities/metadata").json()["coach"]
        assert coach["unmapped_reason"].startswith("no coach mapping: the server reads a socketcan")
        assert "COACHIQ_RVC__COACH_MAPPING_PATH" in coach["unmapped_reason"]
        features = {f["name"]: f for f in client.get("/api/features").json()["features"]}
        assert features["simulator"]["state"] == "disabled"
        assert features["entities"]["state"] == "running"


def test_a_replayed_capture_without_a_mapping_lists_its_devices_as_unmapped(
    tmp_path: Path,
) -> None:
    log = tmp_path / "capture.log"
    # DC_SOURCE_STATUS_1 from 0x42, instance 1: 12.90 V, 0 A (a known real frame).
    log.write_text("(1700000000.000000) can0 19FFFD42#0164020100943577\n")
    settings = make_settings(can={"interfaces": f"replay:{log}?loop=1"}, features=OFF)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 5
        unmapped: list = []
        while time.monotonic() < deadline and not unmapped:
            unmapped = client.get("/api/entities/unmapped").json()
            time.sleep(0.1)
        assert client.get("/api/entities").json() == []
        assert any(u["name"] == "DC_SOURCE_STATUS_1" and u["instance"] == 1 for u in unmapped)
        assert (
            "replayed logs"
            in client.get("/api/entities/metadata").json()["coach"]["unmapped_reason"]
        )


def test_the_virtual_bus_and_a_chosen_mapping_keep_their_coach() -> None:
    with TestClient(create_app(make_settings(features=OFF))) as client:
        assert len(client.get("/api/entities").json()) >= 30
    settings = make_settings(
        can={"bustype": "socketcan", "interfaces": "coachiq_nocan0", "reconnect_initial": 5},
        rvc={"coach_model": "default"},
        features=OFF,
    )
    with TestClient(create_app(settings)) as client:
        assert len(client.get("/api/entities").json()) >= 30
        assert "unmapped_reason" not in client.get("/api/entities/metadata").json()["coach"]
