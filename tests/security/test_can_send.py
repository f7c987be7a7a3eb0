"""Raw CAN send: admin only, audited with the frame, and no spoofing, claims or motion DGNs."""

from __future__ import annotations

import time

import can
from fastapi.testclient import TestClient

from tests.security.conftest import bearer, token_for


def _sent(bus: can.BusABC, arbitration_id: int, timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = bus.recv(0.05)
        if message is not None and message.arbitration_id == arbitration_id:
            return True
    return False


def test_raw_send_refusals_name_the_reason_and_are_audited(secure_client: TestClient) -> None:
    admin = bearer(token_for(secure_client, "root", "admin"))
    listener = can.Bus(interface="virtual", channel="virtual0", receive_own_messages=False)
    try:
        cases = {
            "19FEDB9F": "not CoachIQ's own",  # another node's source address
            "18EEFFF9": "ADDRESS_CLAIMED",  # an address claim
            "19FFE7F9": "SLIDE_COMMAND",
            "19FEF2F9": "AWNING_COMMAND",
            "19FFEEF9": "LEVELING_CONTROL_COMMAND",
            "19FFF4F9": "CHASSIS_MOBILITY_STATUS",  # a spoofed "parked" would defeat the interlock
        }
        for can_id, words in cases.items():
            response = secure_client.post(
                "/api/can/send", json={"can_id": can_id, "data": "00FF"}, headers=admin
            )
            assert response.status_code == 422, (can_id, response.text)
            assert words in response.json()["detail"], response.json()
            assert response.json()["errors"][0]["field"] == "can_id"
            assert not _sent(listener, int(can_id, 16), 0.1), f"{can_id} reached the bus"
        # the bedroom slide is a motor on dimmer instances 20 and 21
        motor = secure_client.post(
            "/api/can/send", json={"can_id": "19FEDBF9", "data": "14FFC8"}, headers=admin
        )
        assert motor.status_code == 422 and "motion load" in motor.json()["detail"]
        light = secure_client.post(
            "/api/can/send", json={"can_id": "19FEDBF9", "data": "2AFFC800FF00FFFF"}, headers=admin
        )
        assert light.status_code == 202, light.text
        assert _sent(listener, 0x19FEDBF9)
    finally:
        listener.shutdown()
    entries = secure_client.get(
        "/api/security/audit", params={"event": "can_send"}, headers=admin
    ).json()["entries"]
    assert entries[0]["target"] == "19FEDBF9#2AFFC800FF00FFFF"
    assert entries[0]["principal"] == "token:root" and entries[0]["result"].startswith("queued")
    assert any(e["result"] == "422" and e["target"].startswith("19FFE7F9") for e in entries)
