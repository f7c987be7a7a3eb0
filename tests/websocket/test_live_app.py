"""The real application on a python-can ``virtual`` bus, watched through real WebSocket clients.

The app is the one ``create_app`` builds from feature_flags.yaml and the default coach mapping;
a peer bus on the same virtual channel plays the coach's devices.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import can
import httpx
import pytest
import websockets

from backend.integrations.rvc import encode, load_config_data
from backend.main import create_app
from backend.websocket.manager import WebSocketManager
from tests.factories import make_settings
from tests.websocket.harness import (
    expect_type,
    receive_until,
    running_server,
    stalled_client,
)

_channels = itertools.count()
LIVE_APPS: dict[str, Any] = {}
DIMMER_SOURCE = 131  # the default mapping's DC dimmer module
GALLEY = "light.galley_ceiling"  # dimmable, instance 2


def dimmer_status(instance: int, brightness: float) -> can.Message:
    """DC_DIMMER_STATUS_3 from the dimmer module: ``brightness`` % on ``instance``."""
    arbitration_id, data = encode(
        "DC_DIMMER_STATUS_3",
        {"operating_status_brightness": brightness},
        instance=instance,
        source_address=DIMMER_SOURCE,
    )
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=True)


def next_message(bus: can.BusABC, name: str, within: float = 2.0) -> Any:
    """The next frame named ``name`` the peer receives, decoded (others are skipped)."""
    rvc = load_config_data()
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        frame = bus.recv(left)
        if frame is not None:
            decoded = rvc.decode(frame.arbitration_id, bytes(frame.data))
            if decoded.name == name:
                return decoded
    raise AssertionError(f"no {name} on the bus within {within} s")


@asynccontextmanager
async def live_app(
    sndbuf: int | None = None, sections: dict[str, Any] | None = None, **websocket: Any
) -> AsyncIterator[tuple[str, can.BusABC]]:
    """The real app on a fresh virtual channel; yields its ws:// base and a peer bus.

    Args:
        sndbuf: SO_SNDBUF of the server's accepted sockets (see ``running_server``).
        sections: more settings sections, e.g. ``{"persistence": {...}}``.
        **websocket: WebSocket settings.
    """
    channel = f"wslive-{os.getpid()}-{next(_channels)}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual", "address_claiming": False},
        features={"enable_simulator": False},
        websocket={"batch_window_ms": 5, **websocket},
        **(sections or {}),
    )
    app = create_app(settings)
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        async with running_server(app, sndbuf=sndbuf) as base:
            states = {f["name"]: f["state"] for f in app.state.feature_manager.status()}
            assert states["websocket"] == "running", app.state.feature_manager.status()
            LIVE_APPS[base] = app
            try:
                yield base, peer
            finally:
                LIVE_APPS.pop(base, None)
    finally:
        peer.shutdown()


async def test_snapshot_update_after_a_frame_and_command_over_the_socket() -> None:
    async with (
        live_app() as (base, peer),
        websockets.connect(f"{base}/ws/entities") as ws,
        websockets.connect(f"{base}/ws/can-sniffer") as sniffer,
    ):
        snapshot = await expect_type(ws, "snapshot")
        by_id = {e["entity_id"]: e for e in snapshot["entities"]}
        assert by_id[GALLEY]["type"] == "light"
        assert by_id[GALLEY]["area"] == "galley"
        await sniffer.send(json.dumps({"type": "filter", "dgns": ["1FEDA", "1FEDB"]}))
        # Frames already on their way (CoachIQ's own ADDRESS_CLAIMED at start-up, for one) may
        # come before the answer; the first message that is not a frame must be the answer.
        ack = await receive_until(sniffer, lambda m: m["type"] != "frame")
        assert ack["type"] == "filter_applied", ack

        # A status frame on the bus becomes an entity_update with the spec's values.
        peer.send(dimmer_status(2, 37.5))
        update = await receive_until(ws, lambda m: m.get("entity_id") == GALLEY)
        assert update["type"] == "entity_update"
        assert update["state"]["brightness"] == 37.5
        assert update["state"]["state"] == "on"
        assert update["available"] is True
        frame = await expect_type(sniffer, "frame")
        assert (frame["dgn"], frame["direction"], frame["source"]) == ("1FEDA", "rx", 131)
        assert frame["signals"]["operating_status_brightness"] == 37.5

        # A command over the socket: answered, sent on the bus, confirmed by the device's status.
        await ws.send(
            json.dumps(
                {
                    "type": "command",
                    "id": 1,
                    "entity_id": GALLEY,
                    "command": "set",
                    "state": "on",
                    "brightness": 80,
                }
            )
        )
        accepted = await receive_until(ws, lambda m: m["type"] == "command_result")
        assert accepted["status"] == "pending" and accepted["id"] == 1
        command_id = accepted["command_id"]
        decoded = await asyncio.to_thread(next_message, peer, "DC_DIMMER_COMMAND_2")
        assert decoded.signals["desired_level_brightness"] == 80  # percent (raw 160)
        tx = await receive_until(sniffer, lambda m: m.get("direction") == "tx")
        assert (tx["dgn"], tx["direction"]) == ("1FEDB", "tx")

        peer.send(dimmer_status(2, 80))
        update = await receive_until(ws, lambda m: m["type"] == "entity_update")
        assert update["state"]["brightness"] == 80
        result = await receive_until(ws, lambda m: m["type"] == "command_result")
        assert result["status"] == "confirmed"
        assert result["command_id"] == command_id

        # The same validation as REST: out of range is rejected with the 422 verdict.
        await ws.send(
            json.dumps(
                {"type": "command", "entity_id": GALLEY, "command": "set", "brightness": 150}
            )
        )
        rejected = await receive_until(ws, lambda m: m["type"] == "command_result")
        assert rejected["status"] == "rejected"
        assert rejected["error"]["code"] == "invalid_command"
        assert rejected["error"]["http_status"] == 422
        assert "brightness" in rejected["error"]["message"]


async def test_subscription_ping_and_malformed_on_the_real_app() -> None:
    async with (
        live_app() as (base, peer),
        websockets.connect(f"{base}/ws/entities") as ws,
        websockets.connect(f"{base}/ws/entities") as other,
    ):
        await expect_type(ws, "snapshot")
        await expect_type(other, "snapshot")
        await ws.send(json.dumps({"type": "subscribe", "areas": ["bedroom"]}))
        await expect_type(ws, "subscribed")
        snapshot = await expect_type(ws, "snapshot")
        assert snapshot["entities"]
        assert {e["area"] for e in snapshot["entities"]} == {"bedroom"}
        await ws.send("{oops")
        assert (await expect_type(ws, "error"))["code"] == "invalid_json"
        peer.send(dimmer_status(2, 10))  # galley: only the unsubscribed client hears it
        peer.send(dimmer_status(3, 20))  # bedroom ceiling
        update = await expect_type(ws, "entity_update")
        assert update["entity_id"] == "light.bedroom_ceiling"
        seen = [await expect_type(other, "entity_update") for _ in range(2)]
        assert {u["entity_id"] for u in seen} == {GALLEY, "light.bedroom_ceiling"}
        await ws.send('{"type": "ping", "id": "x"}')
        assert (await expect_type(ws, "pong"))["id"] == "x"


async def test_the_command_audit_names_the_websocket_client(tmp_path: Path) -> None:
    persistence = {"persistence": {"enabled": True, "data_dir": tmp_path / "data"}}
    async with (
        live_app(sections=persistence) as (base, peer),
        websockets.connect(f"{base}/ws/entities") as ws,
        httpx.AsyncClient(base_url=base.replace("ws://", "http://")) as http,
    ):
        await expect_type(ws, "snapshot")
        peer.send(dimmer_status(2, 0))  # the light reports, so it accepts commands
        await receive_until(ws, lambda m: m.get("entity_id") == GALLEY)
        command = {"type": "command", "id": 9, "entity_id": GALLEY, "command": "set"}
        await ws.send(json.dumps(command | {"state": "on", "brightness": 40}))
        accepted = await receive_until(ws, lambda m: m["type"] == "command_result")
        assert accepted["status"] == "pending", accepted
        peer.send(dimmer_status(2, 40))  # the device confirms
        result = await receive_until(ws, lambda m: m["type"] == "command_result")
        assert result["status"] == "confirmed"
        entries: list[dict[str, Any]] = []
        async with asyncio.timeout(10):  # the history writer flushes every half second
            while not entries:
                response = await http.get("/api/persistence/audit", params={"entity_id": GALLEY})
                assert response.status_code == 200, response.text
                entries = response.json()["entries"]
                await asyncio.sleep(0.1)
        assert [(e["command_id"], e["status"], e["client"]) for e in entries] == [
            (accepted["command_id"], "confirmed", "127.0.0.1 (websocket)")
        ]


def manager_of(base: str) -> WebSocketManager:
    return LIVE_APPS[base].state.feature_manager.get_feature("websocket").service


def dimmer_lights(snapshot: dict[str, Any]) -> dict[str, int]:
    """entity_id -> instance of the mapping's lights on DC_DIMMER_STATUS_3."""
    return {
        e["entity_id"]: e["device"]["instance"]
        for e in snapshot["entities"]
        if e["type"] == "light" and e["device"]["status_dgns"] == ["DC_DIMMER_STATUS_3"]
    }


