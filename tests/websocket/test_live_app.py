"""The real application on a python-can ``virtual`` bus, watched through real WebSocket clients.

The app is the one ``create_app`` builds from feature_flags.yaml and the default coach mapping;
a peer bus on the same virtual channel plays the coach's devices.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import can
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
    sndbuf: int | None = None, **websocket: Any
) -> AsyncIterator[tuple[str, can.BusABC]]:
    """The real app on a fresh virtual channel; yields its ws:// base and a peer bus."""
    channel = f"wslive-{os.getpid()}-{next(_channels)}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual", "address_claiming": False},
        features={"enable_simulator": False},
        websocket={"batch_window_ms": 5, **websocket},
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
        await expect_type(sniffer, "filter_applied")

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
    """Sends dimmer status frames, each one a change, and remembers when each was sent."""

    def __init__(self, peer: can.BusABC, instances: list[int], period: float) -> None:
        self.peer = peer
        self.instances = instances
        self.period = period
        self.sent_at: dict[tuple[int, float], float] = {}
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            instance = self.instances[self.count % len(self.instances)]
            brightness = (self.count % 200) * 0.5
            self.sent_at[(instance, brightness)] = time.time()
            self.peer.send(dimmer_status(instance, brightness))
            self.count += 1
            await asyncio.sleep(self.period)

    def __enter__(self) -> Producer:
        self._task = asyncio.create_task(self._run(), name="test-producer")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_stalled_client_is_bounded_and_dropped_while_20_readers_keep_up() -> None:
    async with live_app(sndbuf=4096, stall_timeout=1.0, batch_window_ms=10) as (base, peer):
        manager = manager_of(base)
        latencies: list[float] = []
        # A client that keeps asking for snapshots and never reads them: the server's writes to
        # it block after a few hundred kilobytes at most.
        async with stalled_client(f"{base}/ws/entities") as stalled_send:
            readers = [await websockets.connect(f"{base}/ws/entities") for _ in range(20)]
            snapshots = [await expect_type(ws, "snapshot") for ws in readers]
            lights = dimmer_lights(snapshots[0])
            entity_count = len(snapshots[0]["entities"])
            assert len(lights) >= 3
            stop = asyncio.Event()

            async def read(ws: Any, producer: Producer) -> None:
                while not stop.is_set():
                    try:
                        async with asyncio.timeout(0.2):
                            text = await ws.recv()
                    except TimeoutError:
                        continue
                    received = time.time()
                    message = json.loads(text)
                    if message["type"] == "entity_update" and message["entity_id"] in lights:
                        key = (lights[message["entity_id"]], message["state"]["brightness"])
                        latencies.append(received - producer.sent_at[key])

            peak_queue = 0
            dropped_after = None
            with Producer(peer, sorted(lights.values()), period=0.005) as producer:
                tasks = [asyncio.create_task(read(ws, producer), name="reader") for ws in readers]
                started = time.monotonic()
                while time.monotonic() - started < 3.0:
                    stalled = [c for c in manager.stats()["clients"] if c["client_id"] == 1]
                    if stalled:
                        peak_queue = max(peak_queue, stalled[0]["queued"])
                        stalled_send('{"type": "subscribe"}')
                    elif dropped_after is None:
                        dropped_after = time.monotonic() - started
                    await asyncio.sleep(0.02)
                sent = producer.count
            stop.set()
            await asyncio.gather(*tasks)
            for ws in readers:
                await ws.close()
        assert manager.counters["dropped_stalled"] == 1
        assert dropped_after is not None, "the stalled client was not dropped"
        # Coalescing bounds what the server holds for it: one entry per entity at most.
        assert 0 < peak_queue <= entity_count
    assert sent >= 100
    assert len(latencies) >= 20 * sent * 0.8, (len(latencies), sent)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    p50 = statistics.median(latencies)
    # The budget (p99 <= 50 ms) is measured by benchmarks/ws_latency.py on a quiet machine; here
    # server, 21 clients and the bus share one event loop on a shared CI machine, so the median
    # must meet it and the tail gets headroom for the machine, not for the stalled client.
    assert p50 < 0.05, f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    assert p99 < 0.25, f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


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
