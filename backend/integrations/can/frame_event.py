"""FrameEvent: one frame seen on (or sent to) an interface, decoded once, handed to listeners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["rx", "tx"]


@dataclass(slots=True)
class FrameEvent:
    """A frame with where it passed, which way, when, and its RV-C decoding.

    Read-only by convention: one is made for every frame on the receive path, and a frozen
    dataclass costs about 1 µs more to build on CPython 3.12 (``object.__setattr__`` per field).

    Attributes:
        interface: physical channel name (``can0``, ``virtual0``).
        direction: ``rx`` for received, ``tx`` for sent by CoachIQ.
        timestamp: seconds since the epoch.
        arbitration_id: the 29-bit CAN id.
        data: the payload (0-8 bytes).
        decoded: the RV-C decoder's result for this frame (``DecodedMessage``), or for a completed
            multi-packet message.
    """

    interface: str
    direction: Direction
    timestamp: float
    arbitration_id: int
    data: bytes
    decoded: Any
