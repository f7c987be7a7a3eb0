"""Motion over MQTT goes through the command path's safety rules: hold-to-run leases renewed by
repeated ``/set`` messages, and a lost MQTT session stopping what it held ("owner closed")."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from tests.mqtt.conftest import (
    PrivateBroker,
    coach_app,
    decode,
    until_parked,
    wait_until,
    watching,
)
from tests.safety.conftest import live_coach

pytestmark = pytest.mark.mqtt

SLIDE = "slide.living"
EXTEND = '{"command":"extend"}'
# The hold timeout of these tests: renewals come every 150 ms, so a loaded machine delaying one
# by more than the default 400 ms would end the lease early. The default is the REST tests' (
# tests/safety): here what is proven is that MQTT renews one lease and its lapse stops the load.
HOLD_MS = 1000


def extending(state: dict) -> bool:
    return state.get("motion") == "extending"


def stopped(state: dict) -> bool:
    return state.get("motion") == "stopped"


async def safety(http) -> dict:
    return (await http.get("/api/safety")).json()


async def lease_ended(http, entity_id: str, within: float = 10.0) -> tuple[dict, dict]:
    """Wait until the entity holds no lease and one of its leases has ended; the safety view
    and that end. (A slide's state can say "stopped" while the lease still lives: the simulated
    device stops when a repeat comes late, and the next repeat moves it again.)"""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view = await safety(http)
        ends = [e for e in view["recent_lease_ends"] if e["entity_id"] == entity_id]
        if ends and not any(lease["entity_id"] == entity_id for lease in view["leases"]):
            return view, ends[-1]
        assert asyncio.get_running_loop().time() < deadline, view
        await asyncio.sleep(0.05)


async def stopped_now(watch, topic: str) -> None:
    """Wait until the newest state on ``topic`` says stopped."""
    await wait_until(
        lambda: (last := watch.last(topic)) is not None and stopped(decode(last)),
        what=f"{topic} stopped",
    )


async def test_repeated_set_renews_the_hold_and_letting_go_stops(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{base}/#") as watch,
        coach_app(port, prefix, allow_motion=True, safety={"hold_timeout_ms": HOLD_MS}) as (
            http,
            _,
        ),
    ):
        await watch.wait_for(f"{base}/{SLIDE}/state", lambda v: v.get("available") is True)
        await until_parked(http)
        mark = len(watch.messages)
        for _ in range(8):  # held for about 1.2 s, renewed every 150 ms
            await watch.publish(f"{base}/{SLIDE}/set", EXTEND)
            await asyncio.sleep(0.15)
        # let go: the lease lapses and the slide is stopped (a state published before the
        # first extend took effect also says stopped: wait for the move first)
        await watch.wait_index(f"{base}/{SLIDE}/state", extending, since=mark)
        view, ended = await lease_ended(http, SLIDE)
        await stopped_now(watch, f"{base}/{SLIDE}/state")
        results = [decode(p) for t, p, _ in watch.messages[mark:] if t == f"{base}/{SLIDE}/result"]
        pending = [r for r in results if r["status"] == "pending"]
        assert len(pending) == 8, [r.get("reason") for r in results]
        assert len({r["command_id"] for r in pending}) == 1, "repeated /set renews one lease"
        assert view["counters"]["renewals"] == 7
        assert ended["owner"] == "mqtt:1"
        assert ended["ended"] == "hold lapsed (not renewed)"
        assert ended["ran_s"] >= 1.0


async def test_lost_session_stops_the_motion_it_holds(private_brokers, prefix, tmp_path):
    broker = PrivateBroker(tmp_path, "owner")
    private_brokers.append(broker)
    broker.start()
    base = f"{prefix}/testcoach"
    async with coach_app(
        broker.port, prefix, allow_motion=True, safety={"hold_timeout_ms": 5000}
    ) as (http, bridge):
        await wait_until(lambda: bridge.stats["announcements"] >= 1, what="announcement")
        async with watching("127.0.0.1", broker.port, f"{base}/#") as watch:
            await watch.wait_for(f"{base}/{SLIDE}/state", lambda v: v.get("available") is True)
            await until_parked(http)
            await watch.publish(f"{base}/{SLIDE}/set", EXTEND)
            await watch.wait_for(f"{base}/{SLIDE}/state", lambda v: v.get("motion") == "extending")
            broker.stop()  # the bridge's session ends while it holds the slide
        await wait_until(lambda: bridge.state.value != "connected", what="disconnect")
        await wait_until(lambda: bridge.stats["disconnects"] == 1, what="session end")
        for _ in range(50):
            ended = (await safety(http))["recent_lease_ends"]
            if ended:
                break
            await asyncio.sleep(0.05)
        assert ended[-1]["entity_id"] == SLIDE
        assert ended[-1]["ended"] == "owner mqtt:1 closed", ended[-1]
        assert ended[-1]["ran_s"] < 5.0  # long before the 5 s hold timeout


async def test_jacks_and_step_held_over_mqtt_renew_one_lease_then_lapse(broker, prefix):
    """The discovery cover's payloads (all jacks; the step) go through the same owner path."""
    host, port = broker
    base = f"{prefix}/testcoach"
    jacks, step = "leveling.jacks", "step.entry"
    async with (
        watching(host, port, f"{base}/#") as watch,
        coach_app(port, prefix, allow_motion=True, safety={"hold_timeout_ms": HOLD_MS}) as (
            http,
            _,
        ),
    ):
        for entity_id in (jacks, step):
            await watch.wait_for(f"{base}/{entity_id}/state", lambda v: v.get("available") is True)
        await until_parked(http)
        for entity_id, body in (
            (jacks, '{"command":"extend","jack":"all"}'),
            (step, '{"command":"extend"}'),
        ):
            mark = len(watch.messages)
            for _ in range(6):
                await watch.publish(f"{base}/{entity_id}/set", body)
                await asyncio.sleep(0.15)
            await watch.wait_index(f"{base}/{entity_id}/state", extending, since=mark)
            _, ended = await lease_ended(http, entity_id)
            await stopped_now(watch, f"{base}/{entity_id}/state")
            topic = f"{base}/{entity_id}/result"
            results = [decode(p) for t, p, _ in watch.messages[mark:] if t == topic]
            pending = [r for r in results if r["status"] == "pending"]
            assert len(pending) == 6 and len({r["command_id"] for r in pending}) == 1, results
            assert ended["owner"] == "mqtt:1"
            assert ended["ended"] == "hold lapsed (not renewed)" and ended["ran_s"] >= 0.7


