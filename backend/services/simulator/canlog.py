"""Recording to and replaying from candump log files (``(1700000000.123456) can0 19FEDA9F#01..``).

Replay reads any format python-can reads (candump ``.log``, ``.asc``, ``.blf``, ``.csv``,
``.trc``); record writes the candump log format that ``candump -L`` and ``coachiq decode`` read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import can

PROGRESS_EVERY = 200


def format_candump(msg: can.Message, channel: str) -> str:
    """One candump log line for ``msg``."""
    can_id = f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}"
    return f"({msg.timestamp:.6f}) {channel} {can_id}#{bytes(msg.data).hex().upper()}\n"


def read_frames(path: Path) -> list[can.Message]:
    """Every frame of a log file, in order (error and remote frames skipped)."""
    with can.LogReader(str(path)) as reader:
        return [m for m in reader if not m.is_error_frame and not m.is_remote_frame]


def replay(
    bus: can.BusABC,
    frames: list[can.Message],
    *,
    speed: float = 1.0,
    loop: bool = False,
    on_progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Send ``frames`` with their recorded timing divided by ``speed``; return frames sent."""
    sent = 0
    if not frames:
        return 0
    while True:
        first = frames[0].timestamp
        start = time.monotonic()
        for index, msg in enumerate(frames):
            if stop():
                return sent
            delay = (msg.timestamp - first) / speed - (time.monotonic() - start)
            if delay > 0:
                time.sleep(delay)
            out = can.Message(
                arbitration_id=msg.arbitration_id,
                data=msg.data,
                is_extended_id=msg.is_extended_id,
            )
            bus.send(out)
            sent += 1
            if on_progress is not None and (
                index % PROGRESS_EVERY == 0 or index == len(frames) - 1
            ):
                on_progress(index + 1)
        if not loop:
            return sent


def record(
    bus: can.BusABC,
    out: TextIO,
    channel: str,
    *,
    duration: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Write what ``bus`` hears as candump log lines until ``duration`` or ``stop()``."""
    count = 0
    deadline = None if duration is None else time.monotonic() + duration
    for msg in _frames(bus, deadline, stop):
        out.write(format_candump(msg, channel))
        count += 1
    out.flush()
    return count


def _frames(
    bus: can.BusABC, deadline: float | None, stop: Callable[[], bool]
) -> Iterator[can.Message]:
    while not stop():
        timeout = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
        if timeout <= 0:
            return
        msg = bus.recv(timeout)
        if msg is not None and not msg.is_error_frame:
            if not msg.timestamp:
                msg.timestamp = time.time()
            yield msg
