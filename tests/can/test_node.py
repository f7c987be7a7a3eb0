"""CoachIQ as an RV-C node: address claim, contested claims, REQUEST answers (spec 3.3, 4.3)."""

from __future__ import annotations

import can

from backend.integrations.rvc.transport import Reassembler
from tests.can.conftest import can_settings, recv, recv_until, unique_channel, wait_for

ADDRESS_REQUEST_F9 = (0x18EAF9FE, bytes.fromhex("00EE00FFFFFFFFFF"))
STATIC_NAME = bytes.fromhex("0100000000000000")  # arbitrary-address bit 0: beats any dynamic
LOW_PRIORITY_NAME = bytes.fromhex("FFFFFFFFFFFFFFFF")


def is_claim(msg: can.Message) -> bool:
    return (msg.arbitration_id >> 16) & 0xFF == 0xEE


async def start_node(make_service, peer, claim_wait: float = 0.05, **settings):
    channel = unique_channel()
    bus = peer(channel)  # opened first: it hears everything the node sends
    service = await make_service(
        can_settings(interfaces=[channel], **settings), claim_wait=claim_wait
    )
    return service, bus, channel


async def test_uncontested_claim_requests_then_claims(make_service, peer) -> None:
    service, bus, _ = await start_node(
        make_service, peer, name_serial=0x12345, name_manufacturer_code=0x123
    )
    first = await recv(bus)
    assert first is not None
    assert (first.arbitration_id, bytes(first.data)) == ADDRESS_REQUEST_F9
    claim = await recv(bus)
    assert claim is not None
    assert claim.arbitration_id == 0x18EE00F9
    # serial 0x12345 in bits 0-20, manufacturer 0x123 in bits 21-31, byte 7 bit 7 set (dynamic)
    # byte 2 = serial MSB 0x01 | (manufacturer & 7) << 5 = 0x61; byte 3 = 0x123 >> 3 = 0x24
    assert bytes(claim.data) == bytes.fromhex("4523612400000080")
    await wait_for(lambda: service.interfaces_status()[0]["address_claim"] == "claimed")
    assert service.source_address() == 0xF9


async def test_claim_contested_at_start_moves_to_the_next_lower_address(make_service, peer) -> None:
    service, bus, _ = await start_node(make_service, peer, claim_wait=0.3)
    request = await recv_until(bus, lambda m: m.arbitration_id == 0x18EAF9FE)
    assert request is not None
    bus.send(can.Message(arbitration_id=0x18EE00F9, data=STATIC_NAME))
    second = await recv_until(bus, lambda m: m.arbitration_id == 0x18EAF8FE)
    assert bytes(second.data) == ADDRESS_REQUEST_F9[1]
    claim = await recv_until(bus, is_claim)
    assert claim.arbitration_id == 0x18EE00F8
    await wait_for(lambda: service.source_address() == 0xF8)


async def test_higher_priority_claim_after_claiming_takes_the_address(make_service, peer) -> None:
    service, bus, _ = await start_node(make_service, peer)
    await recv_until(bus, lambda m: m.arbitration_id == 0x18EE00F9)
    await wait_for(lambda: service.interfaces_status()[0]["address_claim"] == "claimed")
    bus.send(can.Message(arbitration_id=0x18EE00F9, data=STATIC_NAME))
    await recv_until(bus, lambda m: m.arbitration_id == 0x18EAF8FE)
    await recv_until(bus, lambda m: m.arbitration_id == 0x18EE00F8)
    await wait_for(lambda: service.source_address() == 0xF8)


async def test_lower_priority_claim_is_answered_and_the_address_kept(make_service, peer) -> None:
    service, bus, _ = await start_node(make_service, peer)
    await recv_until(bus, lambda m: m.arbitration_id == 0x18EE00F9)
    await wait_for(lambda: service.interfaces_status()[0]["address_claim"] == "claimed")
    bus.send(can.Message(arbitration_id=0x18EE00F9, data=LOW_PRIORITY_NAME))
    again = await recv(bus)
    assert again is not None
    assert again.arbitration_id == 0x18EE00F9  # the very next frame: our claim again
    assert service.source_address() == 0xF9


async def test_static_node_claims_without_a_request(make_service, peer) -> None:
    _, bus, _ = await start_node(make_service, peer, address_claiming=False)
    first = await recv(bus)
    assert first is not None
    assert first.arbitration_id == 0x18EE00F9
    assert bytes(first.data)[7] & 0x80 == 0


async def test_request_answers(make_service, peer) -> None:
    service, bus, _ = await start_node(make_service, peer, product_id="ACME*QX-125*A4323443*")
    await recv_until(bus, lambda m: m.arbitration_id == 0x18EE00F9)
    await wait_for(lambda: service.interfaces_status()[0]["address_claim"] == "claimed")

    # Global REQUEST for ADDRESS_CLAIMED from 0x80.
    bus.send(can.Message(arbitration_id=0x18EAFF80, data=bytes.fromhex("00EE00FFFFFFFFFF")))
    await recv_until(bus, lambda m: m.arbitration_id == 0x18EE00F9)

    # Address-specific REQUEST for PRODUCT_ID: multi-packet answer, reassembled by a receiver.
    bus.send(can.Message(arbitration_id=0x18EAF980, data=bytes.fromhex("EBFE00FFFFFFFFFF")))
    reassembler = Reassembler()
    message = None
    while message is None:
        frame = await recv_until(bus, lambda m: (m.arbitration_id >> 16) & 0xFF in (0xEB, 0xEC))
        assert frame.arbitration_id & 0xFF == 0xF9
        message = reassembler.feed(frame.arbitration_id, bytes(frame.data))
    assert message.dgn == 0x0FEEB
    assert message.data == b"ACME*QX-125*A4323443*"

    # Address-specific REQUEST for a DGN CoachIQ does not send: NAK (code 1) to the requester.
    bus.send(can.Message(arbitration_id=0x18EAF980, data=bytes.fromhex("FDFF01FFFFFFFFFF")))
    nak = await recv_until(bus, lambda m: (m.arbitration_id >> 16) & 0xFF == 0xE8)
    assert nak.arbitration_id == 0x18E880F9
    assert bytes(nak.data)[0] == 1
    assert bytes(nak.data)[5:8] == bytes.fromhex("FDFF01")

    # A global REQUEST for such a DGN gets no answer; one to another address neither.
    bus.send(can.Message(arbitration_id=0x18EAFF80, data=bytes.fromhex("FDFF01FFFFFFFFFF")))
    bus.send(can.Message(arbitration_id=0x18EA4280, data=bytes.fromhex("00EE00FFFFFFFFFF")))
    assert await recv(bus, 0.3) is None