async def test_jacks_and_step_held_over_mqtt_put_the_frames_and_the_stop_on_the_bus(broker, prefix):
    """Read from the bus: while /set repeats, the command frames go out every 100 ms; after the
    last /set, Stop (the step) or Abort (the jacks) within a second and no move frame after."""
    host, port = broker
    base = f"{prefix}/testcoach"
    mqtt = {
        "enabled": True,
        "url": f"mqtt://{host}:{port}",
        "topic_prefix": prefix,
        "discovery_prefix": f"{prefix}-ha",
        "coach_id": "testcoach",
        "allow_motion": True,
    }
    cases = (
        (
            "step.entry",
            '{"command":"extend"}',
            ("STEP_COMMAND", {"instance": 1, "direction_of_movement": "extend"}),
            ("STEP_COMMAND", {"instance": 1, "direction_of_movement": "stop"}),
        ),
        (
            "leveling.jacks",
            '{"command":"extend","jack":"all"}',
            (
                "LEVELING_CONTROL_COMMAND",
                {
                    "operating_mode": "manual_hydraulic_electric_leveling_four_point",
                    **{
                        f"jack_extend_or_air_spring_fill_{jack}": "on"
                        for jack in ("left_front", "right_front", "left_rear", "right_rear")
                    },
                },
            ),
            ("LEVELING_CONTROL_COMMAND", {"operating_mode": "abort_function"}),
        ),
    )
    async with (
        watching(host, port, f"{base}/#") as watch,
        live_coach(mqtt=mqtt, safety={"hold_timeout_ms": HOLD_MS}) as live,
    ):
        for entity_id, body, (move_dgn, move), (stop_dgn, stop) in cases:
            await watch.wait_for(f"{base}/{entity_id}/state", lambda v: v.get("available") is True)
            await live.ready(entity_id)
            started = time.monotonic()
            for _ in range(6):
                await watch.publish(f"{base}/{entity_id}/set", body)
                last = time.monotonic()
                await asyncio.sleep(0.15)
            await asyncio.sleep(HOLD_MS / 1000 + 1.0)
            moves = [f for f in live.spy.select(move_dgn, **move) if f.at > started]
            stops = [f for f in live.spy.select(stop_dgn, **stop) if f.at > last]
            # about 0.9 s held and up to HOLD_MS more before the lease lapses, one frame a 100 ms
            assert 6 <= len(moves) <= 9 + HOLD_MS // 100 + 2, (entity_id, len(moves))
            gaps = [b.at - a.at for a, b in itertools.pairwise(moves)]
            assert max(gaps) < 0.4, (entity_id, gaps)  # never a gap a device would stop on
            assert stops and stops[0].at - last < HOLD_MS / 1000 + 0.6, (entity_id, stops)
            assert all(f.at < stops[0].at for f in moves), entity_id
            ended = (await safety(live.http))["recent_lease_ends"][-1]
            assert (ended["entity_id"], ended["owner"]) == (entity_id, "mqtt:1")
