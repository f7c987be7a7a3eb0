"""The wizard's identify: an unmapped light blinks three times, then is back as it was."""

from __future__ import annotations

import time

import can

from tests.mapping.conftest import Coach, wait_for

DIMMER_COMMAND_2 = 0x1FEDB
# CHASSIS_MOBILITY_STATUS 1FFF4 from 0xFC: speed 0 (bytes 2-3), byte 4 bits 0-1 park brake
# 01b engaged / 00b released, byte 6 gear 251 (park)
PARKED = (0x11FFF4FC, "FFFF0000FDFFFBFF")
BRAKE_RELEASED = (0x11FFF4FC, "FFFF0000FCFFFBFF")


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
    coach.send(*PARKED)
    wait_for(lambda: coach.client.get("/api/safety").json()["interlock"]["parked"])
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


def _unmapped_dimmer(coach: Coach, instance: int = 10) -> None:
    coach.send(0x19FEDA83, f"{instance:02X}FF50FCFF00FFFF")  # DC_DIMMER_STATUS_3 at 40 %
    wait_for(
        lambda: any(
            r["instance"] == instance and r["name"] == "DC_DIMMER_STATUS_3"
            for r in coach.client.get("/api/entities/unmapped").json()
        )
    )


def test_identify_is_refused_unless_the_coach_is_parked(coach: Coach) -> None:
    """An unmapped dimmer output may be half of a motor pair: no frame unless parked."""
    _unmapped_dimmer(coach)
    while coach.peer.recv(0) is not None:
        pass
    body = {"dgn": "DC_DIMMER_STATUS_3", "instance": 10}
    unknown = coach.client.post("/api/mapping/identify", json=body)
    assert unknown.status_code == 409, unknown.text
    assert unknown.json()["detail"].startswith(
        "identify refused: no CHASSIS_MOBILITY_STATUS (1FFF4) received"
    )
    coach.send(*BRAKE_RELEASED)
    wait_for(
        lambda: (
            coach.client.get("/api/safety").json()["interlock"]["reason"] == "park brake released"
        )
    )
    released = coach.client.post("/api/mapping/identify", json=body)
    assert released.status_code == 409
    assert released.json()["detail"].startswith("identify refused: park brake released")
    assert _commands(coach.peer, 1, timeout=0.5) == []


def test_identify_stops_and_switches_off_when_the_coach_starts_moving(coach: Coach) -> None:
    _unmapped_dimmer(coach)
    coach.send(*PARKED)
    wait_for(lambda: coach.client.get("/api/safety").json()["interlock"]["parked"])
    while coach.peer.recv(0) is not None:
        pass
    answer = coach.client.post(
        "/api/mapping/identify", json={"dgn": "DC_DIMMER_STATUS_3", "instance": 10}
    )
    assert answer.status_code == 202, answer.text
    first = _commands(coach.peer, 1)
    assert first == ["0A FF C8 00 00 FC FF FF"]  # on at 100 %
    coach.send(*BRAKE_RELEASED)  # the coach may roll before the second blink (0.7 s later)
    frames = _commands(coach.peer, 4, timeout=3.0)
    # the blink in progress goes off, then the run ends off: never on again, never back to 40 %
    assert frames == ["0A FF 00 03 00 FC FF FF", "0A FF 00 03 00 FC FF FF"], frames


def test_identify_needs_the_motion_grant(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from backend.main import create_app
    from tests.security.conftest import bearer, secure_settings, token_for

    app = create_app(secure_settings(tmp_path))
    with TestClient(app) as client:
        body = {"dgn": "DC_DIMMER_STATUS_3", "instance": 10}
        plain = bearer(token_for(client, "wizard", "admin"))
        refused = client.post("/api/mapping/identify", json=body, headers=plain)
        assert refused.status_code == 403, refused.text
        assert refused.json()["motion_needed"] is True
        assert "needs the motion grant" in refused.json()["detail"]
        mover = bearer(token_for(client, "mover", "admin", motion=True))
        allowed = client.post("/api/mapping/identify", json=body, headers=mover)
        # past the grant: the device has not been seen (nothing on this bus), so 422
        assert allowed.status_code == 422, allowed.text
