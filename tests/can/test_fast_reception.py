"""The reception fast path (issue 20): the same frames, in the same order, with the same
timestamps as python-can's own reader, on udp_multicast, SocketCAN's frame format and virtual.

On ``udp_multicast`` two sockets joined to one group get every datagram with the same kernel
timestamp, so python-can's ``bus.recv`` on one socket and the fast reader on the other must give
identical tuples ``(arbitration_id, data, timestamp, flags)``. SocketCAN cannot be opened here
(no ``AF_CAN``): its reader runs on a real datagram socket carrying ``struct can_frame`` bytes
with kernel timestamps, and each answer the kernel gave it is handed to python-can's
``capture_message`` as well.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct
import time
from typing import Any

import can
import msgpack
import pytest
from can.interfaces.socketcan.socketcan import build_can_frame, capture_message
from can.interfaces.udp_multicast.utils import pack_message

from backend.integrations.can.fast_rx import (
    FLAG_ERROR,
    FLAG_EXTENDED,
    FLAG_REMOTE,
    FastReader,
    RxFrame,
    _socketcan_read,
    fast_reader,
    frame_of,
)
from backend.integrations.can.manager import BusInterface, enlarge_receive_buffer
from backend.integrations.can.multicast import DatagramGuard
from tests.can.conftest import unique_channel, wait_for


def _group() -> tuple[str, int]:
    return f"239.74.{random.randint(0, 255)}.{random.randint(1, 254)}", random.randint(40000, 43999)


def _multicast(group: str, port: int, guard: DatagramGuard | None = None) -> can.BusABC:
    bus = can.Bus(interface="udp_multicast", channel=group, port=port)
    if guard is not None:
        guard.install(bus)
    return bus


def _python_can_frames(bus: can.BusABC) -> list[RxFrame]:
    frames = []
    while (msg := bus.recv(0)) is not None:
        frames.append(frame_of(msg))
    return frames


def _traffic() -> list[can.Message]:
    """Every kind of frame: RV-C frames of every length, 11-bit, remote, error and FD frames."""
    frames = [
        can.Message(arbitration_id=0x19FEDA00 | n, data=bytes(range(10 * n, 10 * n + n)))
        for n in range(9)
    ]
    frames += [
        can.Message(arbitration_id=0x123, is_extended_id=False, data=b"\x01\x02"),
        can.Message(arbitration_id=0x18EAFF42, is_remote_frame=True, dlc=3),
        can.Message(arbitration_id=0x2000080, is_error_frame=True, data=bytes(8)),
        can.Message(arbitration_id=0x19FFFD42, is_fd=True, data=bytes(range(12))),
        can.Message(arbitration_id=0x19FFFD42, channel="can7", data=b"\x05\x06"),
        can.Message(arbitration_id=0x42, data=b"\x07"),  # 29-bit id, small value
    ]
    return frames


def test_multicast_fast_reader_gives_what_python_can_gives() -> None:
    group, port = _group()
    reference_guard, fast_guard = DatagramGuard(), DatagramGuard()
    reference = _multicast(group, port, reference_guard)
    bus = _multicast(group, port, fast_guard)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
    reader = fast_reader(bus, fast_guard)
    assert isinstance(reader, FastReader)
    try:
        good = _traffic()
        stamped = can.Message(arbitration_id=0x19FEDA01, data=b"\x01", timestamp=time.time())
        as_dict = msgpack.unpackb(pack_message(stamped))
        datagrams = [pack_message(m) for m in good] + [
            pack_message(stamped),
            b"\x00 not msgpack",  # malformed
            msgpack.packb({**as_dict, "timestamp": -1.0}),  # python-can's checks refuse it
            msgpack.packb({**as_dict, "dlc": 2}),  # dlc does not match the data
            msgpack.packb({**as_dict, "bogus": 1}),  # not a Message field
            msgpack.packb({**as_dict, "data": [1, 2], "dlc": 2}),  # a list: python-can takes it
            msgpack.packb({k: v for k, v in as_dict.items() if k != "channel"}),  # ten fields
        ]
        for _ in range(3):
            for datagram in datagrams:
                sender.sendto(datagram, (group, port))
        time.sleep(0.2)
        expected = _python_can_frames(reference)
        got: list[RxFrame] = []
        while batch := reader.read(7):  # several reads: the order holds across batches
            got.extend(batch)
        assert got == expected
        assert len(got) == 3 * (len(good) + 3)  # the refused datagrams are dropped
        assert [f[0] for f in got[: len(good)]] == [m.arbitration_id for m in good]
        kinds = {(f[0], f[3]) for f in got}
        assert (0x123, 0) in kinds  # 11-bit
        assert (0x18EAFF42, FLAG_EXTENDED | FLAG_REMOTE) in kinds
        assert (0x2000080, FLAG_EXTENDED | FLAG_ERROR) in kinds
        assert (0x19FFFD42, FLAG_EXTENDED) in kinds
        assert all(isinstance(f[1], bytes) for f in got)
        assert fast_guard.malformed == reference_guard.malformed == 3 * 4
        assert reader.read(512) == []  # nothing pending: returns at once
    finally:
        reader.close()  # type: ignore[union-attr]
        reference.shutdown()
        bus.shutdown()
        sender.close()


def test_multicast_fast_reader_not_blocked_by_a_send_timeout() -> None:
    group, port = _group()
    bus = _multicast(group, port, DatagramGuard())
    reader = fast_reader(bus, None)
    assert reader is not None
    try:
        bus.send(can.Message(arbitration_id=0x19FEDA01, data=b"\x01"), timeout=1.0)
        bus._multicast._socket.settimeout(1.0)  # type: ignore[attr-defined]
        time.sleep(0.05)
        while reader.read(512):  # our own datagram comes back over multicast
            pass
        start = time.monotonic()
        assert reader.read(512) == []
        assert time.monotonic() - start < 0.1
    finally:
        reader.close()
        bus.shutdown()


def test_buses_the_fast_path_leaves_to_python_can() -> None:
    virtual = can.Bus(interface="virtual", channel=unique_channel())
    group, port = _group()
    filtered = can.Bus(
        interface="udp_multicast",
        channel=group,
        port=port,
        can_filters=[{"can_id": 0x19FEDA00, "can_mask": 0x1FFFFF00, "extended": True}],
    )
    try:
        assert fast_reader(virtual) is None
        assert fast_reader(filtered) is None  # python-can filters this bus in Python
    finally:
        virtual.shutdown()
        filtered.shutdown()


class _Recording:
    """A real socket whose every ``recvmsg`` answer is also kept, to give python-can later."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.answers: list[tuple[bytes, list[tuple[int, int, bytes]], int, Any]] = []

    def fileno(self) -> int:
        return self._sock.fileno()

    def recvmsg(self, *args: Any) -> Any:
        answer = self._sock.recvmsg(*args)
        self.answers.append(answer)
        return answer


