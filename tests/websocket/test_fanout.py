"""Fan-out, coalescing, stalls, sniffer filters and the rate cap, against a running server.

The producers here are small fakes the test drives (the real entity manager and CAN service are
exercised in test_live_app.py); the server, the sockets and the client library are real.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from backend.integrations.can.frame_event import FrameEvent
from backend.integrations.rvc import load_config_data
from backend.main import create_app
from backend.services.feature_base import Feature
from backend.services.feature_manager import FeatureDefinition
from backend.websocket.manager import WebSocketFeature, WebSocketManager
from tests.factories import make_settings
from tests.websocket.harness import (
    FakeCANService,
    FakeEntityManager,
    FakeEntityService,
    check_server_message,
    entity,
    expect_type,
    running_server,
)

ON = {"command": "set", "state": "on"}
ENTITIES = [
    entity("galley_light", "light", "galley", state="off", brightness=0),
    entity("bedroom_light", "light", "bedroom", state="on", brightness=40),
    entity("fresh_tank", "tank", "utility", level=50),
]


class Fakes:
    """The fake producers of one app."""

    def __init__(self, entities: list[dict]) -> None:
        self.entities = FakeEntityManager([dict(e) for e in entities])
        self.commands = FakeEntityService(self.entities)
        self.can = FakeCANService()


def fake_app(entities: list[dict] = ENTITIES, **websocket: Any) -> tuple[FastAPI, Fakes]:
    fakes = Fakes(entities)

    class CAN(Feature):
        async def start(self) -> None:
            self.service = fakes.can

    class Entities(Feature):
        async def start(self) -> None:
            self.service = fakes.commands
            self.entity_manager = fakes.entities

    definitions = [
        FeatureDefinition("can", factory=CAN),
        FeatureDefinition("entities", depends_on=["can"], factory=Entities),
        FeatureDefinition("websocket", depends_on=["entities", "can"], factory=WebSocketFeature),
    ]
    settings = make_settings(websocket=websocket)
    return create_app(settings, definitions), fakes


def manager_of(app: FastAPI) -> WebSocketManager:
    service = app.state.feature_manager.get_feature("websocket").service
    assert isinstance(service, WebSocketManager)
    return service


async def test_snapshot_then_coalesced_updates_to_every_client() -> None:
    app, fakes = fake_app(batch_window_ms=20)
    async with (
        running_server(app) as base,
        websockets.connect(f"{base}/ws/entities") as a,
        websockets.connect(f"{base}/ws/entities") as b,
    ):
        for ws in (a, b):
            snapshot = await expect_type(ws, "snapshot")
            assert {e["entity_id"] for e in snapshot["entities"]} == {
                "galley_light",
                "bedroom_light",
                "fresh_tank",
            }
        # Three changes of one entity inside one batch window: the newest state arrives,
        # once (the queued update is replaced, not appended).
        for level in (10, 20, 30):
            fakes.entities.change("fresh_tank", level=level)
        for ws in (a, b):
            update = await expect_type(ws, "entity_update")
            assert update["entity_id"] == "fresh_tank"
            assert update["state"] == {"level": 30}
            assert update["available"] is True
        assert manager_of(app).stats()["entity_updates"] == 3
        coalesced = [c["coalesced"] for c in manager_of(app).stats()["clients"]]
        assert coalesced == [2, 2]


async def test_a_window_of_updates_goes_out_in_one_socket_write() -> None:
    entities = [entity(f"light_{i}", "light", "galley", brightness=0) for i in range(30)]
    app, fakes = fake_app(entities, batch_window_ms=50)
    async with running_server(app) as base, websockets.connect(f"{base}/ws/entities") as ws:
        await expect_type(ws, "snapshot")
        before = manager_of(app).stats()["clients"][0]
        for i in range(30):  # thirty entities change inside one window
            fakes.entities.change(f"light_{i}", brightness=i)
        updates = [await expect_type(ws, "entity_update") for _ in range(30)]
        # Every update arrives, whole, in order, as its own WebSocket message.
        assert [u["entity_id"] for u in updates] == [f"light_{i}" for i in range(30)]
        assert [u["state"]["brightness"] for u in updates] == list(range(30))
        after = manager_of(app).stats()["clients"][0]
        assert after["sent"] - before["sent"] == 30
        assert 1 <= after["writes"] - before["writes"] <= 2  # one burst (a window may split)


async def test_subscriptions_narrow_the_stream() -> None:
    app, fakes = fake_app(batch_window_ms=0)
    async with running_server(app) as base, websockets.connect(f"{base}/ws/entities") as ws:
        await expect_type(ws, "snapshot")
        await ws.send(json.dumps({"type": "subscribe", "types": ["light"], "id": 7}))
        ack = await expect_type(ws, "subscribed")
        assert ack == {
            "type": "subscribed",
            "entity_ids": None,
            "types": ["light"],
            "areas": None,
            "id": 7,
        }
        snapshot = await expect_type(ws, "snapshot")
        assert sorted(e["entity_id"] for e in snapshot["entities"]) == [
            "bedroom_light",
            "galley_light",
        ]
        fakes.entities.change("fresh_tank", level=80)  # not a light: not sent
        fakes.entities.change("galley_light", state="on", brightness=100)
        update = await expect_type(ws, "entity_update")
        assert update["entity_id"] == "galley_light"

        await ws.send(
            json.dumps({"type": "subscribe", "areas": ["bedroom"], "entity_ids": ["nope"]})
        )
        ack = await expect_type(ws, "subscribed")
        assert ack["unknown_entity_ids"] == ["nope"]
        assert (await expect_type(ws, "snapshot"))["entities"] == []
        fakes.entities.change("bedroom_light", brightness=10)  # area matches, id does not
        await ws.send(json.dumps({"type": "subscribe"}))  # everything again
        await expect_type(ws, "subscribed")
        assert len((await expect_type(ws, "snapshot"))["entities"]) == 3
        fakes.entities.change("fresh_tank", level=81)
        assert (await expect_type(ws, "entity_update"))["entity_id"] == "fresh_tank"


async def test_a_subscribe_keeps_replies_queued_before_it() -> None:
    # The window holds the first queued message for 50 ms: the ping, the command and the
    # subscribe are all handled while the pong and the command's answer still wait in the outbox.
    app, fakes = fake_app(batch_window_ms=50)
    async with running_server(app) as base, websockets.connect(f"{base}/ws/entities") as ws:
        await expect_type(ws, "snapshot")
        fakes.entities.change("galley_light", state="on", brightness=30)  # queued, then unwanted
        await ws.send(json.dumps({"type": "ping", "id": "p1"}))
        await ws.send(json.dumps({"type": "command", "id": "c1", "entity_id": "galley_light"} | ON))
        await ws.send(json.dumps({"type": "subscribe", "areas": ["bedroom"], "id": "s1"}))
        received = []
        async with asyncio.timeout(5):
            while not received or received[-1]["type"] != "snapshot":
                received.append(check_server_message(await ws.recv()))
        assert [(m["type"], m.get("id")) for m in received] == [
            ("pong", "p1"),
            ("command_result", "c1"),
            ("subscribed", "s1"),
            ("snapshot", None),
        ]
        assert received[1]["status"] == "pending"
        assert [e["entity_id"] for e in received[-1]["entities"]] == ["bedroom_light"]


@pytest.mark.parametrize(
    ("sent", "code", "fragment"),
    [
        ("{not json", "invalid_json", "not valid JSON"),
        (b"\x00\x01binary", "invalid_message", "binary"),
        ("[1, 2]", "invalid_message", "JSON object"),
        ('{"no": "type"}', "invalid_message", "'type'"),
        ('{"type": "shout", "text": "hi all"}', "unknown_type", "command, ping, subscribe"),
        ('{"type": "subscribe", "types": "light"}', "invalid_message", "list"),
        ('{"type": "subscribe", "colour": ["red"]}', "invalid_message", "colour"),
        ('{"type": "command", "command": "set"}', "invalid_message", "entity_id"),
        ("x" * 70000, "message_too_large", "65536"),
    ],
)
async def test_malformed_messages_get_an_error_and_reach_nobody_else(
    sent: str | bytes, code: str, fragment: str
) -> None:
    app, _ = fake_app(batch_window_ms=0)
    async with (
        running_server(app) as base,
        websockets.connect(f"{base}/ws/entities") as sender,
        websockets.connect(f"{base}/ws/entities") as other,
    ):
        await expect_type(sender, "snapshot")
        await expect_type(other, "snapshot")
        await sender.send(sent)
        error = await expect_type(sender, "error")
        assert error["code"] == code
        assert fragment in error["message"]
        # The connection stays usable, and the other client saw nothing but its own pong.
        await sender.send('{"type": "ping", "id": "p1"}')
        assert (await expect_type(sender, "pong"))["id"] == "p1"
        await other.send('{"type": "ping"}')
        pong = await expect_type(other, "pong")
        assert "id" not in pong


async def test_commands_are_answered_and_results_pushed() -> None:
    app, fakes = fake_app(batch_window_ms=0)
    async with (
        running_server(app) as base,
        websockets.connect(f"{base}/ws/entities") as ws,
        websockets.connect(f"{base}/ws/entities") as watcher,
    ):
        await expect_type(ws, "snapshot")
        await expect_type(watcher, "snapshot")
        await ws.send(
            json.dumps(
                {
                    "type": "command",
                    "id": "c1",
                    "entity_id": "galley_light",
                    "command": "set",
                    "state": "on",
                    "brightness": 60,
                }
            )
        )
        accepted = await expect_type(ws, "command_result")
        assert accepted["status"] == "pending"
        assert accepted["command_id"] == "cmd-1"
        assert accepted["id"] == "c1"
        # The same body REST takes reaches the service, without the envelope.
        assert fakes.commands.calls == [
            (
                "galley_light",
                {"command": "set", "state": "on", "brightness": 60},
                "127.0.0.1 (websocket)",  # the command audit's "who"
            )
        ]
        fakes.commands.finish("cmd-1", "galley_light", "confirmed")
        for client in (ws, watcher):
            result = await expect_type(client, "command_result")
            assert result["status"] == "confirmed"
            assert result["command_id"] == "cmd-1"

        await ws.send(json.dumps({"type": "command", "entity_id": "attic_light", "command": "set"}))
        rejected = await expect_type(ws, "command_result")
        assert rejected["status"] == "rejected"
        assert rejected["error"]["code"] == "entity_not_found"
        assert rejected["error"]["http_status"] == 404
        await ws.send(
            json.dumps({"type": "command", "entity_id": "galley_light", "command": "explode"})
        )
        rejected = await expect_type(ws, "command_result")
        assert rejected["error"]["code"] == "invalid_command"
        assert rejected["error"]["http_status"] == 422
        assert "set" in rejected["error"]["message"]


async def test_a_failing_handler_answers_internal_error_is_counted_and_the_client_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, fakes = fake_app(batch_window_ms=0)
    async with (
        running_server(app) as base,
        websockets.connect(f"{base}/ws/entities") as ws,
        websockets.connect(f"{base}/ws/entities") as other,
    ):
        await expect_type(ws, "snapshot")
        await expect_type(other, "snapshot")
        listing = fakes.entities.get_all_entities

        def broken() -> list[dict]:
            raise RuntimeError("entity store exploded")

        fakes.entities.get_all_entities = broken  # a subscribe by id lists the entities
        await ws.send(json.dumps({"type": "subscribe", "entity_ids": ["galley_light"], "id": 3}))
        error = await expect_type(ws, "error")
        assert error["code"] == "internal_error"
        assert "exploded" not in error["message"]  # no internals to the client; they are logged
        assert "entity store exploded" in caplog.text
        fakes.entities.get_all_entities = listing
        # The connection and the other client carry on; the error is counted where health shows.
        await ws.send('{"type": "ping", "id": "after"}')
        assert (await expect_type(ws, "pong"))["id"] == "after"
        fakes.entities.change("galley_light", brightness=5)
        for client in (ws, other):
            assert (await expect_type(client, "entity_update"))["entity_id"] == "galley_light"
        async with httpx.AsyncClient(base_url=base.replace("ws://", "http://")) as http:
            features = (await http.get("/api/features")).json()["features"]
        websocket = next(f for f in features if f["name"] == "websocket")
        assert websocket["health"]["details"]["errors"] == 1
        assert manager_of(app).counters["errors"] == 1


async def test_heartbeat_goes_to_idle_clients() -> None:
    app, _ = fake_app(heartbeat_interval=0.3)
    async with running_server(app) as base, websockets.connect(f"{base}/ws/entities") as ws:
        await expect_type(ws, "snapshot")
        started = time.monotonic()
        beat = await expect_type(ws, "heartbeat", within=3)
        assert 0.2 <= time.monotonic() - started <= 2.0
        assert beat["timestamp"] == pytest.approx(time.time(), abs=2)


def frame(arbitration_id: int, data: str, direction: str = "rx", interface: str = "can0"):
    rvc = load_config_data()
    return FrameEvent(
        interface=interface,
        direction=direction,  # type: ignore[arg-type]
        timestamp=time.time(),
        arbitration_id=arbitration_id,
        data=bytes.fromhex(data),
        decoded=rvc.decode(arbitration_id, data),
    )


DC_SOURCE_STATUS_1 = 0x19FFFD42  # DGN 1FFFD from source 0x42
DC_DIMMER_STATUS_3 = 0x19FEDA44  # DGN 1FEDA from source 0x44


async def test_sniffer_filters_frames() -> None:
    app, fakes = fake_app(batch_window_ms=0)
    async with running_server(app) as base, websockets.connect(f"{base}/ws/can-sniffer") as ws:
        await ws.send(json.dumps({"type": "filter", "dgns": ["1FFFD"], "directions": ["rx"]}))
        ack = await expect_type(ws, "filter_applied")
        assert ack["dgns"] == ["1FFFD"] and ack["directions"] == ["rx"]
        fakes.can.emit(frame(DC_DIMMER_STATUS_3, "0101C8FC00FFFFFF"))  # other DGN
        fakes.can.emit(frame(DC_SOURCE_STATUS_1, "0164020100943577", direction="tx"))
        fakes.can.emit(frame(DC_SOURCE_STATUS_1, "0164020100943577"))
        record = await expect_type(ws, "frame")
        assert record["dgn"] == "1FFFD"
        assert record["name"] == "DC_SOURCE_STATUS_1"
        assert record["direction"] == "rx"
        assert record["source"] == 0x42
        assert record["signals"]["dc_voltage"] == 12.9
        await ws.send(json.dumps({"type": "filter", "sources": [0x44], "interfaces": ["can1"]}))
        await expect_type(ws, "filter_applied")
        fakes.can.emit(frame(DC_DIMMER_STATUS_3, "0101C8FC00FFFFFF", interface="can0"))
        fakes.can.emit(frame(DC_DIMMER_STATUS_3, "0102C8FC00FFFFFF", interface="can1"))
        record = await expect_type(ws, "frame")
        assert (record["interface"], record["source"]) == ("can1", 0x44)
        await ws.send(json.dumps({"type": "filter", "dgns": ["XYZ"]}))
        assert (await expect_type(ws, "error"))["code"] == "invalid_message"
    assert fakes.can.listeners == []  # the listener goes with the last sniffer client


async def test_sniffer_rate_cap_reports_what_was_missed() -> None:
    app, fakes = fake_app(batch_window_ms=0, sniffer_rate_limit=50)
    async with running_server(app) as base, websockets.connect(f"{base}/ws/can-sniffer") as ws:
        await ws.send('{"type": "ping"}')
        await expect_type(ws, "pong")
        for _ in range(200):
            fakes.can.emit(frame(DC_SOURCE_STATUS_1, "0164020100943577"))
        missed = None
        kinds: list[str] = []
        async with asyncio.timeout(4):
            while True:
                message = check_server_message(await ws.recv())
                kinds.append(message["type"])
                if message["type"] == "missed":
                    missed = message
                    break
        frames = kinds.count("frame")
        assert frames == 50
        assert missed is not None
        assert missed["count"] == 150 and missed["rate_limited"] == 150
        assert missed["queue_full"] == 0
