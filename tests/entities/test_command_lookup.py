"""GET /api/commands/{command_id}: what became of a command accepted with 202."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import can
import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from backend.services.command_log import CommandLog
from tests.entities.test_api import _recv_dgn, _send, _wait
from tests.factories import make_settings


@pytest.fixture
def coach() -> Iterator[tuple[TestClient, can.BusABC]]:
    channel = f"commands-api-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": False, "enable_persistence": False},
        entities={"command_timeout": 0.5, "command_log_size": 2},
    )
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        with TestClient(create_app(settings)) as client:

            def through() -> bool:
                _send(peer, 0x19FEDA83, "02FF00FCFF03FFFF")  # galley light off
                return client.get("/api/entities/light.galley_ceiling").json()["available"]

            _wait(through)
            yield client, peer
    finally:
        peer.shutdown()


def test_a_command_is_looked_up_pending_then_confirmed_then_evicted(coach) -> None:
    client, peer = coach
    sent = client.post(
        "/api/entities/light.galley_ceiling/command",
        json={"command": "set", "state": "on", "brightness": 40},
    )
    assert sent.status_code == 202
    command_id = sent.json()["command_id"]
    _recv_dgn(peer, 0x1FEDB)
    pending = client.get(f"/api/commands/{command_id}")
    assert pending.status_code == 200
    body = pending.json()
    assert body["status"] == "pending"
    assert body["entity_id"] == "light.galley_ceiling"
    assert body["command"] == {"command": "set", "state": "on", "brightness": 40.0}
    assert body["completed_at"] is None
    assert abs(body["requested_at"] - time.time()) < 5

    _send(peer, 0x19FEDA83, "02FF50FCFF00FFFF")  # the dimmer reports 40 %
    done = _wait(
        lambda: (r := client.get(f"/api/commands/{command_id}").json())["status"] != "pending" and r
    )
    assert done["status"] == "confirmed"
    assert done["completed_at"] >= done["requested_at"]

    # A timed-out one says so; the log keeps the newest 2, so the first is evicted.
    ids = []
    for _ in range(2):
        r = client.post("/api/entities/light.galley_ceiling/command", json={"command": "toggle"})
        ids.append(r.json()["command_id"])
    timed_out = _wait(
        lambda: (r := client.get(f"/api/commands/{ids[-1]}").json())["status"] != "pending" and r
    )
    assert timed_out["status"] == "timed_out"
    assert "within 0.5 s" in timed_out["detail"]
    superseded = client.get(f"/api/commands/{ids[0]}").json()
    assert superseded["status"] == "failed"
    assert f"superseded by command {ids[1]}" in superseded["detail"]

    gone = client.get(f"/api/commands/{command_id}")
    assert gone.status_code == 404
    assert gone.json()["detail"].startswith(f"no command {command_id!r}: unknown, or older than")
    assert "(1 evicted so far)" in gone.json()["detail"]
    assert gone.json()["errors"] == [{"field": "path.command_id", "message": gone.json()["detail"]}]
    assert client.get("/api/commands/nope").status_code == 404
    features = {f["name"]: f for f in client.get("/api/features").json()["features"]}
    assert features["entities"]["health"]["details"]["commands_evicted"] == 1


def test_the_log_is_bounded_and_counts_evictions() -> None:
    log = CommandLog(3)
    for i in range(10):
        log.accepted(f"c{i}", "light.a", {"command": "toggle"}, float(i), None)
    assert len(log) == 3 and log.evicted == 7
    assert log.get("c6") is None and log.get("c9") is not None
    log.finished({"command_id": "c6", "status": "confirmed"})  # evicted: not brought back
    assert log.get("c6") is None
