"""Fixtures of the CAN tests: unique virtual channels, a started CANService, a peer bus."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import can
import pytest

from backend.core.config import CANSettings
from backend.integrations.rvc.loader import load_config_data
from backend.services.can_service import CANService
from backend.services.feature_base import Feature

_counter = itertools.count()


def unique_channel(prefix: str = "cantest") -> str:
    """A virtual channel name no other test (or process) uses."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


def decode(arbitration_id: int, data: bytes) -> Any:
    """The real RV-C decoder."""
    return load_config_data().decoder.decode(arbitration_id, data)


def can_settings(**values: Any) -> CANSettings:
    """CAN settings for tests: fast reconnection, short claim, given values on top."""
    base: dict[str, Any] = {
        "interfaces": [unique_channel()],
        "reconnect_initial": 0.05,
        "reconnect_max": 0.2,
    }
    base.update(values)
    return CANSettings(**base)


async def wait_for(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:  # noqa: ASYNC109
    """Poll ``predicate`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


class FakeRVCFeature(Feature):
    """Stands in for the ``rvc`` feature in tests that build their own FeatureManager."""

    def __init__(self, name: str, context: Any, friendly_name: str | None = None) -> None:
        super().__init__(name, context, friendly_name)
        self.service = load_config_data()


ServiceFactory = Callable[..., Awaitable[CANService]]


@pytest.fixture
async def make_service() -> AsyncIterator[ServiceFactory]:
    """Build and start CANServices; all are stopped (and their tasks checked) at teardown."""
    services: list[CANService] = []

    async def factory(settings: CANSettings | None = None, **kwargs: Any) -> CANService:
        kwargs.setdefault("claim_wait", 0.05)
        kwargs.setdefault("packet_gap", 0.005)
        service = CANService(settings or can_settings(), decode, **kwargs)
        await service.start()
        services.append(service)
        return service

    yield factory
    for service in services:
        await service.stop()
        assert service.tasks() == []


@pytest.fixture
def peer() -> Iterator[Callable[[str], can.BusABC]]:
    """Open python-can virtual buses on a channel (another node); all shut down afterwards."""
    buses: list[can.BusABC] = []

    def open_bus(channel: str) -> can.BusABC:
        bus = can.Bus(interface="virtual", channel=channel)
        buses.append(bus)
        return bus

    yield open_bus
    for bus in buses:
        bus.shutdown()


async def recv(bus: can.BusABC, timeout: float = 2.0) -> can.Message | None:  # noqa: ASYNC109
    """Receive one frame from a peer bus without blocking the loop."""
    return await asyncio.to_thread(bus.recv, timeout)


async def recv_until(
    bus: can.BusABC,
    predicate: Callable[[can.Message], bool],
    timeout: float = 2.0,  # noqa: ASYNC109
) -> can.Message:
    """Receive frames from a peer bus until one satisfies ``predicate``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = await recv(bus, max(0.01, deadline - time.monotonic()))
        if msg is not None and predicate(msg):
            return msg
    raise AssertionError("no matching frame received")


class Switch:
    """Controls :class:`FlakyBus` instances: ``down`` makes opening, receiving and sending fail."""

    def __init__(self) -> None:
        self.down = False
        self.opens: list[float] = []
        self.sent: list[can.Message] = []


class FlakyBus(can.BusABC):
    """A bus that fails on purpose, like an unplugged adapter (``OSError`` on every call)."""

    def __init__(self, channel: str, switch: Switch, **kwargs: Any) -> None:
        switch.opens.append(time.monotonic())
        if switch.down:
            raise OSError(19, "No such device")
        self.switch = switch
        super().__init__(channel=channel, **kwargs)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        if self.switch.down:
            raise can.CanOperationError("adapter unplugged")
        time.sleep(min(timeout or 0.02, 0.02))
        return None, False

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        if self.switch.down:
            raise OSError(100, "Network is down")
        self.switch.sent.append(msg)


class DownBus(can.BusABC):
    """A python-can interface whose adapter is never there (registered as ``coachiq_down``)."""

    def __init__(self, channel: str, **kwargs: Any) -> None:
        raise OSError(19, "No such device")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise OSError(19, "No such device")


@pytest.fixture
def down_bustype(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register :class:`DownBus` with python-can for the test; returns its interface name."""
    import can.util
    from can.interfaces import BACKENDS, VALID_INTERFACES

    monkeypatch.setitem(BACKENDS, "coachiq_down", ("tests.can.conftest", "DownBus"))
    monkeypatch.setattr(can.util, "VALID_INTERFACES", VALID_INTERFACES | {"coachiq_down"})
    return "coachiq_down"


class BrokenBus(can.BusABC):
    """A python-can interface that rejects its configuration (registered as ``coachiq_broken``)."""

    def __init__(self, channel: str, **kwargs: Any) -> None:
        raise ValueError(f"channel {channel!r} is not one this adapter has")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise AssertionError("never opened")


class StuckBus(can.BusABC):
    """A bus whose sends never complete until shut down (registered as ``coachiq_stuck``)."""

    def __init__(self, channel: str, **kwargs: Any) -> None:
        self._closed = threading.Event()
        super().__init__(channel=channel, **kwargs)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        self._closed.wait(min(timeout or 0.02, 0.02))
        return None, False

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._closed.wait(10)

    def shutdown(self) -> None:
        self._closed.set()
        super().shutdown()


@pytest.fixture
def register_bustype(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, type], str]:
    """Register a bus class with python-can under a name for the test; returns the name."""
    import can.util
    from can.interfaces import BACKENDS

    def register(name: str, cls: type) -> str:
        monkeypatch.setitem(BACKENDS, name, ("tests.can.conftest", cls.__name__))
        monkeypatch.setattr(can.util, "VALID_INTERFACES", can.util.VALID_INTERFACES | {name})
        return name

    return register
