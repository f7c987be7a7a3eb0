"""The 29-bit RV-C (J1939-style) CAN identifier: parse and build with integer operations only."""

from __future__ import annotations

from typing import NamedTuple

from backend.integrations.rvc.errors import AddressError

CAN_ID_MASK = 0x1FFFFFFF
BROADCAST = 0xFF
PDU2_THRESHOLD = 0xF0


class FrameId(NamedTuple):
    """The fields of a 29-bit identifier.

    ``dgn`` is the 17-bit data group number used as the specification key: for destination-specific
    (PDU1) DGNs, whose PF byte is below 0xF0, the low byte is the destination address and is
    cleared in ``dgn``; ``destination`` is ``None`` for PDU2 (broadcast-only) DGNs.
    """

    priority: int
    dgn: int
    source: int
    destination: int | None


def is_pdu1(dgn: int) -> bool:
    """Return True when ``dgn`` is destination-specific (PF below 0xF0)."""
    return ((dgn >> 8) & 0xFF) < PDU2_THRESHOLD


def parse_can_id(can_id: int) -> FrameId:
    """Split a 29-bit identifier into priority, DGN, source and destination.

    ``18EAFF44`` is REQUEST (0EA00) to 255 from 0x44; ``18FEDA9F`` is DGN 0FEDA (PDU2).
    Bits above bit 28 are ignored.
    """
    can_id &= CAN_ID_MASK
    dgn = (can_id >> 8) & 0x1FFFF
    if ((dgn >> 8) & 0xFF) < PDU2_THRESHOLD:
        return FrameId(can_id >> 26, dgn & 0x1FF00, can_id & 0xFF, dgn & 0xFF)
    return FrameId(can_id >> 26, dgn, can_id & 0xFF, None)


def build_can_id(priority: int, dgn: int, source: int, destination: int | None = None) -> int:
    """Build a 29-bit identifier; ``destination`` goes into PS for PDU1 DGNs (default 255).

    Raises:
        AddressError: a field is out of range, or a destination is given for a PDU2 DGN.
    """
    if not 0 <= priority <= 7:
        raise AddressError(f"priority {priority!r} is not allowed; allowed: 0 to 7")
    if not 0 <= source <= 0xFF:
        raise AddressError(f"source address {source!r} is not allowed; allowed: 0 to 255")
    if not 0 <= dgn <= 0x1FFFF:
        raise AddressError(f"DGN {dgn!r} is not allowed; allowed: 0 to 0x1FFFF")
    if is_pdu1(dgn):
        dest = BROADCAST if destination is None else destination
        if not 0 <= dest <= 0xFF:
            raise AddressError(f"destination {dest!r} is not allowed; allowed: 0 to 255")
        dgn = (dgn & 0x1FF00) | dest
    elif destination is not None and destination != (dgn & 0xFF):
        raise AddressError(
            f"DGN {dgn:05X} is broadcast-only (PDU2); a destination ({destination}) is not allowed"
        )
    return (priority << 26) | (dgn << 8) | source
