"""Reception: frames from another node are decoded once, counted, sniffed and handed on."""

from __future__ import annotations

import can

from backend.integrations.can.frame_event import FrameEvent
from tests.can.conftest import can_settings, unique_channel, wait_for

DC_SOURCE_STATUS_1 = (0x19FFFD42, bytes.fromhex("0164020100943577"))


async def test_received_frame_is_decoded_counted_and_sniffed(make_service, peer) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.status()["state"] == "up")
    events: list[FrameEvent] = []
    unsubscribe = service.add_listener(events.append)
    bus = peer(channel)
    bus.send(can.Message(arbitration_id=DC_SOURCE_STATUS_1[0], data=DC_SOURCE_STATUS_1[1]))

    await wait_for(lambda: [e for e in events if e.arbitration_id == 0x19FFFD42])
    event = next(e for e in events if e.arbitration_id == 0x19FFFD42)
    assert event.direction == "rx"
    assert event.interface == channel
    assert event.decoded.name == "DC_SOURCE_STATUS_1"

    record = service.sniffer_records(10, {"dgn": 0x1FFFD})[0]
    assert record["name"] == "DC_SOURCE_STATUS_1"
    assert record["direction"] == "rx"
    assert record["interface"] == channel
    assert record["source"] == 0x42
    assert record["data"] == "0164020100943577"
    assert record["signals"]["dc_voltage"] == 12.90  # 0x0102 x 0.05 V

    stats = service.statistics()
    assert stats["interfaces"][channel]["rx"] >= 1
    assert any(d["dgn"] == "1FFFD" and d["rx"] == 1 for d in stats["dgns"])
    assert any(s["source"] == 0x42 and s["count"] == 1 for s in stats["sources"])
    assert service.sniffer_records(10, {"source": 0x42, "direction": "tx"}) == []

    unsubscribe()
    before = len(events)
    bus.send(can.Message(arbitration_id=DC_SOURCE_STATUS_1[0], data=DC_SOURCE_STATUS_1[1]))
    await wait_for(lambda: service.statistics()["dgns"][0]["rx"] >= 2)
    assert len(events) == before


async def test_failing_listener_is_counted_and_reception_goes_on(make_service, peer) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.status()["state"] == "up")

    def broken(event: FrameEvent) -> None:
        raise RuntimeError("listener bug")

    good: list[FrameEvent] = []
    service.add_listener(broken)
    service.add_listener(good.append)
    bus = peer(channel)
    for i in range(3):
        bus.send(can.Message(arbitration_id=0x19FFFD42, data=bytes([i, 0x64, 2, 1, 0, 0, 0, 0])))
    await wait_for(lambda: len([e for e in good if e.arbitration_id == 0x19FFFD42]) == 3)
    assert service.listener_errors >= 3
    assert service.status()["listener_errors"] >= 3


async def test_multi_packet_message_is_reassembled_for_listeners(make_service, peer) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.status()["state"] == "up")
    events: list[FrameEvent] = []
    service.add_listener(events.append)
    bus = peer(channel)
    text = b"ACME*QX-125*A4323443*"
    # INITIAL_PACKET from 0x80: 21 bytes in 3 packets of PRODUCT_ID (0FEEB), then the packets.
    bus.send(
        can.Message(arbitration_id=0x18ECFF80, data=bytes([0x20, 21, 0, 3, 0xFF, 0xEB, 0xFE, 0]))
    )
    for n in range(3):
        chunk = text[n * 7 : n * 7 + 7].ljust(7, b"\xff")
        bus.send(can.Message(arbitration_id=0x18EBFF80, data=bytes([n + 1]) + chunk))
    product = await wait_for(lambda: [e for e in events if e.decoded.name == "PRODUCT_ID"])
    assert product[0].data == text
    assert product[0].arbitration_id & 0xFF == 0x80
