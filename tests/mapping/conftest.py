"""Fixtures of the mapping tests: a running app on a virtual bus with an owner's mapping file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can
import pytest
from fastapi.testclient import TestClient

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH
from backend.core.mapping_edit import remove_entity
from backend.main import create_app
from tests.factories import make_settings

# What the owner's copy of the simulated coach lacks (the wizard's tests name them again).
MISSING = ("light.bedroom_ceiling", "light.bedroom_reading", "tank.lpg")


def wait_for(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def mapping_lacking(*entity_ids: str) -> str:
    """The default mapping's text without ``entity_ids`` (comments and order kept)."""
    text = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
    for entity_id in entity_ids:
        text = remove_entity(text, entity_id)
    return text


def send(peer: can.BusABC, can_id: int, data: str) -> None:
    """Put one frame, written out in hex, on the bus."""
    peer.send(can.Message(arbitration_id=can_id, data=bytes.fromhex(data), is_extended_id=True))


@dataclass
class Coach:
    """A running app, a peer node on its bus, the owner's mapping file and data directory."""

    client: TestClient
    peer: can.BusABC
    mapping: Path
    data_dir: Path
    channel: str

    def send(self, can_id: int, data: str) -> None:
        """Send a frame from the peer."""
        send(self.peer, can_id, data)


@pytest.fixture
def coach(tmp_path: Path) -> Iterator[Coach]:
    """The app on a virtual bus with the owner's mapping at COACHIQ_RVC__COACH_MAPPING_PATH
    (writable): the simulated coach lacking :data:`MISSING`."""
    channel = f"mapping-{os.getpid()}-{time.monotonic_ns()}"
    mapping = tmp_path / "owner" / "coach.yml"
    mapping.parent.mkdir()
    mapping.write_text(mapping_lacking(*MISSING), encoding="utf-8")
    data_dir = tmp_path / "data"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        rvc={"coach_mapping_path": mapping},
        persistence={"data_dir": data_dir},
        features={"enable_simulator": False, "enable_persistence": False},
        entities={"command_timeout": 0.5},
    )
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        with TestClient(create_app(settings)) as client:

            def through() -> bool:
                send(peer, 0x19FEDA83, "FAFF00FCFF03FFFF")  # instance 250: nobody's
                return bool(client.get("/api/entities/unmapped").json())

            wait_for(through)
            yield Coach(client, peer, mapping, data_dir, channel)
    finally:
        peer.shutdown()
