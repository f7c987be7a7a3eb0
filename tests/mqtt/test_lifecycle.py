"""Announcing, re-announcing, removal, reconnection and an absent broker, on real brokers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH
from tests.mqtt.conftest import PrivateBroker, coach_app, free_port, wait_until, watching

pytestmark = pytest.mark.mqtt

LIGHT = "light.galley_ceiling"


def configs(watch, discovery_prefix: str) -> dict[str, object]:
    """The newest payload of every device config topic seen."""
    out: dict[str, object] = {}
    for topic, payload, _ in watch.messages:
        if topic.startswith(f"{discovery_prefix}/device/") and topic.endswith("/config"):
            out[topic.split("/")[-2]] = json.loads(payload) if payload else ""
    return out


async def test_retained_discovery_for_every_entity(broker, prefix):
    host, port = broker
    ha = f"{prefix}-ha"
    async with coach_app(port, prefix, allow_motion=True) as (http, bridge):
        await wait_until(lambda: bridge.stats["announcements"] >= 1, what="announcement")
        entities = (await http.get("/api/entities")).json()
        entities = entities if isinstance(entities, list) else entities["entities"]
        async with watching(host, port, f"{ha}/#") as watch:  # a late subscriber: retained only
            await wait_until(lambda: len(configs(watch, ha)) == len(entities) + 1, what="configs")
            assert all(retained for _, _, retained in watch.messages)
            seen = configs(watch, ha)
    platforms = {c["p"] for payload in seen.values() for c in payload["cmps"].values()}  # type: ignore[union-attr]
    assert {"light", "switch", "climate", "cover", "sensor", "binary_sensor", "button", "lock",
            "fan"} <= platforms  # fmt: skip
    assert set(seen) == {"testcoach_coach"} | {
        "testcoach_" + e["entity_id"].replace(".", "_") for e in entities
    }


async def test_home_assistant_birth_repeats_the_announcement(broker, prefix):
    host, port = broker
    ha = f"{prefix}-ha"
    async with (
        coach_app(port, prefix) as (_, bridge),
        watching(host, port, f"{ha}/device/+/config") as watch,
    ):
        await wait_until(lambda: len(configs(watch, ha)) == 40, what="first configs")
        mark = len(watch.messages)
        await watch.publish(f"{ha}/status", "offline")
        await asyncio.sleep(0.3)
        assert bridge.stats["announcements"] == 1
        await watch.publish(f"{ha}/status", "online")
        await wait_until(lambda: bridge.stats["announcements"] == 2, what="second announcement")
        await wait_until(lambda: len(watch.messages) - mark >= 40, what="configs again")
        assert all(not retained for _, _, retained in watch.messages[mark:])  # sent live


def mapping_without(tmp_path: Path, entity_id: str) -> Path:
    data = yaml.safe_load(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"))
    kept = [e for e in data["entities"] if e.get("entity_id") != entity_id]
    assert len(kept) == len(data["entities"]) - 1, "the entity is in the default mapping"
    data["entities"] = kept
    path = tmp_path / "mapping.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


async def test_removed_entity_and_component_are_removed(broker, prefix, tmp_path):
    host, port = broker
    ha = f"{prefix}-ha"
    async with coach_app(port, prefix, allow_motion=True) as (_, bridge):
        await wait_until(lambda: bridge.stats["announcements"] >= 1, what="announcement")
    smaller = {"coach_mapping_path": mapping_without(tmp_path, "light.porch")}
    async with (
        watching(host, port, f"{ha}/device/+/config", f"{prefix}/testcoach/light.porch/state")
        as watch,
        coach_app(port, prefix, rvc=smaller) as (http, bridge),
    ):  # fmt: skip
        assert (await http.get("/api/entities/light.porch")).status_code == 404
        await wait_until(lambda: bridge.stats["announcements"] >= 1, what="announcement")
        await wait_until(
            lambda: configs(watch, ha).get("testcoach_light_porch") == "", what="porch removed"
        )
        assert bridge.stats["removed_devices"] == 1
        await watch.wait_for(f"{prefix}/testcoach/light.porch/state", lambda v: v == "")
        # motion is no longer allowed: the awning's cover goes, read-only sensors come
        awning = configs(watch, ha)["testcoach_awning_patio"]
        assert awning["cmps"]["cover"] == {"p": "cover"}  # type: ignore[index]
        assert awning["cmps"]["motion"]["p"] == "sensor"  # type: ignore[index]


async def test_broker_restart_bridge_returns(private_brokers, prefix, tmp_path):
    broker = PrivateBroker(tmp_path, "restart")
    private_brokers.append(broker)
    broker.start()
    base = f"{prefix}/testcoach"
    async with coach_app(broker.port, prefix) as (http, bridge):
        await wait_until(lambda: bridge.stats["announcements"] >= 1, what="announcement")
        broker.stop()
        await wait_until(lambda: bridge.state.value != "connected", what="disconnect")
        health = (await http.get("/api/features")).json()["features"]
        mqtt = next(f for f in health if f["name"] == "mqtt")
        assert mqtt["health"]["status"] == "degraded"
        assert "not connected" in mqtt["health"]["reason"]
        broker.start()  # a fresh broker without persistence: everything must be published again
        await wait_until(lambda: bridge.stats["connects"] == 2, within=15, what="reconnect")
        async with watching("127.0.0.1", broker.port, f"{base}/#", f"{prefix}-ha/#") as watch:
            assert await watch.wait_for(f"{base}/status") == "online"
            await wait_until(lambda: len(configs(watch, f"{prefix}-ha")) == 40, what="configs")
            await watch.wait_for(f"{base}/{LIGHT}/state", lambda v: v.get("available") is True)
            mark = len(watch.messages)
            await watch.publish(f"{base}/{LIGHT}/set", '{"command":"set","state":"on"}')
            result = await watch.wait_for(
                f"{base}/{LIGHT}/result", lambda v: v["status"] != "pending", since=mark
            )
            assert result["status"] == "confirmed"
        assert bridge.stats["disconnects"] == 1


async def test_absent_broker_never_blocks_the_coach(prefix):
    port = free_port()  # nothing listens here
    async with coach_app(port, prefix, queue_size=10) as (http, bridge):
        await wait_until(lambda: bridge.stats["connects"] == 0 and bridge.outbox.dropped > 0,
                         what="drops")  # fmt: skip
        assert len(bridge.outbox) <= 10
        for _ in range(100):
            if (await http.get(f"/api/entities/{LIGHT}")).json()["available"]:
                break
            await asyncio.sleep(0.1)
        answer = await http.post(
            f"/api/entities/{LIGHT}/command", json={"command": "set", "state": "on"}
        )
        assert answer.status_code == 202
        await wait_until(lambda: bridge.outbox.coalesced > 0, what="coalescing")
        features = (await http.get("/api/features")).json()["features"]
        mqtt = next(f for f in features if f["name"] == "mqtt")
        assert mqtt["state"] == "running" and mqtt["health"]["status"] == "degraded"
        assert f"127.0.0.1:{port}" in mqtt["health"]["reason"]
        assert 0 < mqtt["health"]["details"]["dropped"] <= bridge.outbox.dropped
        entity = (await http.get(f"/api/entities/{LIGHT}")).json()
        assert entity["available"] is True
