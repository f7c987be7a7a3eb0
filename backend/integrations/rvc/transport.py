"""Multi-packet messages (spec 3.2.7): INITIAL_PACKET (ECFF) + DATA_PACKETs (EBFF).

The reassembler keeps one session per (source, destination), bounded in sessions and buffered
bytes; a session that stops receiving packets for longer than the timeout (DATA_PACKET's maximum
broadcast gap, 500 ms) is dropped. Out-of-order, missing and repeated packets drop their session
or the packet and are counted. Timestamps may come from the frames, so a replayed log expires
sessions by its own clock.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from backend.integrations.rvc.errors import EncodeError
from backend.integrations.rvc.frame_id import CAN_ID_MASK, build_can_id, is_pdu1

INITIAL_PACKET = 0x0EC00
DATA_PACKET = 0x0EB00
BAM_CONTROL = 0x20
MAX_MESSAGE_BYTES = 1785
BYTES_PER_PACKET = 7
DEFAULT_TIMEOUT_S = 0.5
TRANSPORT_PRIORITY = 6


def is_transport(dgn: int) -> bool:
    """True for INITIAL_PACKET and DATA_PACKET (DGN with the destination byte cleared)."""
    return dgn in (INITIAL_PACKET, DATA_PACKET)


@dataclass(slots=True, frozen=True)
class ReassembledMessage:
    """A complete multi-packet message: decode ``data`` as the id ``can_id``."""

    can_id: int
    dgn: int
    data: bytes
    packets: int


@dataclass(slots=True)
class _Session:
    dgn: int
    size: int
    count: int
    priority: int
    destination: int
    started: float
    last: float
    next_packet: int = 1
    buffer: bytearray = field(default_factory=bytearray)


class Reassembler:
    """Reassembles multi-packet messages from several sources at once.

    Counters (``counters``): ``started``, ``completed``, ``timeouts``, ``out_of_order`` (a
    packet skipped: the session is dropped), ``duplicates`` (a repeated packet: ignored),
    ``orphans`` (a data packet with no session), ``replaced`` (a new initial packet while a
    session was open), ``invalid`` (an initial packet that cannot be valid), ``evicted`` (a
    session dropped to stay within the bounds), ``ignored`` (J1939 control packets other than
    the broadcast announcement, which RV-C does not use).
    """

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_sessions: int = 64,
        max_bytes: int = 64 * MAX_MESSAGE_BYTES,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes
        self.counters: Counter[str] = Counter()
        self._sessions: dict[tuple[int, int], _Session] = {}
        self._bytes = 0

    @property
    def active_sessions(self) -> int:
        """Number of sessions in progress."""
        return len(self._sessions)

    @property
    def buffered_bytes(self) -> int:
        """Bytes reserved by the sessions in progress."""
        return self._bytes

    def feed(
        self, can_id: int, data: bytes, timestamp: float | None = None
    ) -> ReassembledMessage | None:
        """Take one INITIAL_PACKET or DATA_PACKET frame; return a message when one completes.

        Frames of other DGNs are ignored (None).
        """
        now = time.monotonic() if timestamp is None else timestamp
        can_id &= CAN_ID_MASK
        dgn = (can_id >> 8) & 0x1FF00
        source = can_id & 0xFF
        destination = (can_id >> 8) & 0xFF
        if dgn == INITIAL_PACKET:
            self._initial(can_id >> 26, source, destination, data, now)
            return None
        if dgn == DATA_PACKET:
            return self._data(source, destination, data, now)
        return None

    def expire(self, now: float | None = None) -> int:
        """Drop sessions idle for longer than the timeout; return how many."""
        now = time.monotonic() if now is None else now
        stale = [k for k, s in self._sessions.items() if now - s.last > self.timeout_s]
        for key in stale:
            self._drop(key)
        self.counters["timeouts"] += len(stale)
        return len(stale)

    def clear(self) -> None:
        """Forget every session."""
        self._sessions.clear()
        self._bytes = 0

    def _drop(self, key: tuple[int, int]) -> None:
        session = self._sessions.pop(key, None)
        if session is not None:
            self._bytes -= session.size

    def _initial(self, priority: int, source: int, dest: int, data: bytes, now: float) -> None:
        if len(data) < 8:
            self.counters["invalid"] += 1
            return
        if data[0] != BAM_CONTROL:
            self.counters["ignored"] += 1
            return
        size = data[1] | data[2] << 8
        count = data[3]
        carried = (data[5] | data[6] << 8 | data[7] << 16) & 0x1FFFF
        if (
            size == 0
            or size > MAX_MESSAGE_BYTES
            or count == 0
            or count * BYTES_PER_PACKET < size
            or (count - 1) * BYTES_PER_PACKET >= size
        ):
            self.counters["invalid"] += 1
            return
        self.expire(now)
        key = (source, dest)
        if key in self._sessions:
            self._drop(key)
            self.counters["replaced"] += 1
        while self._sessions and (
            len(self._sessions) >= self.max_sessions or self._bytes + size > self.max_bytes
        ):
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last)
            self._drop(oldest)
            self.counters["evicted"] += 1
        if size > self.max_bytes:
            self.counters["evicted"] += 1
            return
        self._sessions[key] = _Session(carried, size, count, priority, dest, now, now)
        self._bytes += size
        self.counters["started"] += 1

    def _data(self, source: int, dest: int, data: bytes, now: float) -> ReassembledMessage | None:
        key = (source, dest)
        session = self._sessions.get(key)
        if session is None or not data:
            self.counters["orphans"] += 1
            return None
        if now - session.last > self.timeout_s:
            self._drop(key)
            self.counters["timeouts"] += 1
            self.counters["orphans"] += 1
            return None
        number = data[0]
        if number < session.next_packet:
            self.counters["duplicates"] += 1
            return None
        if number > session.next_packet:
            self._drop(key)
            self.counters["out_of_order"] += 1
            return None
        session.buffer += data[1:8]
        session.next_packet += 1
        session.last = now
        if number < session.count:
            return None
        self._drop(key)
        if len(session.buffer) < session.size:  # short data packets: the message is incomplete
            self.counters["invalid"] += 1
            return None
        self.counters["completed"] += 1
        dgn = session.dgn
        dgn_field = (dgn & 0x1FF00) | session.destination if is_pdu1(dgn) else dgn
        can_id = (session.priority << 26) | (dgn_field << 8) | source
        return ReassembledMessage(can_id, dgn, bytes(session.buffer[: session.size]), session.count)


def packetize(
    can_id: int, data: bytes, *, priority: int = TRANSPORT_PRIORITY
) -> list[tuple[int, bytes]]:
    """Frames that send ``data`` of the message ``can_id`` by the multi-packet protocol (BAM).

    Messages of at most 8 bytes are returned as one frame, unchanged.

    Raises:
        EncodeError: the message is longer than 1785 bytes.
    """
    if len(data) <= 8:
        return [(can_id, data + b"\xff" * (8 - len(data)))]
    if len(data) > MAX_MESSAGE_BYTES:
        raise EncodeError(f"{len(data)} bytes exceeds the multi-packet limit of 1785")
    can_id &= CAN_ID_MASK
    source = can_id & 0xFF
    dgn = (can_id >> 8) & 0x1FFFF
    dest = dgn & 0xFF if is_pdu1(dgn) else 0xFF
    count = (len(data) + BYTES_PER_PACKET - 1) // BYTES_PER_PACKET
    initial = bytes(
        [
            BAM_CONTROL,
            len(data) & 0xFF,
            len(data) >> 8,
            count,
            0xFF,
            dgn & 0xFF,
            (dgn >> 8) & 0xFF,
            dgn >> 16,
        ]
    )
    frames = [(build_can_id(priority, INITIAL_PACKET, source, dest), initial)]
    data_id = build_can_id(priority, DATA_PACKET, source, dest)
    for n in range(count):
        chunk = data[n * BYTES_PER_PACKET : (n + 1) * BYTES_PER_PACKET]
        frames.append((data_id, bytes([n + 1]) + chunk + b"\xff" * (7 - len(chunk))))
    return frames