class _Replay:
    """Gives python-can's ``capture_message`` the kernel's answers, one per call."""

    def __init__(self, answers: list[Any]) -> None:
        self._answers = list(answers)

    def recvmsg(self, *args: Any) -> Any:
        return self._answers.pop(0)


def test_socketcan_reader_reads_frames_as_python_can_does() -> None:
    writer, reader_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader_sock.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS, as python-can asks
    messages = [m for m in _traffic() if m.channel is None]
    messages.append(can.Message(arbitration_id=0x7FF, is_extended_id=False, is_remote_frame=True))
    try:
        for msg in messages * 2:
            writer.send(build_can_frame(msg))
        recording = _Recording(reader_sock)
        read = _socketcan_read(recording)  # type: ignore[arg-type]
        got: list[RxFrame] = []
        while batch := read(5):
            got.extend(batch)
        answers = list(recording.answers)
        replay = _Replay(answers)
        expected = [frame_of(capture_message(replay)) for _ in answers]  # type: ignore[arg-type]
        assert got == expected
        assert len(got) == 2 * len(messages)
        assert [f[0] for f in got] == [m.arbitration_id for m in messages * 2]
        stamps = [f[2] for f in got]
        assert stamps == sorted(stamps) and abs(stamps[0] - time.time()) < 5
        fd = next(f for f in got if len(f[1]) == 12)
        assert fd[1] == bytes(range(12)) and fd[3] == FLAG_EXTENDED
    finally:
        writer.close()
        reader_sock.close()


