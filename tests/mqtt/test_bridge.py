"""The MQTT bridge of the real app against the local Mosquitto: states, commands, results."""

from __future__ import annotations

import httpx
import pytest

from backend.main import create_app
from tests.factories import make_settings
from tests.mqtt.conftest import coach_app, until_parked, wait_until, watching
from tests.websocket.harness import running_server

pytestmark = pytest.mark.mqtt

LIGHT = "light.living_ceiling"
SLIDE = "slide.living"


async def test_light_set_confirmed_on_state_and_result(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{prefix}/#") as watch,
        coach_app(port, prefix) as (http, _),
    ):
        assert await watch.wait_for(f"{base}/status", lambda v: v == "online") == "online"
        await watch.wait_for(f"{base}/{LIGHT}/state", lambda v: v.get("available") is True)
        mark = len(watch.messages)
        await watch.publish(f"{base}/{LIGHT}/set", '{"command":"set","state":"on","brightness":60}')
        state = await watch.wait_for(
            f"{base}/{LIGHT}/state", lambda v: v.get("brightness") == 60, within=3, since=mark
        )
        assert state["state"] == "on" and state["available"] is True
        pending = await watch.wait_for(f"{base}/{LIGHT}/result", since=mark)
        assert pending["status"] == "pending" and pending["entity_id"] == LIGHT
        result = await watch.wait_for(
            f"{base}/{LIGHT}/result", lambda v: v["status"] != "pending", since=mark
        )
        assert result["status"] == "confirmed", result
        assert result["command_id"] == pending["command_id"]
        assert result["command"] == {"command": "set", "state": "on", "brightness": 60}
        # the same command path as REST: the entity shows the result, audited as client "mqtt"
        entity = (await http.get(f"/api/entities/{LIGHT}")).json()
        assert entity["last_command_result"]["command_id"] == result["command_id"]
        assert entity["last_command_result"]["client"] == "mqtt"
        assert entity["state"]["brightness"] == 60
        audit = (await http.get("/api/security/audit")).json()
        mine = [e for e in audit["entries"] if e["principal"] == "service:mqtt"]
        assert [(e["target"], e["result"]) for e in mine] == [
            (LIGHT, f"accepted {result['command_id']}")
        ]


async def test_bad_payloads_answered_on_result(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{prefix}/#") as watch,
        coach_app(port, prefix) as (_, bridge),
    ):
        await watch.wait_for(f"{base}/{LIGHT}/state", lambda v: v.get("available") is True)
        await watch.publish(f"{base}/{LIGHT}/set", "{not json")
        bad = await watch.wait_for(f"{base}/{LIGHT}/result")
        assert bad["status"] == "rejected" and bad["error"] == "bad_payload"
        assert "not JSON" in bad["reason"]

        mark = len(watch.messages)
        await watch.publish(f"{base}/{LIGHT}/set", '{"command":"set","brightness":150}')
        high = await watch.wait_for(f"{base}/{LIGHT}/result", since=mark)
        assert high["status"] == "rejected" and high["error"] == "invalid"
        assert high["argument"] == "brightness"
        assert "brightness=150 is not allowed" in high["reason"]
        assert "0 to 100" in high["reason"]

        mark = len(watch.messages)
        await watch.publish(f"{base}/{LIGHT}/set", '["set"]')
        shape = await watch.wait_for(f"{base}/{LIGHT}/result", since=mark)
        assert shape["error"] == "bad_payload" and '"command"' in shape["reason"]

        mark = len(watch.messages)
        await watch.publish(f"{base}/light.nowhere/set", '{"command":"toggle"}')
        missing = await watch.wait_for(f"{base}/light.nowhere/result", since=mark)
        assert missing["error"] == "not_found"

        # the bridge lives on: a good command after the bad ones is confirmed
        mark = len(watch.messages)
        await watch.publish(f"{base}/{LIGHT}/set", '{"command":"set","state":"on"}')
        ok = await watch.wait_for(
            f"{base}/{LIGHT}/result", lambda v: v["status"] != "pending", since=mark
        )
        assert ok["status"] == "confirmed"
        assert bridge.stats["commands_rejected"] == 4


async def test_slide_extend_refused_by_default_stop_allowed(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{prefix}/#") as watch,
        coach_app(port, prefix) as (http, _),
    ):
        await watch.wait_for(f"{base}/{SLIDE}/state", lambda v: v.get("available") is True)
        await watch.publish(f"{base}/{SLIDE}/set", '{"command":"extend"}')
        refused = await watch.wait_for(f"{base}/{SLIDE}/result")
        assert refused["status"] == "rejected" and refused["error"] == "forbidden"
        assert "COACHIQ_MQTT__ALLOW_MOTION=true" in refused["reason"]
        assert "motion grant" in refused["reason"]
        audit = (await http.get("/api/security/audit")).json()["entries"]
        assert any(
            e["principal"] == "service:mqtt" and e["target"] == SLIDE and e["result"] == "403"
            for e in audit
        )
        entity = (await http.get(f"/api/entities/{SLIDE}")).json()
        assert entity["state"]["motion"] == "stopped"
        assert entity["pending_command"] is None and entity["last_command_result"] is None

        mark = len(watch.messages)
        await watch.publish(f"{base}/{SLIDE}/set", '{"command":"stop"}')
        stop = await watch.wait_for(f"{base}/{SLIDE}/result", since=mark)
        assert stop["status"] == "pending", stop


