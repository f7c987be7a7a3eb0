"""The 29-bit identifier: integer parsing and building, every priority, PDU1 destinations."""

from __future__ import annotations

import pytest

from backend.integrations.rvc import AddressError, build_can_id, parse_can_id
from backend.integrations.rvc.frame_id import FrameId


def test_request_to_global_from_0x44() -> None:
    assert parse_can_id(0x18EAFF44) == FrameId(
        priority=6, dgn=0x0EA00, source=0x44, destination=255
    )


def test_0feda_is_pdu2_not_dc_dimmer_status_3() -> None:
    assert parse_can_id(0x18FEDA9F) == FrameId(6, 0x0FEDA, 0x9F, None)
    assert parse_can_id(0x19FEDA9F) == FrameId(6, 0x1FEDA, 0x9F, None)


@pytest.mark.parametrize("priority", range(8))
def test_every_priority(priority: int) -> None:
    can_id = (priority << 26) | (0x1FFFD << 8) | 0x42
    parsed = parse_can_id(can_id)
    assert parsed.priority == priority
    assert parsed.dgn == 0x1FFFD
    assert parsed.source == 0x42


def test_priority_zero_and_three_keep_the_data_page() -> None:
    # string-based parsers lose leading zeros: 01FFFD42 is priority 0, DGN 1FFFD
    assert parse_can_id(0x01FFFD42) == FrameId(0, 0x1FFFD, 0x42, None)
    assert parse_can_id(0x0DFFFD42) == FrameId(3, 0x1FFFD, 0x42, None)


def test_pdu1_destination_specific() -> None:
    assert parse_can_id(0x18E84280) == FrameId(6, 0x0E800, 0x80, 0x42)
    assert parse_can_id(0x1DEF4280) == FrameId(7, 0x1EF00, 0x80, 0x42)


def test_bits_above_28_are_ignored() -> None:
    assert parse_can_id(0x80000000 | 0x19FFFD42) == parse_can_id(0x19FFFD42)


def test_build_round_trip() -> None:
    assert build_can_id(6, 0x0EA00, 0x44) == 0x18EAFF44
    assert build_can_id(6, 0x0EA00, 0x80, 0x42) == 0x18EA4280
    assert build_can_id(6, 0x1FFFD, 0x42) == 0x19FFFD42
    assert build_can_id(0, 0x1FEDB, 0x80) == 0x01FEDB80


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((8, 0x1FFFD, 0x42), {}),
        ((6, 0x1FFFD, 256), {}),
        ((6, 0x1FFFD, 0x42), {"destination": 0x10}),
        ((6, 0x0EA00, 0x42), {"destination": 300}),
    ],
)
def test_build_rejects_bad_fields(args: tuple[int, int, int], kwargs: dict[str, int]) -> None:
    with pytest.raises(AddressError, match="allowed"):
        build_can_id(*args, **kwargs)
