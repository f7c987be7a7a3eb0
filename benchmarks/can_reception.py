"""CAN reception benchmark: frames from a python-can virtual bus through the whole service path.

Compares CoachIQ's BatchingReceiver (bounded deque, one loop wake-up per batch) with python-can's
AsyncBufferedReader (one awaited ``get_message`` per frame), both behind ``Notifier(loop=...)``.
Prints one JSON line: ``frames``, ``batching_us_per_frame``, ``async_buffered_us_per_frame``.
Run: ``poetry run python -m benchmarks.can_reception``.
"""

from __future__ import annotations

import asyncio
import json
import time

import can

from backend.core.config import CANSettings
from backend.integrations.rvc.loader import load_config_data
from backend.services.can_service import CANService

FRAMES = 20_000
PAYLOAD = bytes.fromhex("0164020100943577")


def _send_all(channel: str) -> None:
    bus = can.Bus(interface="virtual", channel=channel)
    try:
        for i in range(FRAMES):
            bus.send(can.Message(arbitration_id=0x19FFFD00 | (i & 0xFF), data=PAYLOAD))
    finally:
        bus.shutdown()


async def _batching() -> float:
    channel = "bench-batching"
    decode = load_config_data().decoder.decode
    service = CANService(CANSettings(interfaces=[channel], rx_queue_size=FRAMES), decode)
    done = asyncio.Event()
    received = 0

    def count(event: object) -> None:
        nonlocal received
        received += 1
        if received == FRAMES:
            done.set()

    await service.start()
    await asyncio.sleep(0.5)  # connected and address claimed
    service.add_listener(count)
    start = time.perf_counter()
    await asyncio.to_thread(_send_all, channel)
    await done.wait()
    elapsed = time.perf_counter() - start
    await service.stop()
    return elapsed


async def _async_buffered() -> float:
    channel = "bench-buffered"
    decode = load_config_data().decoder.decode
    bus = can.Bus(interface="virtual", channel=channel)
    reader = can.AsyncBufferedReader()
    notifier = can.Notifier(bus, [reader], timeout=0.2, loop=asyncio.get_running_loop())
    start = time.perf_counter()
    sender = asyncio.create_task(asyncio.to_thread(_send_all, channel), name="bench-sender")
    for _ in range(FRAMES):
        msg = await reader.get_message()
        decode(msg.arbitration_id, bytes(msg.data))
    elapsed = time.perf_counter() - start
    await sender
    notifier.stop()
    bus.shutdown()
    return elapsed


async def main() -> None:
    """Run both and print the JSON line."""
    batching = await _batching()
    buffered = await _async_buffered()
    print(
        json.dumps(
            {
                "frames": FRAMES,
                "batching_us_per_frame": round(batching * 1e6 / FRAMES, 2),
                "async_buffered_us_per_frame": round(buffered * 1e6 / FRAMES, 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
