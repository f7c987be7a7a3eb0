"""Leveling jacks and the entry step against the real app and the simulated coach, read from
the bus (LEVELING_CONTROL_COMMAND 1FFEE, STEP_COMMAND 1FE88)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import can

from tests.safety.conftest import Live, air_leveling_mapping, live_coach

JACKS = "leveling.jacks"  # the shipped coach's hydraulic four-point system, self_run
STEP = "step.entry"  # STEP_COMMAND instance 1
MANUAL_FOUR_POINT = "manual_hydraulic_electric_leveling_four_point"  # mode 71


async def _hold(live: Live, entity_id: str, body: dict, seconds: float) -> tuple[str, float]:
    """Hold a command over REST: repeat it every 100 ms; the time of the last renewal."""
    first = await live.http.post(f"/api/entities/{entity_id}/command", json=body)
    assert first.status_code == 202, first.text
    command_id = first.json()["command_id"]
    last = time.monotonic()
    for _ in range(round(seconds / 0.1)):
        await asyncio.sleep(0.1)
        again = await live.http.post(f"/api/entities/{entity_id}/command", json=body)
        assert again.status_code == 202 and again.json()["command_id"] == command_id
        last = time.monotonic()
    return command_id, last


async def test_held_step_stops_within_a_second_of_the_last_renewal() -> None:
    async with live_coach() as live:
        await live.ready(STEP)
        _, last = await _hold(live, STEP, {"command": "extend"}, 0.6)
        step = live.coach.model(STEP)
        assert step.motion == 1 and step.position > 0  # the simulated step is extending
        await asyncio.sleep(1.2)
        stops = [
            f
            for f in live.spy.select("STEP_COMMAND", instance=1, direction_of_movement="stop")
            if f.at > last
        ]
        extends = live.spy.select("STEP_COMMAND", instance=1, direction_of_movement="extend")
        assert stops and stops[0].at - last < 1.0, stops
        assert len(extends) >= 6 and all(e.at < stops[0].at for e in extends)
        assert step.motion == 0
        safety = (await live.http.get("/api/safety")).json()
        assert safety["leases"] == []
        assert safety["recent_lease_ends"][-1]["entity_id"] == STEP
        assert safety["recent_lease_ends"][-1]["ended"] == "hold lapsed (not renewed)"
        view = (await live.http.get(f"/api/entities/{STEP}")).json()
        assert view["state"]["position"] > 0


async def test_held_jack_stops_within_a_second_with_an_abort_frame() -> None:
    async with live_coach() as live:
        await live.ready(JACKS)
        body = {"command": "extend", "jack": "left_front"}
        _, last = await _hold(live, JACKS, body, 0.6)
        system = live.coach.model(JACKS)
        assert system.moving["left_front"] == 1 and system.moving["right_front"] == 0
        await asyncio.sleep(1.2)
        manual = live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode=MANUAL_FOUR_POINT)
        assert len(manual) >= 6
        assert all(
            f.signals["jack_extend_or_air_spring_fill_left_front"] == "on"
            and f.signals["jack_extend_or_air_spring_fill_right_front"] == "off"
            for f in manual
        )
        aborts = [
            f
            for f in live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="abort_function")
            if f.at > last
        ]
        assert aborts and aborts[0].at - last < 1.0
        assert all(f.at < aborts[0].at for f in manual)
        assert not any(system.moving.values())
        assert system.extension["left_front"] > 0 and system.extension["right_front"] == 0

        async def down() -> bool:
            state = (await live.http.get(f"/api/entities/{JACKS}")).json()["state"]
            return state.get("jack_left_front") == "extended" and state["jacks_down"] == 1

        await live.wait(down, 3.0)


async def test_park_brake_released_refuses_jacks_and_step_and_alerts_jacks_down() -> None:
    async with live_coach() as live:
        await live.ready(JACKS, STEP)
        live.coach.model(JACKS).extension["right_rear"] = 50.0  # a jack is down
        live.coach.model(STEP).position = 100.0  # the step is out

        async def seen_out() -> bool:
            jacks = (await live.http.get(f"/api/entities/{JACKS}")).json()["state"]
            step = (await live.http.get(f"/api/entities/{STEP}")).json()["state"]
            return jacks.get("jack_right_rear") == "extended" and step.get("position") == 100.0

        await live.wait(seen_out, 3.0)
        released = await live.http.post("/api/simulator/chassis", json={"park_brake": "released"})
        assert released.status_code == 200

        async def moving() -> bool:
            return not (await live.http.get("/api/safety")).json()["interlock"]["parked"]

        await live.wait(moving, 2.0)
        for entity_id, body in (
            (JACKS, {"command": "retract", "jack": "all"}),
            (STEP, {"command": "retract"}),
        ):
            refused = await live.http.post(f"/api/entities/{entity_id}/command", json=body)
            assert refused.status_code == 409, refused.text
            assert refused.json()["reason"] == "park brake released"
        auto = await live.http.post(f"/api/entities/{JACKS}/command", json={"command": "store"})
        assert auto.status_code == 409  # self-run moves are interlocked too
        for entity_id in (JACKS, STEP):
            stop = await live.http.post(
                f"/api/entities/{entity_id}/command", json={"command": "stop"}
            )
            assert stop.status_code == 202, stop.text
        await asyncio.sleep(0.3)
        assert live.spy.select("STEP_COMMAND", instance=1, direction_of_movement="stop")
        assert live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="abort_function")
        assert not live.spy.select("STEP_COMMAND", direction_of_movement="retract")
        assert not live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="store_active")
        alert = (await live.http.get("/api/safety")).json()["alert"]
        assert alert and alert["severity"] == "critical"
        assert "Leveling jacks: jacks down (right rear)" in alert["loads"]
        assert "Entry step: step out (100 %)" in alert["loads"]
        assert alert["message"].startswith("Coach moving (park brake released) with ")


async def test_leveling_lockout_refuses_naming_it_before_anything_is_sent() -> None:
    async with live_coach() as live:
        await live.ready(JACKS)
        live.coach.world.ignition_on = True  # parked, ignition on: the system locks itself out

        async def announced() -> bool:
            state = (await live.http.get(f"/api/entities/{JACKS}")).json()["state"]
            return state.get("lockout") == "ignition"

        await live.wait(announced, 3.0)
        refused = await live.http.post(
            f"/api/entities/{JACKS}/command", json={"command": "extend", "jack": "all"}
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["reason"] == (
            "leveling system may not operate: ignition status (ignition_key) "
            "[LEVELING_CONTROL_STATUS]"
        )
        assert live.spy.select("LEVELING_CONTROL_COMMAND") == []
        safety = (await live.http.get("/api/safety")).json()
        assert safety["interlock"]["parked"] is True
        assert [x["source"] for x in safety["lockouts"][JACKS]] == ["LEVELING_CONTROL_STATUS"]
        stop = await live.http.post(f"/api/entities/{JACKS}/command", json={"command": "stop"})
        assert stop.status_code == 202  # stop is never gated


async def test_nak_from_the_jacks_and_the_step_ends_the_command_as_rejected() -> None:
    async with live_coach() as live:
        await live.ready(JACKS, STEP)
        for entity_id, body in (
            (JACKS, {"command": "retract", "jack": "rear"}),
            (STEP, {"command": "extend"}),
        ):
            held = await live.http.post(
                f"/api/simulator/devices/{entity_id}/override", json={"active": True}
            )
            assert held.status_code == 200
            started = time.monotonic()
            response = await live.http.post(f"/api/entities/{entity_id}/command", json=body)
            assert response.status_code == 202, response.text
            result = await live.result_of(entity_id, response.json()["command_id"], within=2.0)
            elapsed = time.monotonic() - started
            assert result["status"] == "rejected" and result["code"] == 8, result
            assert "overridden by user" in result["detail"]
            assert elapsed < 0.5, elapsed
            leases = (await live.http.get("/api/safety")).json()["leases"]
            assert all(x["entity_id"] != entity_id for x in leases)


async def test_auto_level_is_sent_once_without_a_lease() -> None:
    async with live_coach() as live:
        await live.ready(JACKS)
        response = await live.http.post(
            f"/api/entities/{JACKS}/command", json={"command": "auto_level"}
        )
        assert response.status_code == 202, response.text
        system = live.coach.model(JACKS)
        await live.wait(lambda: system.kind == "auto", 2.0)
        await asyncio.sleep(0.6)
        sent = live.spy.select(
            "LEVELING_CONTROL_COMMAND", operating_mode="automatic_hydraulic_leveling_four_point"
        )
        assert len(sent) == 1  # once: the firmware runs the move, no 100 ms repeats
        assert live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="abort_function") == []
        assert system.kind == "auto" and all(v > 0 for v in system.extension.values())
        safety = (await live.http.get("/api/safety")).json()
        assert all(x["entity_id"] != JACKS for x in safety["leases"])
        result = await live.result_of(JACKS, response.json()["command_id"], within=2.0)
        assert result["status"] == "confirmed", result
        stop = await live.http.post(f"/api/entities/{JACKS}/command", json={"command": "stop"})
        assert stop.status_code == 202
        await live.wait(lambda: system.kind == "idle", 2.0)


async def test_auto_level_in_progress_is_aborted_when_the_park_brake_is_released() -> None:
    async with live_coach() as live:
        await live.ready(JACKS, STEP)
        response = await live.http.post(
            f"/api/entities/{JACKS}/command", json={"command": "auto_level"}
        )
        assert response.status_code == 202, response.text
        system = live.coach.model(JACKS)
        # A controller whose firmware lacks the park-brake lockout (the case CoachIQ's extra
        # layer is for): the simulated one would abort by itself.
        system.lockouts = list  # type: ignore[method-assign]
        await live.wait(lambda: system.kind == "auto", 2.0)

        async def auto_running() -> bool:
            state = (await live.http.get(f"/api/entities/{JACKS}")).json()["state"]
            return state["mode"].startswith("automatic") and state["motion"] != "stopped"

        await live.wait(auto_running, 3.0)
        assert live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="abort_function") == []
        released_at = time.monotonic()
        released = await live.http.post("/api/simulator/chassis", json={"park_brake": "released"})
        assert released.status_code == 200
        await live.wait(lambda: system.kind == "idle", 2.0)
        aborts = live.spy.select("LEVELING_CONTROL_COMMAND", operating_mode="abort_function")
        assert len(aborts) >= 1 and aborts[0].at - released_at < 1.5, aborts
        # the step was at rest: nothing is sent to it
        assert live.spy.select("STEP_COMMAND") == []
        safety = (await live.http.get("/api/safety")).json()
        assert safety["counters"]["interlock_stops"] == 1

        async def interlock_stop() -> dict | None:
            # the Stop the interlock sent: still pending (auto_level's result is then the last
            # one) or already ended
            view = (await live.http.get(f"/api/entities/{JACKS}")).json()
            for command in (view["pending_command"], view["last_command_result"]):
                if command and command["command"] == {"command": "stop"}:
                    return command
            return None

        result = await live.wait(interlock_stop, 3.0)
        assert result["client"] == "interlock: park brake released"


async def test_an_air_leveling_system_shows_its_low_air_bags(tmp_path: Path) -> None:
    mapping = air_leveling_mapping(tmp_path)
    async with live_coach(simulator=False, rvc={"coach_mapping_path": str(mapping)}) as live:
        listed = (await live.http.get("/api/entities/leveling.air")).json()
        assert "LEVELING_AIR_STATUS" in listed["device"]["status_dgns"]
        # LEVELING_AIR_STATUS (1FFE9, priority 3) from the leveling controller at 52h: byte 0
        # bits 4-5 (right rear) = 01b "Low air pressure detected", the other bags 00b; byte 2
        # bits 0-1 (system air pressure) = 00b "Pressure OK"
        live.bus.send(
            can.Message(
                arbitration_id=0x0DFFE952,
                data=bytes.fromhex("10F0FCFFFFFFFFFF"),
                is_extended_id=True,
            )
        )

        async def low() -> dict | None:
            view = (await live.http.get("/api/entities/leveling.air")).json()
            return view if view["state"].get("low_air_pressure") else None

        view = await live.wait(low, 3.0)
        assert view["available"] is True
        assert view["state"]["low_air_pressure"] == ["right_rear"]
        assert view["state"]["system_air_pressure_low"] is False
        alerts = (await live.http.get("/api/dashboard/summary")).json()["alerts"]
        mine = [a for a in alerts if a["entity_id"] == "leveling.air"]
        assert [(a["alert_id"], a["kind"], a["severity"], a["message"]) for a in mine] == [
            (
                "low_air_pressure:leveling.air",
                "low_air_pressure",
                "warning",
                "Air leveling: low air pressure (right rear)",
            )
        ]
        # every bag back to "Pressure OK": the list empties, it does not keep the old warning
        live.bus.send(
            can.Message(
                arbitration_id=0x0DFFE952,
                data=bytes.fromhex("00F0FCFFFFFFFFFF"),
                is_extended_id=True,
            )
        )

        async def cleared() -> bool:
            view = (await live.http.get("/api/entities/leveling.air")).json()
            return view["state"]["low_air_pressure"] == []

        await live.wait(cleared, 3.0)
        alerts = (await live.http.get("/api/dashboard/summary")).json()["alerts"]
        assert [a for a in alerts if a["entity_id"] == "leveling.air"] == []
