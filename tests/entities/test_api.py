"""The /api/entities routes against create_app(settings) with a virtual CAN bus and a peer node."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import can
import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.factories import make_settings


def _wait(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def coach() -> Iterator[tuple[TestClient, can.BusABC]]:
    channel = f"entities-api-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": False, "enable_persistence": False},
        entities={"command_timeout": 0.5},
    )
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        with TestClient(create_app(settings)) as client:
            # the interface opens in the background: wait until a frame gets through
            def through() -> bool:
                _send(peer, 0x19FEDA83, "FAFF00FCFF03FFFF")  # instance 250: nobody's
                return bool(client.get("/api/entities/unmapped").json())

            _wait(through)
            yield client, peer
    finally:
        peer.shutdown()


def _send(peer: can.BusABC, can_id: int, data: str) -> None:
    peer.send(can.Message(arbitration_id=can_id, data=bytes.fromhex(data), is_extended_id=True))


def _recv_dgn(peer: can.BusABC, dgn: int, timeout: float = 2.0) -> can.Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = peer.recv(0.1)
        if msg is not None and (msg.arbitration_id >> 8) & 0x1FFFF == dgn:
            return msg
    raise AssertionError(f"no {dgn:05X} frame")


def test_entities_list_view_command_confirmation(coach: tuple[TestClient, can.BusABC]) -> None:
    client, peer = coach
    listing = client.get("/api/entities").json()
    assert len(listing) >= 30
    assert client.get("/api/entities", params={"type": "tank"}).json()[0]["type"] == "tank"
    assert {e["area"] for e in client.get("/api/entities?area=galley").json()} == {"galley"}
    assert [e["entity_id"] for e in client.get("/api/entities?q=porch").json()] == ["light.porch"]

    # unavailable until the device reports: 409 with why
    response = client.post("/api/entities/light.galley_ceiling/command", json={"command": "toggle"})
    assert response.status_code == 409
    assert "has not reported" in response.json()["detail"]

    _send(peer, 0x19FEDA83, "02FF00FCFF03FFFF")  # galley light off
    _wait(lambda: client.get("/api/entities/light.galley_ceiling").json()["available"])

    response = client.post(
        "/api/entities/light.galley_ceiling/command",
        json={"command": "set", "state": "on", "brightness": 40},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["optimistic"] == {"state": "on", "brightness": 40.0}
    frame = _recv_dgn(peer, 0x1FEDB)
    assert bytes(frame.data).hex(" ").upper() == "02 FF 50 00 00 FC FF FF"
    view = client.get("/api/entities/light.galley_ceiling").json()
    assert view["state"]["state"] == "off"  # never shown changed before the device says so
    assert view["pending_command"]["command_id"] == body["command_id"]

    _send(peer, 0x19FEDA83, "02FF50FCFF00FFFF")  # the dimmer reports 40 %
    view = _wait(
        lambda: (
            (v := client.get("/api/entities/light.galley_ceiling").json())["last_command_result"]
            and v
        )
    )
    assert view["last_command_result"]["status"] == "confirmed"
    assert view["pending_command"] is None
    assert view["state"] == view["state"] | {"state": "on", "brightness": 40.0}

    history = client.get("/api/entities/light.galley_ceiling/history?limit=5").json()
    assert history["source"] == "memory"
    assert [e["state"]["brightness"] for e in history["entries"]] == [0.0, 40.0]


def test_timeout_errors_and_tracking(coach: tuple[TestClient, can.BusABC]) -> None:
    client, peer = coach
    _send(peer, 0x19FFDC40, "005E010000FFFFFF")  # generator stopped
    _wait(lambda: client.get("/api/entities/generator.main").json()["available"])
    assert (
        client.post("/api/entities/generator.main/command", json={"command": "start"}).status_code
        == 202
    )
    view = _wait(
        lambda: (
            (v := client.get("/api/entities/generator.main").json())["last_command_result"] and v
        )
    )
    assert view["last_command_result"]["status"] == "timed_out"

    missing = client.post("/api/entities/light.nowhere/command", json={"command": "toggle"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no entity 'light.nowhere'"
    assert client.get("/api/entities/light.nowhere").status_code == 404
    _send(peer, 0x19FEDA83, "01FF00FCFF03FFFF")
    _wait(lambda: client.get("/api/entities/light.living_ceiling").json()["available"])
    bad = client.post(
        "/api/entities/light.living_ceiling/command", json={"command": "set", "brightness": 150}
    )
    assert bad.status_code == 422
    assert "0 to 100" in bad.json()["detail"]
    wrong = client.post("/api/entities/light.living_ceiling/command", json={"command": "extend"})
    assert wrong.status_code == 422
    assert wrong.json()["allowed"] == ["set", "toggle", "brightness_up", "brightness_down"]
    assert client.post("/api/entities/light.living_ceiling/command", json={}).status_code == 422

    _send(peer, 0x19FEDA83, "C8FF50FCFF00FFFF")  # instance 200: nobody's
    _send(peer, 0x19FD0044, "0102030405060708")  # DGN 1FD00: not in the spec
    unmapped = _wait(
        lambda: [u for u in client.get("/api/entities/unmapped").json() if u["instance"] == 200]
    )
    assert unmapped[0]["name"] == "DC_DIMMER_STATUS_3" and unmapped[0]["source"] == 0x83
    unknown = _wait(lambda: client.get("/api/entities/unknown-dgns").json())
    assert unknown[0]["dgn"] == "1FD00"

    meta = client.get("/api/entities/metadata").json()
    types = {t["type"]: t for t in meta["types"]}
    assert "light" in types and "awning" in types
    assert {c["command"] for c in types["awning"]["commands"]} == {"extend", "retract", "stop"}
    assert meta["command_timeout"] == 0.5

    patched = client.patch("/api/entities/light.porch", json={"name": "Door light"})
    assert patched.status_code == 200 and patched.json()["name"] == "Door light"


def test_override_not_saved_is_a_503_and_kept_in_memory(
    coach: tuple[TestClient, can.BusABC],
) -> None:
    client, _ = coach

    async def database_down(*_args: Any) -> None:
        raise ConnectionRefusedError("connection to 127.0.0.1:5432 refused")

    manager = client.app.state.feature_manager.get_feature("entities").entity_manager  # type: ignore[attr-defined]
    manager.override_store = database_down
    response = client.patch("/api/entities/light.porch", json={"name": "Door light"})
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "override applied but not saved: the database is unavailable "
        "(connection to 127.0.0.1:5432 refused)"
    )
    assert client.get("/api/entities/light.porch").json()["name"] == "Door light"
