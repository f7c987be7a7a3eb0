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


async def test_identify_blinks_a_dc_load_with_its_own_command_dgn() -> None:
    """A switched DC load blinks with DC_LOAD_COMMAND (not the dimmer's DGN) and ends off, as it
    was (DC_LOAD_STATUS 1FFBD byte 2 operating level 0 = off)."""
    import asyncio

    from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, load_mapping
    from backend.core.entity_manager import EntityManager
    from backend.core.mapping_identify import DeviceIdentifier
    from backend.integrations.rvc.loader import load_config_data

    rvc = load_config_data()
    manager = EntityManager(load_mapping(DEFAULT_MAPPING_PATH, rvc.spec))
    manager.ingest(rvc.decode(0x19FFBD92, bytes.fromhex("1EFF00FCFF03FFFF")))  # load 30, off
    sent: list[tuple[int, str]] = []

    async def send(arbitration_id: int, data: bytes, *, interface: str | None = None) -> None:
        sent.append(((arbitration_id >> 8) & 0x1FFFF, data.hex(" ").upper()))

    identifier = DeviceIdentifier(
        manager, rvc.spec, rvc.encoder.encode, send, source_address=0xF9, interval=0.01
    )
    answer = identifier.start("DC_LOAD_STATUS", 30, "dc_load")
    assert answer["type"] == "dc_load" and answer["restores"] == "off"
    for _ in range(200):
        if not identifier.running():
            break
        await asyncio.sleep(0.01)
    assert {dgn for dgn, _ in sent} == {0x1FFBC}  # DC_LOAD_COMMAND only
    levels = [data.split()[2] for _, data in sent]
    assert levels == ["C8", "00", "C8", "00", "C8", "00", "00"]
    await identifier.close()
