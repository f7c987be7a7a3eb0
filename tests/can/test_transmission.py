"""Transmission: bounded queues, logical interfaces, unknown interfaces, tx recorded once."""

from __future__ import annotations

import logging

import pytest

from backend.integrations.can.errors import (
    FrameError,
    TransmitQueueFullError,
    UnknownInterfaceError,
)
from tests.can.conftest import can_settings, recv_until, unique_channel, wait_for

DIMMER_ON = (0x19FEDB9F, bytes.fromhex("2AFFC800FF00FFFF"))


async def test_sent_frame_reaches_the_bus_and_is_recorded_once_as_tx(make_service, peer) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.status()["state"] == "up")
    bus = peer(channel)
    await service.send_can_message(*DIMMER_ON, interface="house", entity_id="light.bedroom")

    msg = await recv_until(bus, lambda m: m.arbitration_id == DIMMER_ON[0])
    assert bytes(msg.data) == DIMMER_ON[1]
    await wait_for(lambda: service.sniffer_records(10, {"direction": "tx", "dgn": 0x1FEDB}))
    records = service.sniffer_records(100, {"dgn": 0x1FEDB})
    assert len(records) == 1
    assert records[0]["direction"] == "tx"
    assert records[0]["name"] == "DC_DIMMER_COMMAND_2"
    assert service.statistics()["interfaces"][channel]["tx"] >= 1
    pending = service.sniffer_groups()["pending"]
    assert pending[0]["entity_id"] == "light.bedroom"


async def test_command_and_status_answer_form_a_group(make_service, peer) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.status()["state"] == "up")
    bus = peer(channel)
    await service.send_can_message(*DIMMER_ON, entity_id="light.bedroom")
    await recv_until(bus, lambda m: m.arbitration_id == DIMMER_ON[0])
    # DC_DIMMER_STATUS_3 (1FEDA) from the dimmer 0x9F, instance 0x2A, 100 %.
    import can

    bus.send(can.Message(arbitration_id=0x19FEDA9F, data=bytes.fromhex("2AFFC8FCFF05FFFF")))
    groups = await wait_for(lambda: service.sniffer_groups()["groups"])
    assert groups[0]["status"] == "answered"
    assert groups[0]["entity_id"] == "light.bedroom"
    assert groups[0]["command"]["name"] == "DC_DIMMER_COMMAND_2"
    assert groups[0]["response"]["name"] == "DC_DIMMER_STATUS_3"


async def test_unanswered_command_expires_after_pending_timeout(make_service, peer) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel], pending_timeout=0.1))
    await wait_for(lambda: service.status()["state"] == "up")
    await service.send_can_message(*DIMMER_ON)
    groups = await wait_for(lambda: service.sniffer_groups()["groups"], timeout=2)
    assert groups[0]["status"] == "expired"
    assert groups[0]["response"] is None
    assert service.sniffer_groups()["pending"] == []


async def test_full_transmit_queue_rejects_the_frame(make_service) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel], tx_queue_size=4))
    await wait_for(lambda: service.status()["state"] == "up")
    # No await between sends: the writer cannot drain the queue meanwhile.
    interface = service.interface_service.get(channel)
    for _ in range(4 - interface.tx_queue_length):
        await service.send_can_message(*DIMMER_ON)
    with pytest.raises(TransmitQueueFullError, match="full"):
        await service.send_can_message(*DIMMER_ON)
    assert interface.tx_queue_length == 4
    assert interface.counters.tx_dropped == 1


async def test_unknown_interface_and_bad_frames_are_rejected(make_service) -> None:
    service = await make_service()
    with pytest.raises(UnknownInterfaceError, match="unknown CAN interface 'can7'"):
        await service.send_can_message(*DIMMER_ON, interface="can7")
    with pytest.raises(FrameError, match="can_id"):
        await service.send_can_message(0x2000_0000, b"")
    with pytest.raises(FrameError, match="data"):
        await service.send_can_message(0x19FEDB9F, bytes(9))


async def test_logical_names_resolve_and_fall_back_to_the_first_interface(
    make_service, peer, caplog
) -> None:
    house, chassis = unique_channel(), unique_channel()
    mapped = await make_service(
        can_settings(interfaces=[house, chassis], interface_mappings={"chassis": chassis})
    )
    resolve = mapped.interface_service.resolve_interface
    assert resolve("chassis") == chassis
    assert resolve(chassis) == chassis
    with caplog.at_level(logging.WARNING):
        assert resolve("house") == house  # not mapped: first interface, logged
        assert resolve(None) == house
    assert "No CAN interface mapped to 'house'" in caplog.text

    await wait_for(lambda: mapped.status()["state"] == "up")
    house_bus, chassis_bus = peer(house), peer(chassis)
    await mapped.send_can_message(*DIMMER_ON, interface="chassis")
    await recv_until(chassis_bus, lambda m: m.arbitration_id == DIMMER_ON[0])
    other = await house_bus_frames(house_bus)
    assert DIMMER_ON[0] not in other  # sent to the chassis interface only
    statuses = {s["channel"]: s for s in mapped.interfaces_status()}
    assert statuses[chassis]["logical_names"] == ["chassis"]
    assert statuses[house]["logical_names"] == ["house"]


async def house_bus_frames(bus) -> set[int]:
    """Ids of the frames waiting on a peer bus."""
    import asyncio

    ids = set()
    while (msg := await asyncio.to_thread(bus.recv, 0.1)) is not None:
        ids.add(msg.arbitration_id)
    return ids
