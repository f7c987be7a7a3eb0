"""Interfaces that fail: reconnection with backoff, the others keep running, states, health."""

from __future__ import annotations

import asyncio
import itertools

import can

from backend.services.feature_base import HealthStatus
from tests.can.conftest import FlakyBus, Switch, can_settings, unique_channel, wait_for


def state_of(service, channel: str) -> str:
    return service.interface_service.get(channel).state.value


async def test_failed_interface_reconnects_while_the_other_keeps_receiving(
    make_service, peer
) -> None:
    flaky, good = unique_channel("flaky"), unique_channel()
    switch = Switch()
    tasks_before = set(asyncio.all_tasks())
    service = await make_service(
        can_settings(interfaces=[flaky, good]),
        bus_factories={flaky: lambda: FlakyBus(flaky, switch)},
    )
    await wait_for(lambda: service.status()["state"] == "up")
    assert service.health().status is HealthStatus.HEALTHY

    switch.down = True
    await wait_for(lambda: state_of(service, flaky) == "reconnecting")
    health = service.health()
    assert health.status is HealthStatus.DEGRADED
    assert health.details[flaky]["state"] == "reconnecting"
    assert health.details[flaky]["last_error"]  # "receive: ... adapter unplugged" or a send
    assert service.status()["state"] == "degraded"

    # The other interface never stops.
    bus = peer(good)
    for i in range(5):
        bus.send(can.Message(arbitration_id=0x19FFFD42, data=bytes([i] * 8)))
    await wait_for(lambda: service.interface_service.get(good).counters.rx >= 5)
    assert state_of(service, good) == "up"

    opens = len(switch.opens)
    await wait_for(lambda: len(switch.opens) >= opens + 2)  # it keeps retrying
    switch.down = False
    await wait_for(lambda: state_of(service, flaky) == "up")
    counters = service.interface_service.get(flaky).counters
    assert counters.reconnects >= 1
    assert counters.errors >= 1
    status = {s["channel"]: s for s in service.interfaces_status()}
    assert status[flaky]["state"] == "up"
    assert status[flaky]["reconnects"] >= 1

    await service.stop()
    assert service.tasks() == []
    assert set(asyncio.all_tasks()) <= tasks_before | {asyncio.current_task()}


async def test_reconnection_backs_off_exponentially_up_to_the_maximum(make_service) -> None:
    channel = unique_channel("flaky")
    switch = Switch()
    switch.down = True
    service = await make_service(
        can_settings(interfaces=[channel], reconnect_initial=0.04, reconnect_max=0.16),
        bus_factories={channel: lambda: FlakyBus(channel, switch)},
    )
    await wait_for(lambda: len(switch.opens) >= 6, timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(switch.opens)]
    assert 0.035 <= gaps[0] < 0.08
    assert 0.075 <= gaps[1] < 0.14
    assert 0.15 <= gaps[2] < 0.25
    assert all(0.15 <= gap < 0.3 for gap in gaps[3:5])  # capped at reconnect_max
    assert state_of(service, channel) == "reconnecting"


async def test_send_error_moves_the_interface_to_reconnecting(make_service) -> None:
    channel = unique_channel("flaky")
    switch = Switch()
    service = await make_service(
        can_settings(interfaces=[channel]),
        bus_factories={channel: lambda: FlakyBus(channel, switch)},
    )
    await wait_for(lambda: state_of(service, channel) == "up")
    await wait_for(lambda: switch.sent)  # the address claim went out
    switch.down = True
    await service.send_can_message(0x19FEDB9F, bytes(8))
    await wait_for(lambda: state_of(service, channel) == "reconnecting")
    switch.down = False
    await wait_for(lambda: state_of(service, channel) == "up")


async def test_bad_configuration_fails_without_retrying(make_service) -> None:
    channel = unique_channel("broken")
    attempts: list[int] = []

    def factory() -> can.BusABC:
        attempts.append(1)
        raise can.CanInterfaceNotImplementedError("no such driver")

    service = await make_service(
        can_settings(interfaces=[channel]), bus_factories={channel: factory}
    )
    await wait_for(lambda: state_of(service, channel) == "failed")
    await asyncio.sleep(0.2)
    assert len(attempts) == 1
    health = service.health()
    assert health.status is HealthStatus.UNHEALTHY  # every interface failed
    assert "no such driver" in health.details[channel]["last_error"]
    assert service.status()["state"] == "down"
