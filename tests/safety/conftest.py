"""The real app and the simulated coach on a virtual bus, served by uvicorn, with a bus spy.

The spy is a third bus on the same virtual channel: every frame anyone sends (the server, the
simulated coach) is recorded with the monotonic time it was heard, decoded with the real spec.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import can
import httpx

from backend.integrations.rvc import load_config_data
from backend.main import create_app
from tests.factories import make_settings
from tests.websocket.harness import running_server

_channels = itertools.count()
SERVER = 0xF9
RVC = load_config_data()


@dataclass
class Heard:
    """One frame heard on the bus."""

    at: float  # monotonic
    can_id: int
    data: bytes
    name: str | None
    source: int
    signals: dict[str, Any]


@dataclass
class Spy(can.Listener):
    """Records every frame on the channel (bounded: a test never runs long enough to fill it)."""

    frames: list[Heard] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message_received(self, msg: can.Message) -> None:
        decoded = RVC.decode(msg.arbitration_id, bytes(msg.data))
        heard = Heard(
            time.monotonic(),
            msg.arbitration_id,
            bytes(msg.data),
            decoded.name,
            msg.arbitration_id & 0xFF,
            dict(decoded.signals),
        )
        with self.lock:
            if len(self.frames) < 200_000:
                self.frames.append(heard)

    def select(self, name: str, **signals: Any) -> list[Heard]:
        """Frames of DGN ``name`` from CoachIQ whose signals have the given values."""
        with self.lock:
            frames = list(self.frames)
        return [
            f
            for f in frames
            if f.name == name
            and f.source == SERVER
            and all(f.signals.get(k) == v for k, v in signals.items())
        ]


@dataclass
class Live:
    """A running app: REST client, ws:// base, the app, the spy and the simulated coach."""

    app: Any
    http: httpx.AsyncClient
    ws_base: str
    spy: Spy
    bus: can.BusABC

    @property
    def coach(self) -> Any:
        return self.app.state.feature_manager.get_feature("simulator").coach

    async def wait(self, predicate: Callable[[], Any], within: float = 6.0) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.02)
        raise AssertionError(f"not true within {within} s")

    async def ready(self, *entity_ids: str) -> None:
        """Wait until the entities are available and the interlock says parked."""

        async def ok() -> bool:
            safety = (await self.http.get("/api/safety")).json()
            if not safety["interlock"]["parked"]:
                return False
            for entity_id in entity_ids:
                if not (await self.http.get(f"/api/entities/{entity_id}")).json()["available"]:
                    return False
            return True

        await self.wait(ok, 8.0)

    async def result_of(self, entity_id: str, command_id: str, within: float = 3.0) -> Any:
        async def done() -> Any:
            view = (await self.http.get(f"/api/entities/{entity_id}")).json()
            last = view["last_command_result"]
            return last if last and last["command_id"] == command_id else None

        return await self.wait(done, within)


def air_leveling_mapping(directory: Path) -> Path:
    """A coach mapping with one air leveling system (four-point, at source address 52h), which
    reports LEVELING_AIR_STATUS by default; written into ``directory``."""
    mapping = directory / "air-coach.yml"
    mapping.write_text(
        "version: 1\ncoach: {name: Air coach}\nentities:\n"
        "  - {entity_id: leveling.air, name: Air leveling, type: leveling, control: air,\n"
        "     source_address: 82}\n",
        encoding="utf-8",
    )
    return mapping


@asynccontextmanager
async def live_coach(simulator: bool = True, **sections: Any) -> AsyncIterator[Live]:
    """The real app (simulated coach on unless ``simulator=False``) on a fresh virtual channel."""
    channel = f"safety-{os.getpid()}-{next(_channels)}"
    can_section = {"interfaces": [channel], "bustype": "virtual", **sections.pop("can", {})}
    settings = make_settings(
        can=can_section,
        features={"enable_simulator": simulator, "enable_persistence": False},
        **sections,
    )
    app = create_app(settings)
    bus = can.Bus(interface="virtual", channel=channel)
    spy = Spy()
    notifier = can.Notifier(bus, [spy], timeout=0.05)
    try:
        async with running_server(app) as ws_base:
            http_base = ws_base.replace("ws://", "http://")
            async with httpx.AsyncClient(base_url=http_base, timeout=10) as http:
                yield Live(app, http, ws_base, spy, bus)
    finally:
        notifier.stop()
        bus.shutdown()
