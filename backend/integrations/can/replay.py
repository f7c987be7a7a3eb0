"""The replay channel: ``replay:PATH[?speed=2&loop=1]`` plays a recorded log as a read-only bus.

The log is read by :func:`backend.integrations.can.logs.read_log_file`, the same reader as
``coachiq decode`` (candump log and screen formats, python-can's ASC, BLF, TRC and CSV; the format
is detected from the content, not the file name). Frames keep their recorded extended/standard
flag. The bus is read by the Notifier's thread like any other; it sleeps to keep the recording's
timing (divided by ``speed``), so nothing blocks the event loop. A log without a single frame
cannot be opened (``ValueError``: the interface is ``failed`` with that reason).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import can

from backend.integrations.can.logs import LogFrame, read_log_file

logger = logging.getLogger(__name__)

REPLAY_PREFIX = "replay:"


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


class ReplayBus(can.BusABC):
    """A read-only python-can bus that plays a log with its recorded timing."""

    def __init__(self, channel: str, spec: ReplaySpec | None = None, **kwargs: Any) -> None:
        """Open the log and read its first frame.

        Raises:
            ValueError: the log holds no CAN frame, or cannot be read at all.
        """
        self._spec = spec or parse_replay_channel(channel)
        self._stop = threading.Event()
        self._frames: Iterator[LogFrame] = iter(())
        self._next: LogFrame | None = None
        self._origin_log = 0.0
        self._origin_wall = 0.0
        self._last_ts = 0.0
        self.plays = 0
        self.finished = False
        self._restart()
        try:
            first = next(self._frames, None)
        except Exception as exc:  # a python-can reader giving up on a damaged file
            self._close_log()
            raise ValueError(f"replay log {str(self._spec.path)!r} cannot be read: {exc}") from exc
        if first is None:
            self._close_log()
            raise ValueError(
                f"replay log {str(self._spec.path)!r} holds no CAN frames "
                "(formats: candump log or screen, ASC, BLF, TRC, CSV)"
            )
        self._next = first
        super().__init__(channel=channel, **kwargs)
        self.channel_info = f"replay of {self._spec.path}"

    def _restart(self) -> None:
        self._close_log()
        self._frames = read_log_file(self._spec.path)
        self._next = None
        self._origin_log = -1.0
        self._origin_wall = time.monotonic()
        self.plays += 1

    def _close_log(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    def _read(self) -> LogFrame | None:
        try:
            return next(self._frames, None)
        except Exception as exc:  # damaged further on: what was read is the recording
            logger.warning("replay of %s stops at a damaged part: %s", self._spec.path, exc)
            return None

    def _peek(self) -> LogFrame | None:
        if self._next is None:
            self._next = self._read()
            if self._next is None and self._spec.loop and self.plays < 2**31:
                self._restart()
                self._next = self._read()
        return self._next

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        wait = 1.0 if timeout is None else timeout
        frame = self._peek()
        if frame is None:
            self.finished = True
            self._stop.wait(wait)
            return None, False
        ts = frame.seconds
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
            arbitration_id=frame.can_id,
            data=frame.data,
            is_extended_id=frame.extended,
            is_remote_frame=frame.remote,
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
        self._close_log()
        super().shutdown()
