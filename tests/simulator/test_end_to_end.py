"""The server and the simulated coach in one process on a virtual bus, through the bus only."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.factories import make_settings

# (entity, command body) for every command type of the default coach.
COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("light.galley_ceiling", {"command": "set", "state": "on", "brightness": 40}),
    ("light.galley_ceiling", {"command": "toggle"}),
    ("light.bathroom_vanity", {"command": "set", "state": "on"}),
    ("light.porch", {"command": "set", "state": "on"}),
    ("dc_load.tank_heaters", {"command": "set", "state": "on"}),
    ("ac_load.galley_outlets", {"command": "set", "state": "on"}),
    ("lock.entry_door", {"command": "unlock"}),
    ("thermostat.front", {"command": "set_mode", "mode": "heat"}),
    ("thermostat.front", {"command": "set_setpoint", "heat": 21.0}),
    ("thermostat.rear", {"command": "set_fan", "fan_mode": "on", "fan_speed": 50}),
    ("air_conditioner.front", {"command": "set", "fan_speed": 50, "output_level": 40}),
    ("furnace.main", {"command": "set", "output_level": 50}),
    ("heat_pump.front", {"command": "set", "fan_speed": 30}),
    ("generator.main", {"command": "start"}),
    ("inverter.main", {"command": "disable"}),
    ("charger.main", {"command": "disable"}),
    ("water_heater.main", {"command": "set_mode", "mode": "electric"}),
    ("water_heater.main", {"command": "set_setpoint", "temperature": 60.0}),
    ("water_pump.main", {"command": "set", "state": "on"}),
    ("awning.patio", {"command": "extend"}),
    ("awning.patio", {"command": "stop"}),
    ("slide.living", {"command": "extend"}),
    ("slide.living", {"command": "stop"}),
    ("slide.bedroom", {"command": "extend"}),
    ("slide.bedroom", {"command": "stop"}),
    ("shade.living_day", {"command": "open"}),
    ("shade.living_day", {"command": "stop"}),
    ("roof_fan.bathroom", {"command": "set", "state": "on", "speed": 50}),
    ("roof_fan.bathroom", {"command": "set", "lid": "open"}),  # 4 s of travel: seen moving
    ("roof_fan.bathroom", {"command": "set", "lid": "closed"}),
    ("datetime.coach", {"command": "set", "datetime": "2031-05-06T07:08:09"}),
]


def _wait(predicate: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def client() -> Iterator[TestClient]:
    channel = f"sim-e2e-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": True, "enable_persistence": False},
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_every_device_available_every_command_confirmed_and_a_nak(client: TestClient) -> None:
    def unavailable() -> list[str]:
        return [e["entity_id"] for e in client.get("/api/entities").json() if not e["available"]]

    assert len(client.get("/api/entities").json()) >= 30
    assert _wait(lambda: not unavailable(), 6.0) or unavailable() == []

    failures = []
    for entity_id, body in COMMANDS:
        response = client.post(f"/api/entities/{entity_id}/command", json=body)
        if response.status_code != 202:
            failures.append((entity_id, body, response.status_code, response.text))
            continue
        command_id = response.json()["command_id"]

        def result(entity_id: str = entity_id, command_id: str = command_id) -> Any:
            last = client.get(f"/api/entities/{entity_id}").json()["last_command_result"]
            return last if last and last.get("command_id") == command_id else None

        outcome = _wait(result, 3.0)
        if not outcome or outcome["status"] != "confirmed":
            failures.append((entity_id, body, outcome))
    assert failures == []

    # The generator goes on to run; its run time is reported.
    generator = _wait(
        lambda: (
            (g := client.get("/api/entities/generator.main").json())["state"].get("status")
            == "running"
            and g
        ),
        6.0,
    )
    assert generator and generator["state"]["status"] == "running"

    # A NAK: the server accepts 80 °C, the simulated water heater's range ends at 75 °C.
    response = client.post(
        "/api/entities/water_heater.main/command",
        json={"command": "set_setpoint", "temperature": 80.0},
    )
    assert response.status_code == 202, response.text
    command_id = response.json()["command_id"]

    def nak_result() -> Any:
        last = client.get("/api/entities/water_heater.main").json()["last_command_result"]
        return last if last and last.get("command_id") == command_id else None

    outcome = _wait(nak_result, 3.0)
    assert outcome and outcome["status"] == "rejected", outcome
    assert outcome["code"] == 5 and "NAK 5 (out of range)" in outcome["detail"]
