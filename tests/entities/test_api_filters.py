"""List filters and the OpenAPI text, against create_app(settings) with a virtual CAN bus."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import can
import pytest
from fastapi.testclient import TestClient

from backend.core.entity_types import ENTITY_TYPES
from backend.main import create_app
from tests.entities.test_api import _send, _wait
from tests.factories import make_settings

GALLEY_ON = "02FF50FCFF00FFFF"  # DC_DIMMER_STATUS_3 instance 2 (galley ceiling): 40 %
FRESH = "0003041F017C01FF"  # TANK_STATUS instance 0 (fresh water): 3/4


@pytest.fixture
def app_bus() -> Iterator[tuple[TestClient, can.BusABC]]:
    channel = f"entities-filters-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": False, "enable_persistence": False},
        entities={"command_timeout": 1.5, "motor_run_seconds": 45},
    )
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        with TestClient(create_app(settings)) as client:

            def through() -> bool:
                _send(peer, 0x19FEDA83, "FAFF00FCFF03FFFF")  # instance 250: nobody's
                return bool(client.get("/api/entities/unmapped").json())

            _wait(through)
            yield client, peer
    finally:
        peer.shutdown()


def _entity(client: TestClient, entity_id: str) -> dict:
    return client.get(f"/api/entities/{entity_id}").json()


def test_changed_since_returns_only_entities_changed_after(
    app_bus: tuple[TestClient, can.BusABC],
) -> None:
    client, peer = app_bus
    before = time.time()
    _send(peer, 0x19FEDA83, GALLEY_ON)
    galley = _wait(lambda: (e := _entity(client, "light.galley_ceiling"))["available"] and e)
    mark = galley["last_updated"]
    time.sleep(0.05)
    _send(peer, 0x19FFB748, FRESH)
    _wait(lambda: _entity(client, "tank.fresh_water")["available"])
    _send(peer, 0x19FEDA83, GALLEY_ON)  # the same status again: seen, not a change
    _wait(lambda: _entity(client, "light.galley_ceiling")["last_seen"] > mark)

    def ids(since: float) -> list[str]:
        response = client.get("/api/entities", params={"changed_since": since})
        assert response.status_code == 200
        return sorted(e["entity_id"] for e in response.json())

    assert ids(before) == ["light.galley_ceiling", "tank.fresh_water"]
    assert ids(mark) == ["tank.fresh_water"]
    assert ids(time.time() + 1) == []
    fresh = client.get("/api/entities", params={"changed_since": mark}).json()[0]
    assert fresh["state"]["level"] == 75.0 and fresh["last_updated"] > mark


def test_unknown_type_or_area_is_422_naming_the_allowed(
    app_bus: tuple[TestClient, can.BusABC],
) -> None:
    client, _ = app_bus
    bogus = client.get("/api/entities", params={"type": "bogus"})
    assert bogus.status_code == 422
    assert bogus.json()["allowed"] == list(ENTITY_TYPES)
    assert bogus.json()["detail"].startswith("unknown type 'bogus'; types: light, dc_load, ")
    cellar = client.get("/api/entities", params={"area": "cellar"})
    assert cellar.status_code == 422
    assert "galley" in cellar.json()["allowed"]
    assert cellar.json()["detail"].startswith("unknown area 'cellar'; areas: ")
    assert client.get("/api/entities", params={"type": "shade"}).status_code == 200
    assert client.get("/api/entities", params={"area": "galley"}).status_code == 200


def test_openapi_documents_commands_bounds_and_the_configured_timeout(
    app_bus: tuple[TestClient, can.BusABC],
) -> None:
    client, _ = app_bus
    spec = client.get("/openapi.json").json()
    command = spec["components"]["schemas"]["EntityCommand"]
    for entity_type in ENTITY_TYPES.values():  # every type, with every command it accepts
        assert f"- **{entity_type.name}**: " in command["description"]
        for control in entity_type.controls:
            for spec_ in control.commands:
                assert f"`{spec_.name}`" in command["description"]
    assert "`lid`: open | closed" in command["description"]
    light_set = next(b for b in command["anyOf"] if b["title"] == "set (light)")
    brightness = light_set["properties"]["brightness"]["anyOf"][0]
    assert (brightness["minimum"], brightness["maximum"]) == (0, 100)
    route = spec["paths"]["/api/entities/{entity_id}/command"]["post"]
    assert "timed out** after 1.5 s" in route["description"]
    assert "at most 45 s" in route["description"]
    assert "2 s" not in route["description"]
    listing = spec["paths"]["/api/entities"]["get"]
    type_param = next(p for p in listing["parameters"] if p["name"] == "type")
    assert type_param["schema"]["enum"] == list(ENTITY_TYPES)
    assert "422" in listing["responses"]
