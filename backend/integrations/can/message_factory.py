"""Frames CoachIQ builds: raw frames from API input, and the RV-C network messages of a node.

Everything here is a pure function over integers and bytes; nothing opens a bus. Network
messages follow RV-C chapter 3: REQUEST (0EA00), ACKNOWLEDGMENT (0E800), ADDRESS_CLAIMED (0EE00)
with the 8-byte ADDRESS_CLAIM field (3.3.3), PRODUCT_ID (0FEEB, 3.2.8) and its multi-packet
transport (INITIAL_PACKET 0ECFF, DATA_PACKET 0EBFF, 3.2.7).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import can

from backend.integrations.can.errors import FrameError
from backend.integrations.rvc.frame_id import CAN_ID_MASK, build_can_id
from backend.integrations.rvc.transport import MAX_MESSAGE_BYTES, packetize

DGN_ACKNOWLEDGMENT = 0x0E800
DGN_REQUEST = 0x0EA00
DGN_ADDRESS_CLAIMED = 0x0EE00
DGN_PRODUCT_ID = 0x0FEEB
NULL_ADDRESS = 0xFE
GLOBAL_ADDRESS = 0xFF
NETWORK_PRIORITY = 6
NAK = 1
MAX_DATA = 8
_HEX = frozenset(string.hexdigits)

Frame = tuple[int, bytes]


def parse_can_id_text(text: str) -> int:
    """Parse an 8-hex-digit (or shorter) 29-bit id such as ``19FEDB9F``.

    Raises:
        FrameError: not hex, or above 0x1FFFFFFF.
    """
    cleaned = text.strip().removeprefix("0x").removeprefix("0X")
    if not cleaned or not set(cleaned) <= _HEX:
        raise FrameError("can_id", f"{text!r} is not a hexadecimal CAN id such as 19FEDB9F")
    value = int(cleaned, 16)
    if value > CAN_ID_MASK:
        raise FrameError("can_id", f"0x{value:X} is above 0x1FFFFFFF (29-bit extended id)")
    return value


def parse_data_text(text: str) -> bytes:
    """Parse frame data written as hex (``2AFFC800FF00FFFF``; spaces allowed).

    Raises:
        FrameError: not an even number of hex digits, or more than 8 bytes.
    """
    cleaned = "".join(text.split())
    if not set(cleaned) <= _HEX or len(cleaned) % 2:
        raise FrameError("data", f"{text!r} is not hex bytes such as 2AFFC800FF00FFFF")
    data = bytes.fromhex(cleaned)
    check_data(data)
    return data


def check_data(data: bytes) -> None:
    """Raise FrameError when ``data`` is longer than a classic CAN frame."""
    if len(data) > MAX_DATA:
        raise FrameError("data", f"{len(data)} bytes is more than the 8 a CAN frame carries")


def check_arbitration_id(arbitration_id: int) -> None:
    """Raise FrameError when ``arbitration_id`` is not a 29-bit id."""
    if not 0 <= arbitration_id <= CAN_ID_MASK:
        raise FrameError("can_id", f"{arbitration_id!r} is not 0 to 0x1FFFFFFF")


def make_message(arbitration_id: int, data: bytes, timestamp: float = 0.0) -> can.Message:
    """A python-can extended-id data frame."""
    return can.Message(
        arbitration_id=arbitration_id,
        data=data,
        is_extended_id=True,
        timestamp=timestamp,
        check=False,
    )


def frame_bits(dlc: int) -> int:
    """Bits an extended frame with ``dlc`` data bytes occupies on the wire, stuffing estimated.

    67 + 8n bits without stuffing (SOF to interframe space); the 54 + 8n bits from SOF to the CRC
    are subject to stuffing, estimated at its worst case of one bit per four: 160 bits for n = 8.
    """
    stuffed = 54 + 8 * dlc
    return 67 + 8 * dlc + (stuffed - 1) // 4


@dataclass(frozen=True, slots=True)
class ClaimName:
    """The 8-byte ADDRESS_CLAIM field (RV-C 3.3.3) a node identifies itself with.

    Arbitration treats it as a little-endian 64-bit number whose most significant bit is
    "arbitrary address capable": the lower number has the higher priority, so static nodes win.
    """

    serial_number: int = 0
    manufacturer_code: int = 0
    compatibility: int = 0
    arbitrary_address_capable: bool = True

    def to_bytes(self) -> bytes:
        """The field as sent in ADDRESS_CLAIMED data bytes 0-7."""
        value = self.serial_number & 0x1FFFFF
        value |= (self.manufacturer_code & 0x7FF) << 21
        value |= (self.compatibility & 0xFF) << 40
        value |= int(self.arbitrary_address_capable) << 63
        return value.to_bytes(8, "little")

    @property
    def value(self) -> int:
        """Arbitration value: lower wins."""
        return int.from_bytes(self.to_bytes(), "little")


def claim_value(data: bytes) -> int:
    """Arbitration value of a received ADDRESS_CLAIM field (missing bytes count as ones)."""
    return int.from_bytes(data[:8].ljust(8, b"\xff"), "little")


def address_claimed(name: ClaimName, source: int) -> Frame:
    """ADDRESS_CLAIMED (0EE00, DGN-Low 00h per table 3.3.2b) from ``source``."""
    return (
        build_can_id(NETWORK_PRIORITY, DGN_ADDRESS_CLAIMED, source, 0x00),
        name.to_bytes(),
    )


def request(
    dgn: int,
    source: int,
    destination: int = GLOBAL_ADDRESS,
    instance: int = 0xFF,
    bank: int = 0xFF,
) -> Frame:
    """REQUEST for ``dgn`` (table 3.2.4.3b): desired DGN LSB first, instance, bank, 8 bytes."""
    data = dgn.to_bytes(3, "little") + bytes((instance, bank, 0xFF, 0xFF, 0xFF))
    return build_can_id(NETWORK_PRIORITY, DGN_REQUEST, source, destination), data


def address_request(desired: int) -> Frame:
    """The address request message (table 3.3.2a): a REQUEST for 0EE00 to ``desired`` from FEh."""
    return request(DGN_ADDRESS_CLAIMED, NULL_ADDRESS, desired)


def requested_dgn(data: bytes) -> int | None:
    """The DGN a REQUEST asks for (17 bits, LSB first), or None when the frame is too short."""
    if len(data) < 3:
        return None
    return int.from_bytes(data[:3], "little") & 0x1FFFF


def acknowledgment(code: int, source: int, destination: int, dgn: int) -> Frame:
    """ACKNOWLEDGMENT (table 3.2.4.4b) to ``destination`` about ``dgn``; code 1 is a NAK."""
    data = bytes((code, 0xFF, 0xFF, 0xFF, destination)) + dgn.to_bytes(3, "little")
    return build_can_id(NETWORK_PRIORITY, DGN_ACKNOWLEDGMENT, source, destination), data


def product_id_frames(text: str, source: int) -> list[Frame]:
    """PRODUCT_ID frames: one frame up to 8 bytes, else INITIAL_PACKET then DATA_PACKETs.

    The text is ISO 8859-1, four ``*``-delimited fields (make, model, serial, unit); frames are
    padded to 8 bytes with FFh. The caller spaces DATA_PACKETs 50 ms apart (3.2.7.2).
    """
    payload = text.encode("latin-1", errors="replace")[:MAX_MESSAGE_BYTES]
    return packetize(build_can_id(NETWORK_PRIORITY, DGN_PRODUCT_ID, source), payload)