def test_socketcan_reader_reports_a_missing_timestamp() -> None:
    writer, reader_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        writer.send(build_can_frame(can.Message(arbitration_id=0x19FEDA01, data=b"\x01")))
        read = _socketcan_read(reader_sock)
        with pytest.raises(can.CanOperationError):
            read(5)  # no SO_TIMESTAMPNS: python-can would fail too
    finally:
        writer.close()
        reader_sock.close()


def test_socketcan_frame_header_layout_matches_python_can() -> None:
    frame = build_can_frame(can.Message(arbitration_id=0x19FEDA01, data=b"\x01\x02\x03"))
    can_id, length = struct.unpack_from("=IB", frame)
    assert can_id == 0x19FEDA01 | 0x80000000 and length == 3 and len(frame) == 16


async def _interface_frames(
    bus_factory: Any, *, fast: bool, count: int, send: Any
) -> tuple[BusInterface, list[tuple[int, bytes, float]]]:
    received: list[tuple[int, bytes, float]] = []

    def sink(
        interface: BusInterface, can_id: int, data: bytes, ts: float, direction: str, tag: Any
    ) -> None:
        if direction == "rx":
            received.append((can_id, data, ts))

    interface = BusInterface(
        "fast-test", bus_factory, sink, rx_fast_path=fast, rx_window=0.005, read_only=True
    )
    await interface.start()
    try:
        await wait_for(lambda: interface.state.value == "up")
        await asyncio.to_thread(send)
        await wait_for(lambda: len(received) >= count, timeout=10)
    finally:
        await interface.stop()
    return interface, received


@pytest.mark.parametrize("fast", [True, False])
async def test_interface_on_multicast_delivers_what_python_can_reads(fast: bool) -> None:
    group, port = _group()
    reference = _multicast(group, port, DatagramGuard())
    assert enlarge_receive_buffer(reference, 4 * 2**20)  # it is read only at the end
    frames = [
        can.Message(arbitration_id=0x19FEDA00 | (i & 0xFF), data=i.to_bytes(4, "little"))
        for i in range(2000)
    ]

    def send() -> None:
        sender = _multicast(group, port)
        try:
            for i, msg in enumerate(frames):
                sender.send(msg)
                if i % 500 == 499:
                    time.sleep(0.01)  # bursts, several windows
        finally:
            sender.shutdown()

    guard = DatagramGuard()

    def factory() -> can.BusABC:
        return _multicast(group, port, guard)

    try:
        interface, received = await _interface_frames(factory, fast=fast, count=2000, send=send)
        assert interface.rx_fast is fast
        expected = [(f[0], f[1], f[2]) for f in _python_can_frames(reference)]
        assert received == expected  # same frames, order and kernel timestamps
        assert [r[1] for r in received] == [m.data for m in frames]
        assert interface.counters.rx == 2000 and interface.counters.rx_dropped == 0
    finally:
        reference.shutdown()


async def test_interface_on_virtual_keeps_python_cans_reader_and_timestamps() -> None:
    channel = unique_channel()
    reference = can.Bus(interface="virtual", channel=channel)
    frames = [
        can.Message(arbitration_id=0x19FEDA00 | (i & 0xFF), data=bytes([i % 256]))
        for i in range(500)
    ]

    def send() -> None:
        sender = can.Bus(interface="virtual", channel=channel)
        try:
            for msg in frames:
                sender.send(msg)
        finally:
            sender.shutdown()

    try:
        interface, received = await _interface_frames(
            lambda: can.Bus(interface="virtual", channel=channel), fast=True, count=500, send=send
        )
        assert interface.rx_fast is False  # no socket: python-can's Notifier thread reads it
        expected = [(f[0], f[1], f[2]) for f in _python_can_frames(reference)]
        assert received == expected
        assert [r[0] for r in received] == [m.arbitration_id for m in frames]
    finally:
        reference.shutdown()


def test_fast_reader_descriptor_is_its_own() -> None:
    group, port = _group()
    bus = _multicast(group, port)
    reader = fast_reader(bus)
    assert reader is not None
    before = len(os.listdir("/proc/self/fd"))
    reader.close()
    assert len(os.listdir("/proc/self/fd")) == before - 1
    bus.send(can.Message(arbitration_id=0x19FEDA01, data=b"\x01"))  # the bus's socket still works
    bus.shutdown()