class Producer:
    """Sends dimmer status frames, each one a change, and remembers the last per instance."""

    def __init__(self, peer: can.BusABC, instances: list[int], period: float) -> None:
        self.peer = peer
        self.instances = instances
        self.period = period
        self.last_brightness: dict[int, float] = {}
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            instance = self.instances[self.count % len(self.instances)]
            brightness = (self.count % 200) * 0.5
            self.peer.send(dimmer_status(instance, brightness))
            self.last_brightness[instance] = brightness
            self.count += 1
            await asyncio.sleep(self.period)

    def __enter__(self) -> Producer:
        self._task = asyncio.create_task(self._run(), name="test-producer")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_stalled_client_is_bounded_and_dropped_while_20_readers_keep_up() -> None:
    # Behaviour only: latency is measured by benchmarks/ws_latency.py, not here. The one time
    # bound (the readers' final state) is seconds, so a loaded 2-core CI machine cannot miss it.
    async with live_app(sndbuf=4096, stall_timeout=1.0, batch_window_ms=10) as (base, peer):
        manager = manager_of(base)
        # A client that asks for snapshots until its socket is full and never reads them: the
        # server's writes to it block after a few hundred kilobytes at most.
        async with stalled_client(f"{base}/ws/entities") as stalled_send:
            readers = [await websockets.connect(f"{base}/ws/entities") for _ in range(20)]
            snapshots = [await expect_type(ws, "snapshot") for ws in readers]
            lights = dimmer_lights(snapshots[0])
            entity_count = len(snapshots[0]["entities"])
            assert len(lights) >= 3
            # Per reader: when each update arrived, and the last brightness seen per light.
            arrivals: list[list[float]] = [[] for _ in readers]
            seen: list[dict[str, float]] = [{} for _ in readers]
            stop = asyncio.Event()
            progress = asyncio.Event()  # set on every update a reader sees

            async def read(i: int, ws: Any) -> None:
                while not stop.is_set():
                    try:
                        async with asyncio.timeout(0.2):
                            text = await ws.recv()
                    except TimeoutError:
                        continue
                    message = json.loads(text)
                    if message["type"] == "entity_update" and message["entity_id"] in lights:
                        arrivals[i].append(time.monotonic())
                        seen[i][message["entity_id"]] = message["state"]["brightness"]
                        progress.set()

            tasks = [
                asyncio.create_task(read(i, ws), name="reader") for i, ws in enumerate(readers)
            ]
            peak_queue = 0
            blocked: list[float] = []  # when the stalled client was seen blocked in a send
            dropped = False
            subscribes = 0
            with Producer(peer, sorted(lights.values()), period=0.005) as producer:
                started = time.monotonic()
                while time.monotonic() - started < 20.0:
                    now = time.monotonic()
                    stalled = [c for c in manager.stats()["clients"] if c["client_id"] == 1]
                    if not stalled:
                        dropped = True
                        break
                    peak_queue = max(peak_queue, stalled[0]["queued"])
                    if stalled[0]["send_blocked_s"] > 0.1:
                        blocked.append(now)
                    elif not blocked:  # a snapshot per subscribe fills its socket quickly
                        stalled_send('{"type": "subscribe"}')
                        subscribes += 1
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)  # the readers go on after the drop
            sent = producer.count
            last = {light: producer.last_brightness[instance] for light, instance in lights.items()}
            # Every reader ends with the current state of every light.
            async with asyncio.timeout(10):
                while any(s != last for s in seen):
                    progress.clear()
                    await progress.wait()
            stop.set()
            await asyncio.gather(*tasks)
            for ws in readers:
                await ws.close()
        assert dropped, "the stalled client was not dropped"
        assert manager.counters["dropped_stalled"] == 1
        assert blocked, "the stalled client's sends never blocked"
        # While the stalled client's send was blocked, every reader kept receiving updates.
        first, final = blocked[0], blocked[-1]
        during = [sum(first <= t <= final for t in times) for times in arrivals]
        assert min(during) > 0, during
        # What the server holds for it is bounded: at most one update per entity (coalesced),
        # one snapshot (a newer one replaces it) and the acknowledgements of its subscribes.
        assert 0 < peak_queue <= entity_count + 1 + subscribes
    assert sent >= 50  # enough traffic for the test to mean something