async def test_slide_extend_allowed_with_allow_motion(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{prefix}/#") as watch,
        coach_app(port, prefix, allow_motion=True) as (http, _),
    ):
        await watch.wait_for(f"{base}/{SLIDE}/state", lambda v: v.get("available") is True)
        await until_parked(http)  # motion waits for the simulated chassis (fail closed)
        await watch.publish(f"{base}/{SLIDE}/set", '{"command":"extend"}')
        state = f"{base}/{SLIDE}/state"
        moving = await watch.wait_index(state, lambda v: v.get("motion") == "extending")
        await watch.publish(f"{base}/{SLIDE}/set", '{"command":"stop"}')
        await watch.wait_for(state, lambda v: v.get("motion") == "stopped", since=moving + 1)


async def test_viewer_role_only_stops(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{prefix}/#") as watch,
        coach_app(port, prefix, role="viewer") as _,
    ):
        await watch.wait_for(f"{base}/{LIGHT}/state", lambda v: v.get("available") is True)
        await watch.publish(f"{base}/{LIGHT}/set", '{"command":"toggle"}')
        refused = await watch.wait_for(f"{base}/{LIGHT}/result")
        assert refused["error"] == "forbidden"
        assert "role operator needed" in refused["reason"]
        assert "COACHIQ_MQTT__ROLE=viewer" in refused["reason"]


async def test_status_retained_online_then_offline_and_feature_status(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with coach_app(port, prefix) as (http, bridge):
        await wait_until(lambda: bridge.stats["announcements"] >= 1, what="first announcement")
        async with watching(host, port, f"{base}/status") as late:
            status = await late.wait_for(f"{base}/status")
            assert status == "online" and late.messages[0][2] is True  # retained
        features = {f["name"]: f for f in (await http.get("/api/features")).json()["features"]}
        mqtt = features["mqtt"]
        assert mqtt["state"] == "running" and mqtt["health"]["status"] == "healthy"
        details = mqtt["health"]["details"]
        assert details["state"] == "connected"
        assert details["broker"] == f"mqtt://127.0.0.1:{port}"
        assert details["status_topic"] == f"{base}/status"
        assert details["dropped"] == 0 and details["queue_size"] == 1000
        config = (await http.get("/api/config")).json()["config"]["mqtt"]
        assert config["topic_prefix"] == prefix and config["password"] is None
    async with watching(host, port, f"{base}/status") as after:
        assert await after.wait_for(f"{base}/status") == "offline"


async def test_mqtt_feature_off_by_default():
    settings = make_settings(
        can={"interfaces": ["mqtt-off"], "bustype": "virtual", "address_claiming": False},
        features={"enable_simulator": False},
    )
    async with (
        running_server(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base.replace("ws://", "http://")) as http,
    ):
        features = {f["name"]: f for f in (await http.get("/api/features")).json()["features"]}
    assert features["mqtt"]["state"] == "disabled"
    assert "COACHIQ_MQTT__ENABLED=false" in features["mqtt"]["reason"]


async def test_stop_all_stops_every_motion_device_even_without_motion(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{prefix}/#") as watch,
        coach_app(port, prefix) as (http, _),
    ):
        await watch.wait_for(f"{base}/{SLIDE}/state", lambda v: v.get("available") is True)
        await watch.wait_for(f"{base}/shade.bedroom_night/state", lambda v: v.get("available"))
        await watch.publish(f"{base}/stop_all/set", '{"command":"stop"}')
        answer = await watch.wait_for(f"{base}/stop_all/result")
        assert answer["status"] == "sent" and answer["failed"] == {}
        assert sorted(answer["stopped"]) == [
            "awning.patio",
            "leveling.jacks",
            "shade.bedroom_night",
            "shade.living_day",
            "slide.bedroom",
            "slide.living",
            "step.entry",
        ]
        entity = (await http.get(f"/api/entities/{SLIDE}")).json()
        assert entity["pending_command"] is not None or entity["last_command_result"] is not None
        mark = len(watch.messages)
        await watch.publish(f"{base}/stop_all/set", '{"command":"extend"}')
        refused = await watch.wait_for(f"{base}/stop_all/result", since=mark)
        assert refused["status"] == "rejected" and refused["error"] == "invalid"


async def test_safety_state_published_for_parked_and_lockouts(broker, prefix):
    host, port = broker
    base = f"{prefix}/testcoach"
    async with (
        watching(host, port, f"{base}/safety/state") as watch,
        coach_app(port, prefix) as (http, _),
    ):
        parked = await watch.wait_for(f"{base}/safety/state", lambda v: v["parked"] is True)
        interlock = (await http.get("/api/safety")).json()["interlock"]
        assert interlock["parked"] is True
        assert parked["reason"] == interlock["reason"]
        assert parked["lockouts"] == {} and parked["alert"] is None
        async with watching(host, port, f"{base}/safety/state") as late:
            kept = await late.wait_for(f"{base}/safety/state")
            assert kept["parked"] is True and late.messages[0][2] is True  # retained
