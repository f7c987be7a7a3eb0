"""Fixtures: the spec, a simulated coach on its own virtual channel, and a listening bus."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable

import can
import pytest

from backend.integrations.rvc.decoder import DecodedMessage, Decoder
from backend.integrations.rvc.spec import DEFAULT_SPEC_PATH, RVCSpec, read_spec
from backend.services.simulator.engine import SimOptions, SimulatedCoach
from backend.services.simulator.mapping import DEFAULT_MAPPING_PATH, read_mapping_devices

_channels = itertools.count()
SERVER = 0xF9


@pytest.fixture(scope="session")
def spec() -> RVCSpec:
    return read_spec(DEFAULT_SPEC_PATH)


@pytest.fixture(scope="session")
def decoder(spec: RVCSpec) -> Decoder:
    return Decoder(spec)


class Bench:
    """A coach on a fresh virtual channel, and a second bus playing the server's part."""

    def __init__(self, coach: SimulatedCoach, bus: can.BusABC, decoder: Decoder) -> None:
        self.coach = coach
        self.bus = bus
        self.decoder = decoder

    def send(self, can_id: int, data: bytes) -> None:
        self.bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=True))

    async def collect(
        self, seconds: float, until: Callable[[DecodedMessage], bool] | None = None
    ) -> list[tuple[float, DecodedMessage]]:
        """(bus timestamp, decoded frame) heard for ``seconds`` or until one matches ``until``."""
        out: list[tuple[float, DecodedMessage]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.bus.recv(0)
            if msg is None:
                await asyncio.sleep(0.005)
                continue
            decoded = self.decoder.decode(msg.arbitration_id, bytes(msg.data))
            out.append((msg.timestamp, decoded))
            if until is not None and until(decoded):
                break
        return out


@pytest.fixture
async def bench(spec: RVCSpec, decoder: Decoder) -> AsyncIterator[Bench]:
    channel = f"simtest{next(_channels)}"
    devices = read_mapping_devices(DEFAULT_MAPPING_PATH, spec)
    coach = SimulatedCoach(
        spec, devices, bustype="virtual", channels=[channel], options=SimOptions(seed=1)
    )
    bus = can.Bus(interface="virtual", channel=channel)
    await coach.start()
    try:
        # A node answers REQUESTs once it has claimed its address (250 ms after start).
        for _ in range(100):
            if all(node.rvc.state == "claimed" for node in coach.nodes):
                break
            await asyncio.sleep(0.01)
        yield Bench(coach, bus, decoder)
    finally:
        await coach.stop()
        bus.shutdown()