async def test_200_clients_connect_and_disconnect_while_updates_flow() -> None:
    async with live_app(batch_window_ms=5) as (base, peer):
        manager = manager_of(base)
        baseline = {t.get_name() for t in asyncio.all_tasks()}
        async with websockets.connect(f"{base}/ws/entities") as first:
            lights = dimmer_lights(await expect_type(first, "snapshot"))

        async def visit(i: int) -> None:
            path = "/ws/entities" if i % 4 else "/ws/can-sniffer"
            async with websockets.connect(f"{base}{path}") as ws:
                if path == "/ws/entities":
                    await expect_type(ws, "snapshot")
                    await receive_until(ws, lambda m: m["type"] == "entity_update")
                else:
                    await receive_until(ws, lambda m: m["type"] == "frame")

        with Producer(peer, sorted(lights.values()), period=0.002):
            for start in range(0, 200, 50):
                await asyncio.gather(*(visit(i) for i in range(start, start + 50)))
        for _ in range(250):  # the server notices the last closes within a few ticks
            if not manager.client_count and len(manager.tasks) == 1:
                break
            await asyncio.sleep(0.02)
        assert manager.client_count == 0
        assert [t.get_name() for t in manager.tasks] == ["ws-supervisor"]
        leaked = {t.get_name() for t in asyncio.all_tasks()} - baseline
        assert not [name for name in leaked if name.startswith("ws-")], leaked
        assert manager.counters["errors"] == 0
    assert manager.tasks == []


async def test_clients_beyond_the_limit_are_refused_with_the_reason() -> None:
    async with live_app(max_clients=2) as (base, _peer):
        async with (
            websockets.connect(f"{base}/ws/entities") as first,
            websockets.connect(f"{base}/ws/can-sniffer") as second,
        ):
            assert json.loads(await first.recv())["type"] == "snapshot"
            async with websockets.connect(f"{base}/ws/entities") as third:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(third.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013
            assert closed.value.rcvd.reason == "too many clients (COACHIQ_WEBSOCKET__MAX_CLIENTS=2)"
            assert manager_of(base).counters["rejected_full"] == 1
            await second.send(json.dumps({"type": "ping"}))
        # once they have gone, a new client is served again
        async with websockets.connect(f"{base}/ws/entities") as again:
            assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "snapshot"
