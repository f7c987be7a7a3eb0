"""The issue's bars, each against the real app and the simulated coach, read from the bus."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import can
import websockets

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH
from backend.integrations.rvc import encode as rvc_encode
from tests.safety.conftest import live_coach

GROUP = "239.74.163.2"
ROOT = Path(__file__).resolve().parents[2]

SLIDE = "slide.living"  # SLIDE_COMMAND instance 1
AWNING = "awning.patio"  # AWNING_COMMAND instance 1


async def test_websocket_dropped_without_close_stops_the_slide() -> None:
    async with live_coach() as live:
        await live.ready(SLIDE)
        ws = await websockets.connect(f"{live.ws_base}/ws/entities")
        command = {"type": "command", "entity_id": SLIDE, "command": "extend"}
        for _ in range(8):  # hold the button for 0.8 s, renewing every 100 ms
            await ws.send(json.dumps(command))
            await asyncio.sleep(0.1)
        assert live.coach.model(SLIDE).motion == 1  # the simulated slide is extending
        ws.transport.abort()  # the phone loses Wi-Fi: no close frame
        dropped = time.monotonic()
        await asyncio.sleep(1.5)
        extends = live.spy.select("SLIDE_COMMAND", instance=1, direction_of_movement="extend")
        stops = live.spy.select("SLIDE_COMMAND", instance=1, direction_of_movement="stop")
        assert len(extends) >= 8
        assert extends[-1].at - dropped <= 0.5, extends[-1].at - dropped
        assert stops and stops[-1].at > extends[-1].at
        assert live.coach.model(SLIDE).motion == 0


async def test_one_rest_extend_without_renewal_stops_within_a_second() -> None:
    async with live_coach() as live:
        await live.ready(AWNING)
        sent = time.monotonic()
        response = await live.http.post(
            f"/api/entities/{AWNING}/command", json={"command": "extend"}
        )
        assert response.status_code == 202, response.text
        await asyncio.sleep(1.5)
        stops = live.spy.select("AWNING_COMMAND", instance=1, direction_of_movement="stop")
        extends = live.spy.select("AWNING_COMMAND", instance=1, direction_of_movement="extend")
        assert stops and stops[0].at - sent < 1.0, stops
        assert extends and all(e.at < stops[0].at for e in extends)
        safety = (await live.http.get("/api/safety")).json()
        assert safety["leases"] == []
        assert safety["recent_lease_ends"][-1]["ended"] == "hold lapsed (not renewed)"


async def test_park_brake_released_refuses_motion_but_not_stop_and_raises_the_alert() -> None:
    async with live_coach() as live:
        await live.ready(SLIDE, AWNING)
        live.coach.model(SLIDE).position = 60.0  # the slide is out (set on the simulated device)

        async def slide_out() -> bool:
            view = (await live.http.get(f"/api/entities/{SLIDE}")).json()
            return view["state"].get("position") == 60.0

        await live.wait(slide_out, 3.0)
        ws = await websockets.connect(f"{live.ws_base}/ws/entities")
        response = await live.http.post("/api/simulator/chassis", json={"park_brake": "released"})
        assert response.json()["park_brake"] == "released"

        async def seen() -> bool:  # CHASSIS_MOBILITY_STATUS goes out within its 500 ms min gap
            return not (await live.http.get("/api/safety")).json()["interlock"]["parked"]

        await live.wait(seen, 2.0)
        refused = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "extend"})
        assert refused.status_code == 409
        assert "park brake released" in refused.json()["detail"]
        awning = await live.http.post(f"/api/entities/{AWNING}/command", json={"command": "extend"})
        assert awning.status_code == 409
        assert awning.json()["reason"] == "park brake released"
        stop = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "stop"})
        assert stop.status_code == 202, stop.text
        stop_all = await live.http.post("/api/safety/stop-all")
        assert stop_all.status_code == 200
        stopped = {r["entity_id"]: r["status"] for r in stop_all.json()["stopped"]}
        assert stopped[SLIDE] == stopped[AWNING] == "sent"
        await asyncio.sleep(0.3)
        assert live.spy.select("SLIDE_COMMAND", instance=1, direction_of_movement="stop")
        assert live.spy.select("AWNING_COMMAND", instance=1, direction_of_movement="stop")
        assert not live.spy.select("SLIDE_COMMAND", direction_of_movement="extend")

        safety = (await live.http.get("/api/safety")).json()
        assert safety["interlock"]["parked"] is False
        assert safety["interlock"]["reason"] == "park brake released"
        alert = safety["alert"]
        assert alert and alert["severity"] == "critical"
        assert "Living room slide out (60 %)" in alert["message"]
        async with asyncio.timeout(3):
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "motion_alert":
                    break
        assert message["active"] is True and "Living room slide out" in message["message"]
        await ws.close()
        activity = (await live.http.get("/api/dashboard/activity")).json()
        raised = [a for a in activity["entries"] if a["kind"] == "alert_raised"]
        assert any(
            a["severity"] == "critical" and "Living room slide out" in a["message"] for a in raised
        )


async def test_nak_from_the_device_ends_the_command_as_rejected_at_once() -> None:
    async with live_coach() as live:
        await live.ready(SLIDE)
        held = await live.http.post(
            f"/api/simulator/devices/{SLIDE}/override", json={"active": True}
        )
        assert held.status_code == 200
        started = time.monotonic()
        response = await live.http.post(
            f"/api/entities/{SLIDE}/command", json={"command": "extend"}
        )
        assert response.status_code == 202
        result = await live.result_of(SLIDE, response.json()["command_id"], within=2.0)
        elapsed = time.monotonic() - started
        assert result["status"] == "rejected" and result["code"] == 8, result
        assert "overridden by user" in result["detail"]
        assert elapsed < 0.5, elapsed


async def test_no_mobility_status_for_six_seconds_refuses_motion() -> None:
    async with live_coach(simulator=False, can={"address_claiming": False}) as live:
        peer = live.bus
        peer.send(can.Message(arbitration_id=0x19FFE854, data=bytes.fromhex("010000FFFFFFFFFF")))
        # CHASSIS_MOBILITY_STATUS once: park brake engaged (01b), 0 km/h, gear park (251 = FB)
        peer.send(can.Message(arbitration_id=0x11FFF4FC, data=bytes.fromhex("00000000FDFCFBFB")))
        await live.ready(SLIDE)
        accepted = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "stop"})
        assert accepted.status_code == 202
        await asyncio.sleep(6.0)
        refused = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "extend"})
        assert refused.status_code == 409
        detail = refused.json()["detail"]
        assert "no CHASSIS_MOBILITY_STATUS (1FFF4) for 6." in detail
        assert "chassis: {mobility_status: absent}" in detail  # what to set
        stop = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "stop"})
        assert stop.status_code == 202  # Stop is never gated
        safety = (await live.http.get("/api/safety")).json()["interlock"]
        assert safety["parked"] is False and safety["mobility_status_age_s"] >= 6.0


async def _flood(ws: Any, stop: asyncio.Event) -> tuple[int, int]:
    """Send light commands as fast as the socket takes them; (sent, answers read)."""
    sent = 0
    brightness = 0
    while not stop.is_set():
        brightness = (brightness + 7) % 100
        body = {"type": "command", "entity_id": "light.galley_ceiling", "command": "set"}
        await ws.send(json.dumps({**body, "brightness": brightness}))
        sent += 1
        if sent % 50 == 0:
            await asyncio.sleep(0)
    return sent, 0


async def _press_stop_20_times(live: Any) -> list[dict[str, Any]]:
    answers = []
    async with websockets.connect(f"{live.ws_base}/ws/entities") as ws:
        for i in range(20):
            await ws.send(
                json.dumps({"type": "command", "id": i, "entity_id": AWNING, "command": "stop"})
            )
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "command_result" and message.get("id") == i:
                    answers.append(message)
                    break
            await asyncio.sleep(0.02)
    return answers


async def test_stops_reach_the_bus_while_another_client_floods_the_queue() -> None:
    # A small transmit queue and no rate limit: the flood fills the queue; Stops go around it.
    async with live_coach(
        can={"tx_queue_size": 16}, safety={"command_rate": 100000, "command_burst": 100000}
    ) as live:
        await live.ready(AWNING, "light.galley_ceiling")
        stop = asyncio.Event()
        async with websockets.connect(f"{live.ws_base}/ws/entities") as flooder:
            flood = asyncio.create_task(_flood(flooder, stop))
            await asyncio.sleep(0.3)
            answers = await _press_stop_20_times(live)
            stop.set()
            await flood
        await asyncio.sleep(0.3)
        assert [a["status"] for a in answers] == ["pending"] * 20, answers
        stops = live.spy.select("AWNING_COMMAND", instance=1, direction_of_movement="stop")
        assert len(stops) == 20
        interface = (await live.http.get("/api/can/interfaces")).json()["interfaces"][0]
        assert interface["tx_priority"] == 20
        assert interface["tx_dropped"] > 0  # the flood did fill the ordinary queue


async def test_a_flooding_client_is_rate_limited_and_stops_still_go_out() -> None:
    async with live_coach() as live:
        await live.ready(AWNING, "light.galley_ceiling")
        async with websockets.connect(f"{live.ws_base}/ws/entities") as flooder:
            for i in range(200):
                await flooder.send(
                    json.dumps(
                        {
                            "type": "command",
                            "id": i,
                            "entity_id": "light.galley_ceiling",
                            "command": "set",
                            "brightness": i % 100,
                        }
                    )
                )
            replies: dict[int, dict[str, Any]] = {}
            async with asyncio.timeout(10):
                while len(replies) < 200:
                    message = json.loads(await flooder.recv())
                    if message.get("type") == "command_result" and "id" in message:
                        replies[message["id"]] = message
            limited = [r["error"] for r in replies.values() if r["status"] == "rejected"]
            accepted = [r for r in replies.values() if r["status"] == "pending"]
            assert 40 <= len(accepted) <= 100  # the burst of 40, then 20 per second
            assert len(limited) >= 100
            answers = await _press_stop_20_times(live)
        assert {e["code"] for e in limited} == {"rate_limited"}
        assert all(e["http_status"] == 429 for e in limited)
        assert [a["status"] for a in answers] == ["pending"] * 20
        await asyncio.sleep(0.3)
        stops = live.spy.select("AWNING_COMMAND", instance=1, direction_of_movement="stop")
        assert len(stops) == 20


async def test_moving_chassis_from_another_process_refuses_slide_and_awning() -> None:
    port = 45000 + os.getpid() % 1000
    async with live_coach(
        simulator=False,
        can={
            "interfaces": [GROUP],
            "bustype": "udp_multicast",
            "bus_options": {"port": port},
        },
        rvc={"coach_mapping_path": DEFAULT_MAPPING_PATH},
    ) as live:
        peer = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.safety.moving_chassis", str(port), "15", cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert peer.stdout is not None
            assert (await asyncio.wait_for(peer.stdout.readline(), 10)).strip() == b"READY"

            async def seen() -> bool:
                safety = (await live.http.get("/api/safety")).json()["interlock"]
                slide = (await live.http.get(f"/api/entities/{SLIDE}")).json()
                return safety["chassis"] is not None and slide["available"]

            await live.wait(seen, 10.0)
            for entity_id in (SLIDE, AWNING):
                response = await live.http.post(
                    f"/api/entities/{entity_id}/command", json={"command": "extend"}
                )
                assert response.status_code == 409, response.text
                assert response.json()["reason"] == "coach moving at 88 km/h"
            assert live.spy.select("SLIDE_COMMAND") == []
        finally:
            if peer.returncode is None:
                peer.kill()
                await peer.wait()


async def test_coachiq_simulate_moving_in_another_process_refuses_motion() -> None:
    port = 46000 + os.getpid() % 1000
    group = "239.74.163.72"
    async with live_coach(
        simulator=False,
        can={"interfaces": [group], "bustype": "udp_multicast", "bus_options": {"port": port}},
        rvc={"coach_mapping_path": DEFAULT_MAPPING_PATH},
    ) as live:
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli.main", "simulate", "--moving",
            "--bustype", "udp_multicast", "--channel", group,
            "--bus-options", json.dumps({"port": port}), "--duration", "20",
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:

            async def seen() -> bool:
                safety = (await live.http.get("/api/safety")).json()["interlock"]
                slide = (await live.http.get(f"/api/entities/{SLIDE}")).json()
                return safety["moving"] and slide["available"]

            await live.wait(seen, 15.0)
            response = await live.http.post(
                f"/api/entities/{SLIDE}/command", json={"command": "extend"}
            )
            assert response.status_code == 409
            assert response.json()["reason"] == "coach moving at 88 km/h"
        finally:
            if sim.returncode is None:
                sim.terminate()
                await sim.wait()


def _frame(name: str, signals: dict[str, Any], instance: int | None, source: int) -> can.Message:
    arbitration_id, data = rvc_encode(name, signals, instance=instance, source_address=source)
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=True)


PARKED_CHASSIS = {
    "vehicle_speed": 0,
    "park_brake_status": "park_brake_engaged",
    "transmission_current_gear": "park",
}


async def test_announced_lockouts_refuse_the_move_before_anything_is_sent() -> None:
    async with live_coach(simulator=False, can={"address_claiming": False}) as live:
        peer = live.bus
        peer.send(_frame("CHASSIS_MOBILITY_STATUS", PARKED_CHASSIS, None, 0xFC))
        locked = {
            "motion": "no_motion",
            "position": 0,
            "user_lock_status": "user_lock_is_activated",
        }
        peer.send(_frame("SLIDE_STATUS", locked, 1, 0x54))
        peer.send(_frame("AWNING_STATUS", {"motion": "no_motion", "position": 0}, 1, 0x82))
        peer.send(
            _frame(
                "VEHICLE_ENVIRONMENT_STATUS",
                {"open_space": "rv_is_in_a_confined_space"},
                None,
                0x80,
            )
        )
        await live.ready(SLIDE, AWNING)
        user_lock = "user lock is activated (user_lock_status) [SLIDE_STATUS]"
        confined = (
            "the coach is in a confined space; no slide goes out [VEHICLE_ENVIRONMENT_STATUS]"
        )
        out = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "extend"})
        assert out.status_code == 409 and out.json()["reason"] == f"{user_lock}; {confined}"
        back = await live.http.post(f"/api/entities/{SLIDE}/command", json={"command": "retract"})
        assert back.status_code == 409 and back.json()["reason"] == user_lock
        awning = await live.http.post(f"/api/entities/{AWNING}/command", json={"command": "extend"})
        assert awning.status_code == 409
        assert "confined space" in awning.json()["reason"]
        inward = await live.http.post(
            f"/api/entities/{AWNING}/command", json={"command": "retract"}
        )
        assert inward.status_code == 202  # coming in is allowed in a confined space
        await asyncio.sleep(0.2)
        assert live.spy.select("SLIDE_COMMAND") == []
        safety = (await live.http.get("/api/safety")).json()
        assert [x["source"] for x in safety["lockouts"][SLIDE]] == [
            "SLIDE_STATUS",
            "VEHICLE_ENVIRONMENT_STATUS",
        ]


async def test_chassis_absent_in_the_mapping_means_no_interlock(tmp_path: Path) -> None:
    mapping = tmp_path / "coach.yml"
    text = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
    mapping.write_text(text + "\nchassis: {mobility_status: absent}\n", encoding="utf-8")
    async with live_coach(rvc={"coach_mapping_path": mapping}) as live:
        assert live.coach.chassis() is None  # the simulated coach has no chassis either
        await live.ready(SLIDE)
        safety = (await live.http.get("/api/safety")).json()["interlock"]
        assert safety["mobility_status"] == "absent" and safety["parked"] is True
        metadata = (await live.http.get("/api/entities/metadata")).json()
        assert metadata["chassis"] == {"mobility_status": "absent"}
        response = await live.http.post(
            f"/api/entities/{SLIDE}/command", json={"command": "extend"}
        )
        assert response.status_code == 202, response.text
        await asyncio.sleep(0.8)
        assert live.spy.select("SLIDE_COMMAND", instance=1, direction_of_movement="stop")
