"""Reading a socket bus without python-can's per-frame work: every pending frame per wake-up.

python-can's ``bus.recv(0)`` costs a ``select``, a ``recvmsg`` and a :class:`can.Message` per frame
(for ``udp_multicast`` also two msgpack unpacks, one of them by the datagram guard, and a
``Message`` built with its checks twice). A *fast reader* calls ``recvmsg(..., MSG_DONTWAIT)``
until the socket is empty (or ``limit`` frames were read) and returns plain tuples
``(arbitration_id, data, timestamp, flags)`` (:data:`RxFrame`), the form the receive queue keeps
for every bus.

What a fast reader returns is what python-can's own path returns for the same datagram or frame:
the same frames, in the order the kernel queued them, with the same kernel timestamp computed
the same way (``tests/can/test_fast_reception.py`` compares the two on the same traffic). Where a
frame is anything but the common case (a datagram that is not the exact shape python-can packs,
an FD or error frame on SocketCAN), the reader hands it to python-can's own functions, so odd
input gets python-can's answer, checks and errors. A bus is read the fast way only when:

* ``udp_multicast``: the kernel gives nanosecond timestamps (Linux) and no software filter is set
  (python-can filters that bus in Python);
* ``socketcan``: no software filter is in force (kernel filters are fine).

Every other bus (virtual, replay, serial adapters) keeps python-can's reader.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

import can

logger = logging.getLogger(__name__)

# A received frame: (arbitration_id, data, timestamp in seconds since the epoch, flags).
RxFrame = tuple[int, bytes, float, int]
ReadFunction = Callable[[int], list[RxFrame]]

FLAG_EXTENDED = 1
FLAG_REMOTE = 2
FLAG_ERROR = 4

_SO_TIMESTAMPNS = 35  # Linux; python-can asks for it on both bus types
_TIMESPEC = struct.Struct("@ll")  # python-can's struct for the timestamp (time_t, long)
_INF = float("inf")
_MULTICAST_KEYS = 11  # the fields python-can's pack_message writes


class FastReader:
    """Reads a bus's socket through a descriptor of its own (``close`` it when done).

    The descriptor is a duplicate of the bus's: the same socket, but a Python socket object
    without a timeout, so ``MSG_DONTWAIT`` returns at once even while python-can's own object has
    a send timeout set (a socket object with a timeout waits for readability before reading).
    """

    __slots__ = ("_sock", "read")

    def __init__(self, sock: socket.socket, make: Callable[[socket.socket], ReadFunction]):
        self._sock = socket.socket(fileno=os.dup(sock.fileno()))
        self.read = make(self._sock)
        """``read(limit)``: up to ``limit`` pending frames, oldest first, without waiting."""

    def close(self) -> None:
        """Close the duplicate descriptor (the bus's own socket is left alone)."""
        self._sock.close()


def frame_of(msg: can.Message) -> RxFrame:
    """The queue form of a python-can message (buses read by python-can)."""
    flags = FLAG_EXTENDED if msg.is_extended_id else 0
    if msg.is_remote_frame:
        flags |= FLAG_REMOTE
    if msg.is_error_frame:
        flags |= FLAG_ERROR
    data = msg.data
    return (msg.arbitration_id, data if type(data) is bytes else bytes(data), msg.timestamp, flags)


def fast_reader(bus: can.BusABC, guard: Any = None) -> FastReader | None:
    """A fast reader for ``bus``, or None when it must be read through python-can.

    ``guard``: the interface's :class:`~backend.integrations.can.multicast.DatagramGuard`
    (``udp_multicast``): its checks and counters apply to the fast reader as to python-can's.
    """
    kind = type(bus).__name__
    try:
        if kind == "UdpMulticastBus":
            return _multicast_reader(bus, guard)
        if kind == "SocketcanBus":
            return _socketcan_reader(bus)
    except AttributeError as exc:  # a python-can whose internals moved: keep its own reader
        logger.warning("CAN fast reader unavailable for %s: %s", kind, exc)
    return None


def _unpackb() -> Callable[[bytes], Any]:
    import msgpack

    return msgpack.unpackb


def _timestamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive timestamp, computed exactly as python-can does."""
    if len(ancillary) != 1:
        raise can.CanOperationError(
            "Only requested a single extra field but got a different amount"
        )
    level, kind, data = ancillary[0]
    if level != socket.SOL_SOCKET or kind != _SO_TIMESTAMPNS:
        raise can.CanOperationError("received control message type that was not requested")
    seconds, nanoseconds = _TIMESPEC.unpack_from(data)
    if nanoseconds >= 1e9:
        raise can.CanOperationError(
            f"Timestamp nanoseconds field was out of range: {nanoseconds} not less than 1e9"
        )
    return seconds + nanoseconds * 1.0e-9


# --- udp_multicast -------------------------------------------------------------------------------


def _layout(timestamp: float, arbitration_id: int, data: bytes) -> list[bytes]:
    """The datagram python-can's ``pack_message`` makes of an extended data frame with no
    channel, in pieces: constant, timestamp, constant, id, constant, dlc, constant, length, data,
    constant (the fast path reads this layout back)."""
    import msgpack

    def packb(value: Any) -> bytes:
        return cast(bytes, msgpack.packb(value))

    return [
        b"\x8b" + packb("timestamp") + b"\xcb",  # a map of 11 entries; a float 64
        struct.pack(">d", timestamp),
        packb("arbitration_id") + b"\xce",  # a uint 32
        arbitration_id.to_bytes(4, "big"),
        b"".join((
            packb("is_extended_id"), packb(True),
            packb("is_remote_frame"), packb(False),
            packb("is_error_frame"), packb(False),
            packb("channel"), packb(None),
            packb("dlc"),
        )),
        packb(len(data)),  # a positive fixint
        packb("data") + b"\xc4",  # a bin 8
        bytes((len(data),)),
        data,
        b"".join((
            packb("is_fd"), packb(False),
            packb("bitrate_switch"), packb(False),
            packb("error_state_indicator"), packb(False),
        )),
    ]  # fmt: skip


def _template() -> Callable[[bytes], tuple[int, bytes] | None] | None:
    """A parser of :func:`_layout`: ``(arbitration_id, data)``, or None for a datagram of any
    other layout or with a value python-can's checks refuse.

    None (no template) when python-can's ``pack_message`` does not write that layout (another
    version): every datagram is then unpacked by msgpack.
    """
    from can.interfaces.udp_multicast.utils import pack_message

    for length in range(9):
        data = bytes(range(0xA0, 0xA0 + length))
        can_id = 0x1ABCDEF0 + length
        message = can.Message(timestamp=1.25, arbitration_id=can_id, data=data)
        if pack_message(message) != b"".join(_layout(1.25, can_id, data)):
            logger.info("python-can packs udp_multicast datagrams differently: no template")
            return None
    head, _, id_key, _, middle, _, data_key, _, _, tail = _layout(0.0, 0x10000, b"")
    header = struct.Struct(f">{len(head)}sd{len(id_key)}sI{len(middle)}sB{len(data_key)}sB")
    offset = header.size
    overhead = offset + len(tail)
    unpack = header.unpack_from
    limit = _INF

    def parse(datagram: bytes) -> tuple[int, bytes] | None:
        length = len(datagram) - overhead
        if not 0 <= length <= 8:
            return None
        h, own, k, arbitration_id, m, dlc, dk, size = unpack(datagram)
        if (
            dlc == size == length
            and h == head
            and k == id_key
            and m == middle
            and dk == data_key
            and arbitration_id < 0x20000000
            and 0.0 <= own < limit
            and datagram.endswith(tail)
        ):
            return arbitration_id, datagram[offset : offset + length]
        return None

    return parse


def _multicast_reader(bus: Any, guard: Any) -> FastReader | None:
    multicast = bus._multicast
    if not multicast.timestamp_nanosecond or bus.filters:
        return None
    return FastReader(multicast._socket, lambda sock: _multicast_read(sock, bus, guard))


def _shaped(d: Any) -> tuple[int, bytes] | None:
    """``(arbitration_id, data)`` of an unpacked datagram of the exact shape python-can packs
    (any channel) for an extended data frame its checks accept; None for anything else."""
    if (
        type(d) is dict
        and len(d) == _MULTICAST_KEYS
        and "channel" in d
        and d.get("is_extended_id") is True
        and d.get("is_remote_frame") is False
        and d.get("is_error_frame") is False
        and d.get("is_fd") is False
        and d.get("bitrate_switch") is False
        and d.get("error_state_indicator") is False
    ):
        arbitration_id = d.get("arbitration_id")
        data = d.get("data")
        dlc = d.get("dlc")
        own = d.get("timestamp")
        if (
            type(arbitration_id) is int
            and 0 <= arbitration_id < 0x20000000
            and type(data) is bytes
            and type(dlc) is int
            and dlc == len(data) <= 8
            and type(own) is float
            and 0.0 <= own < _INF
        ):
            return arbitration_id, data
    return None


def _multicast_read(sock: socket.socket, bus: Any, guard: Any) -> ReadFunction:
    from can.interfaces.udp_multicast.utils import unpack_message

    multicast = bus._multicast
    recvmsg = sock.recvmsg
    bufsize = multicast.max_buffer
    ancsize = multicast.received_ancillary_buffer_size
    fd_allowed = bus.protocol is can.CanProtocol.CAN_FD
    unpackb = _unpackb()
    dontwait = socket.MSG_DONTWAIT
    timestamp = _timestamp
    local = guard.is_local_sender if guard is not None and guard.loopback else None
    extended = FLAG_EXTENDED
    template = _template()
    shaped = _shaped

    def unusual(datagram: bytes, ts: float) -> RxFrame | None:
        """python-can's path for a datagram the fast path does not take (guard, then bus)."""
        if guard is not None and not guard.unpacks(datagram):
            return None  # counted as malformed, as the guard does
        try:
            msg = unpack_message(datagram, replace={"timestamp": ts}, check=True)
        except Exception as exc:
            raise can.CanOperationError("could not unpack received message") from exc
        if not fd_allowed and msg.is_fd:
            return None
        return frame_of(msg)

    def read(limit: int) -> list[RxFrame]:
        frames: list[RxFrame] = []
        append = frames.append
        for _ in range(limit):
            try:
                datagram, ancillary, _flags, sender = recvmsg(bufsize, ancsize, dontwait)
            except BlockingIOError:
                break
            except OSError as exc:
                raise can.CanOperationError(f"Failed to receive: {exc}") from exc
            ts = timestamp(ancillary)
            if local is not None and not local(sender[0]):
                guard.count_foreign(sender[0])  # pyright: ignore[reportOptionalMemberAccess]
                continue
            # The layout python-can packs, with values its checks accept: no Message.
            if template is not None:
                parsed = template(datagram)
                if parsed is not None:
                    append((parsed[0], parsed[1], ts, extended))
                    continue
            try:
                parsed = shaped(unpackb(datagram))
            except Exception:  # not msgpack at all: python-can decides below
                parsed = None
            if parsed is not None:
                append((parsed[0], parsed[1], ts, extended))
                continue
            frame = unusual(datagram, ts)
            if frame is not None:
                append(frame)
        return frames

    return read


