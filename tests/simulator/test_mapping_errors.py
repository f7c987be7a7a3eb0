"""The simulator reads the coach mapping with the server's loader and never swaps in another
coach: a mapping the server refuses fails the simulator with the same file:line lines."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import can
import pytest
from fastapi.testclient import TestClient

from backend.core.entity_errors import MappingError
from backend.integrations.rvc.spec import RVCSpec
from backend.main import create_app
from backend.services.simulator.mapping import read_mapping_devices
from backend.services.simulator.setup import build_coach
from tests.factories import make_settings
from tests.simulator.conftest import SERVER

BAD = """version: 1
coach: {name: test}
areas: [{id: galley, name: Galley}]
entities:
  - {entity_id: light.a, name: A, type: light, instance: 1}
  - {entity_id: light.b, name: B, type: lamp, instance: 2}
"""


@pytest.fixture
def bad_mapping(tmp_path: Path) -> Path:
    path = tmp_path / "coach.yml"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_the_simulator_refuses_what_the_server_refuses(bad_mapping: Path, spec: RVCSpec) -> None:
    with pytest.raises(MappingError) as caught:
        read_mapping_devices(bad_mapping, spec)
    assert caught.value.problems[0].startswith(
        f"{bad_mapping}:6: entities[1].type: 'lamp' is not one of light, "
    )


def test_no_fallback_to_the_built_in_coach(bad_mapping: Path, spec: RVCSpec) -> None:
    for rvc in ({"coach_mapping_path": str(bad_mapping)}, {"coach_model": "nonexistent"}):
        settings = make_settings(rvc=rvc, can={"interfaces": ["simfallback"]})
        with pytest.raises(MappingError):
            build_coach(settings, spec=spec)


def _features(client: TestClient) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in client.get("/api/features").json()["features"]}


@pytest.mark.parametrize("rvc", ["path", "model"])
def test_server_with_a_bad_mapping_runs_no_simulated_coach(bad_mapping: Path, rvc: str) -> None:
    channel = f"sim-badmap-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": True, "enable_persistence": False},
        rvc={"coach_mapping_path": str(bad_mapping)} if rvc == "path" else {"coach_model": "x9"},
    )
    wanted = (
        f"{bad_mapping}:6: entities[1].type: 'lamp' is not one of light, "
        if rvc == "path"
        else "COACHIQ_RVC__COACH_MODEL: unknown coach model 'x9'"
    )
    listener = can.Bus(interface="virtual", channel=channel)
    try:
        with TestClient(create_app(settings)) as client:
            features = _features(client)
            for name in ("entities", "simulator"):
                assert features[name]["state"] == "failed", features[name]
                assert wanted in features[name]["reason"]
            time.sleep(1.0)  # a running coach would claim addresses and broadcast by now
            sources = set()
            while (msg := listener.recv(0)) is not None:
                sources.add(msg.arbitration_id & 0xFF)
            assert sources <= {SERVER, 0xFE}  # the server itself (claiming), no simulated node
    finally:
        listener.shutdown()
