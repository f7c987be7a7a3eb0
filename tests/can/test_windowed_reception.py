"""Windowed batch reading of socket buses and the enlarged receive buffer (issue 9)."""

from __future__ import annotations

import asyncio
import random
from collections import deque

import can

from backend.integrations.can.fast_rx import RxFrame
from backend.integrations.can.manager import (
    BatchingReceiver,
    SupervisedNotifier,
    enlarge_receive_buffer,
)


def _group() -> tuple[str, int]:
    return f"239.74.{random.randint(0, 255)}.{random.randint(1, 254)}", random.randint(44000, 48000)


async def test_burst_on_a_socket_bus_is_read_in_few_batches_and_nothing_lost() -> None:
    group, port = _group()
    rx = can.Bus(interface="udp_multicast", channel=group, port=port)
    tx = can.Bus(interface="udp_multicast", channel=group, port=port)
    loop = asyncio.get_running_loop()
    batches: list[int] = []
    received: list[int] = []
    done = asyncio.Event()

    def drain(queue: deque[RxFrame]) -> None:
        batches.append(len(queue))
        while queue:
            received.append(queue.popleft()[0])
        if len(received) >= 400:
            done.set()

    receiver = BatchingReceiver(loop, 5000, drain, lambda: None, lambda exc: None)
    notifier = SupervisedNotifier(rx, [receiver], timeout=0.1, loop=loop, window=0.02)
    try:
        assert enlarge_receive_buffer(rx, 2**20) is not None
        for i in range(400):  # one burst, faster than one wake-up per frame could follow
            tx.send(can.Message(arbitration_id=0x19FEDA00 | (i & 0xFF), data=bytes(8)))
        async with asyncio.timeout(10):
            await done.wait()
        assert len(received) == 400
        assert len(batches) <= 20  # a wake-up per window, not per frame
    finally:
        notifier.stop()
        rx.shutdown()
        tx.shutdown()


async def test_stopped_notifier_cancels_its_pending_windowed_read() -> None:
    group, port = _group()
    rx = can.Bus(interface="udp_multicast", channel=group, port=port)
    tx = can.Bus(interface="udp_multicast", channel=group, port=port)
    loop = asyncio.get_running_loop()
    received: list[RxFrame] = []
    receiver = BatchingReceiver(
        loop, 100, lambda q: received.extend(q) or q.clear(), lambda: None, lambda e: None
    )
    notifier = SupervisedNotifier(rx, [receiver], timeout=0.1, loop=loop, window=0.2)
    try:
        tx.send(can.Message(arbitration_id=0x19FEDA01, data=bytes(8)))
        await asyncio.sleep(0.05)  # readable: the read is scheduled 0.2 s later
        notifier.stop()
        await asyncio.sleep(0.3)
        assert received == []
    finally:
        rx.shutdown()
        tx.shutdown()


def test_receive_buffer_left_alone_without_a_socket() -> None:
    bus = can.Bus(interface="virtual", channel="windowed-no-socket")
    try:
        assert enlarge_receive_buffer(bus, 2**20) is None
    finally:
        bus.shutdown()
