"""The wizard's identify: an unmapped light blinks three times, then is back as it was."""

from __future__ import annotations

import time

import can

from tests.mapping.conftest import Coach, wait_for

DIMMER_COMMAND_2 = 0x1FEDB


def _commands(peer: can.BusABC, count: int, timeout: float = 8.0) -> list[str]:
    """The next ``count`` DC_DIMMER_COMMAND_2 frames the server sends, as hex."""
    frames: list[str] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count and time.monotonic() < deadline:
        message = peer.recv(0.1)
        if message is not None and (message.arbitration_id >> 8) & 0x1FFFF == DIMMER_COMMAND_2:
            frames.append(bytes(message.data).hex(" ").upper())
    return frames


def test_identify_blinks_an_unmapped_light_and_restores_its_level(coach: Coach) -> None:
    coach.send(0x19FEDA83, "0AFF50FCFF00FFFF")  # instance 10 at 40 % (0x50 = 80 half-percent)
    wait_for(
        lambda: any(
            r["instance"] == 10 and r["name"] == "DC_DIMMER_STATUS_3"
            for r in coach.client.get("/api/entities/unmapped").json()
        )
    )
    while coach.peer.recv(0) is not None:
        pass
    answer = coach.client.post(
        "/api/mapping/identify", json={"dgn": "DC_DIMMER_STATUS_3", "instance": 10}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["type"] == "light" and answer.json()["blinks"] == 3

    on = "0A FF C8 00 00 FC FF FF"  # desired level 100 % (0xC8), command 0x00 set level
    off = "0A FF 00 03 00 FC FF FF"  # level 0, command 0x03 OFF
    back = "0A FF 50 00 00 FC FF FF"  # the 40 % it showed before
    assert _commands(coach.peer, 7) == [on, off, on, off, on, off, back]


def test_identify_never_moves_or_blinks_what_is_not_a_switched_output(coach: Coach) -> None:
    coach.send(0x19FFB748, "0332 64 FFFF FFFF FF".replace(" ", ""))  # TANK_STATUS instance 3
    wait_for(
        lambda: any(
            r["name"] == "TANK_STATUS" for r in coach.client.get("/api/entities/unmapped").json()
        )
    )
    tank = coach.client.post("/api/mapping/identify", json={"dgn": "TANK_STATUS", "instance": 3})
    assert tank.status_code == 422
    assert "not a switched light or load" in tank.json()["detail"]
    unseen = coach.client.post(
        "/api/mapping/identify", json={"dgn": "DC_DIMMER_STATUS_3", "instance": 77}
    )
    assert unseen.status_code == 422
    assert "has not been seen unmapped" in unseen.json()["detail"]
    assert _commands(coach.peer, 1, timeout=0.5) == []