# --- socketcan -----------------------------------------------------------------------------------

_CAN_MTU = 16
_CANFD_MTU = 72
_CAN_EFF_FLAG = 0x80000000
_CAN_RTR_FLAG = 0x40000000
_CAN_ERR_FLAG = 0x20000000
_HEADER = struct.Struct("=IB")  # can_id, length of the data (struct can_frame / canfd_frame)


def socketcan_frame(frame: bytes, ts: float) -> RxFrame:
    """One ``struct can_frame`` (or ``canfd_frame``) as python-can's ``capture_message`` reads it.

    Only what the receive path uses is kept: the id (29 or 11 bits), the data (empty for a
    remote frame, as python-can's Message), the timestamp and the frame kind.
    """
    can_id, length = _HEADER.unpack_from(frame)
    flags = 0
    if can_id & _CAN_EFF_FLAG:
        flags = FLAG_EXTENDED
        arbitration_id = can_id & 0x1FFFFFFF
    else:
        arbitration_id = can_id & 0x7FF
    if can_id & _CAN_RTR_FLAG:
        return (arbitration_id, b"", ts, flags | FLAG_REMOTE)
    if can_id & _CAN_ERR_FLAG:
        flags |= FLAG_ERROR
    return (arbitration_id, frame[8 : 8 + length], ts, flags)


def _socketcan_reader(bus: Any) -> FastReader | None:
    if bus.filters and not bus._is_filtered:  # filters applied in Python by python-can
        return None
    return FastReader(bus.socket, _socketcan_read)


def _socketcan_read(sock: socket.socket) -> ReadFunction:
    recvmsg = sock.recvmsg
    ancsize = socket.CMSG_SPACE(_TIMESPEC.size)
    dontwait = socket.MSG_DONTWAIT
    timestamp = _timestamp
    parse = socketcan_frame

    def read(limit: int) -> list[RxFrame]:
        frames: list[RxFrame] = []
        append = frames.append
        for _ in range(limit):
            try:
                frame, ancillary, _flags, _address = recvmsg(_CANFD_MTU, ancsize, dontwait)
            except BlockingIOError:
                break
            except OSError as error:
                raise can.CanOperationError(
                    f"Error receiving: {error.strerror}", error.errno
                ) from error
            append(parse(frame, timestamp(ancillary)))
        return frames

    return read
