"""The replay channel: ``replay:PATH[?speed=2&loop=1]`` plays a recorded log as a read-only bus.

Formats: candump log (``(1700000000.123456) can0 19FEDA9F#0102...``), candump's screen format
(``  can0  19FEDA9F   [8]  01 02 ...``, with or without a ``(timestamp)``) and python-can's
readable formats (ASC, BLF, TRC, CSV) through ``can.LogReader``. The bus is read by the
Notifier's thread like any other; it sleeps to keep the recording's timing (divided by
``speed``), so nothing blocks the event loop.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import can

REPLAY_PREFIX = "replay:"
_READER_SUFFIXES = frozenset({".asc", ".blf", ".trc", ".csv"})
_LOG_LINE = re.compile(r"^\((?P<ts>[0-9.]+)\)\s+(?P<ch>\S+)\s+(?P<id>[0-9A-Fa-f]+)#(?P<data>\S*)")
_SCREEN_LINE = re.compile(
    r"^(?:\((?P<ts>[0-9.]+)\)\s+)?(?P<ch>\S+)\s+(?P<id>[0-9A-Fa-f]+)\s+\[(?P<dlc>\d)\]\s*(?P<data>.*)$"
)

LogFrame = tuple[float | None, int, bytes]


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """A parsed replay channel."""

    path: Path
    speed: float = 1.0
    loop: bool = False


def is_replay(channel: str) -> bool:
    """True when ``channel`` names a replayed log."""
    return channel.startswith(REPLAY_PREFIX)


def parse_replay_channel(channel: str) -> ReplaySpec:
    """Parse ``replay:PATH[?speed=2&loop=1]``.

    Raises:
        ValueError: the path is empty or missing, or speed/loop is not a valid value.
    """
    body = channel.removeprefix(REPLAY_PREFIX)
    path_text, _, query = body.partition("?")
    if not path_text:
        raise ValueError(f"'{channel}': a replay channel needs a path, e.g. replay:coach.log")
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"speed", "loop"})
    if unknown:
        raise ValueError(
            f"'{channel}': unknown replay option {unknown[0]!r} (allowed: speed, loop)"
        )
    try:
        speed = float(params.get("speed", ["1"])[-1])
    except ValueError:
        raise ValueError(f"'{channel}': speed must be a number such as 2") from None
    if not speed > 0:
        raise ValueError(f"'{channel}': speed must be above 0")
    loop_text = params.get("loop", ["0"])[-1].lower()
    if loop_text not in {"0", "1", "true", "false", "yes", "no"}:
        raise ValueError(f"'{channel}': loop must be 0 or 1")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ValueError(f"'{channel}': no such log file {str(path)!r}")
    return ReplaySpec(path, speed, loop_text in {"1", "true", "yes"})


def _parse_text_line(line: str) -> LogFrame | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    match = _LOG_LINE.match(text)
    if match:
        data = bytes.fromhex(match["data"])
    else:
        match = _SCREEN_LINE.match(text)
        if not match:
            return None
        data = bytes.fromhex("".join(match["data"].split()))[: int(match["dlc"])]
    ts = float(match["ts"]) if match["ts"] else None
    return ts, int(match["id"], 16), data


def iter_log(path: Path) -> Iterator[LogFrame]:
    """Frames of a log file, lazily, skipping lines that are not frames."""
    if path.suffix.lower() in _READER_SUFFIXES:
        for msg in can.LogReader(path):
            if not msg.is_error_frame and not msg.is_remote_frame:
                yield msg.timestamp, msg.arbitration_id, bytes(msg.data)
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                frame = _parse_text_line(line)
            except ValueError:
                frame = None
            if frame is not None:
                yield frame


class ReplayBus(can.BusABC):
    """A read-only python-can bus that plays a log with its recorded timing."""

    def __init__(self, channel: str, spec: ReplaySpec | None = None, **kwargs: Any) -> None:
        self._spec = spec or parse_replay_channel(channel)
        self._stop = threading.Event()
        self._frames: Iterator[LogFrame] = iter(())
        self._next: LogFrame | None = None
        self._origin_log = 0.0
        self._origin_wall = 0.0
        self._last_ts = 0.0
        self.plays = 0
        self.finished = False
        super().__init__(channel=channel, **kwargs)
        self.channel_info = f"replay of {self._spec.path}"
        self._restart()

    def _restart(self) -> None:
        self._frames = iter_log(self._spec.path)
        self._next = None
        self._origin_log = -1.0
        self._origin_wall = time.monotonic()
        self.plays += 1

    def _peek(self) -> LogFrame | None:
        if self._next is None:
            self._next = next(self._frames, None)
            if self._next is None and self._spec.loop and self.plays < 2**31:
                self._restart()
                self._next = next(self._frames, None)
        return self._next

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        wait = 1.0 if timeout is None else timeout
        frame = self._peek()
        if frame is None:
            self.finished = True
            self._stop.wait(wait)
            return None, False
        ts, arbitration_id, data = frame
        if ts is None:
            ts = self._last_ts
        if self._origin_log < 0:
            self._origin_log = ts
            self._origin_wall = time.monotonic()
        due = self._origin_wall + max(0.0, ts - self._origin_log) / self._spec.speed
        delay = due - time.monotonic()
        if delay > wait:
            self._stop.wait(wait)
            return None, False
        if delay > 0 and self._stop.wait(delay):
            return None, False
        self._next = None
        self._last_ts = ts
        msg = can.Message(
            arbitration_id=arbitration_id,
            data=data,
            is_extended_id=arbitration_id > 0x7FF,
            timestamp=time.time(),
            channel=self.channel_info,
            check=False,
        )
        return msg, False

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        """A replay cannot transmit."""
        raise can.CanOperationError("a replay channel is read-only")

    def shutdown(self) -> None:
        """Stop waiting and release the file."""
        self._stop.set()
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()
        super().shutdown()
