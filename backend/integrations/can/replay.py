"""The replay channel: ``replay:PATH[?speed=2&loop=1&rate=100]`` plays a recorded log read-only.

The log is read by :func:`backend.integrations.can.logs.read_log_file`, the same reader as
``coachiq decode`` (candump log and screen formats, python-can's ASC, BLF, TRC and CSV; the format
is detected from the content, not the file name). Frames keep their recorded extended/standard
flag. The bus is read by the Notifier's thread like any other; it sleeps to keep the recording's
timing (divided by ``speed``), so nothing blocks the event loop. A log without a single frame
cannot be opened (``ValueError``: the interface is ``failed`` with that reason).

Frames without a timestamp (plain ``candump`` output) are played at ``rate`` frames per second
(``COACHIQ_CAN__REPLAY_RATE``, or ``?rate=`` per channel; times ``speed``), with one warning per
log, never flat out. A timestamp that is not finite (``(inf)``, ``(nan)``), goes backwards or
jumps ahead more than :data:`MAX_GAP` seconds is counted with its line number and played as an
untimed frame; lines that are not frames are counted too (:meth:`ReplayBus.replay_status`, shown
in the interface's status). Nothing in a log stops playback.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import can

from backend.integrations.can.logs import LogFrame, read_log_file

logger = logging.getLogger(__name__)

REPLAY_PREFIX = "replay:"
DEFAULT_RATE = 100.0  # frames per second for frames without a timestamp
MAX_GAP = 3600.0  # a longer jump ahead is a broken timestamp, not a pause
_PROBLEMS_KEPT = 10  # newest line reports kept (the counts go on)


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """A parsed replay channel."""

    path: Path
    speed: float = 1.0
    loop: bool = False
    rate: float | None = None  # untimed frames per second; None: the setting


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
    unknown = sorted(set(params) - {"speed", "loop", "rate"})
    if unknown:
        raise ValueError(
            f"'{channel}': unknown replay option {unknown[0]!r} (allowed: speed, loop, rate)"
        )
    rate = None
    if "rate" in params:
        try:
            rate = float(params["rate"][-1])
        except ValueError:
            raise ValueError(f"'{channel}': rate must be frames per second, such as 100") from None
        if not 0 < rate <= 100_000:
            raise ValueError(f"'{channel}': rate must be above 0 and at most 100000 frames/s")
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
    if not math.isfinite(speed):
        raise ValueError(f"'{channel}': speed must be a finite number")
    return ReplaySpec(path, speed, loop_text in {"1", "true", "yes"}, rate)


class ReplayBus(can.BusABC):
    """A read-only python-can bus that plays a log with its recorded timing."""

    def __init__(
        self,
        channel: str,
        spec: ReplaySpec | None = None,
        *,
        default_rate: float = DEFAULT_RATE,
        **kwargs: Any,
    ) -> None:
        """Open the log and read its first frame.

        Args:
            channel: ``replay:PATH[?options]``.
            spec: the parsed channel (parsed from ``channel`` when None).
            default_rate: frames per second for frames without a usable timestamp, unless the
                channel gives ``rate``.

        Raises:
            ValueError: the log holds no CAN frame, or cannot be read at all.
        """
        self._spec = spec or parse_replay_channel(channel)
        self.rate = self._spec.rate or default_rate
        self._gap = 1.0 / (self.rate * self._spec.speed)
        self._stop = threading.Event()
        self._frames: Iterator[LogFrame] = iter(())
        self._next: LogFrame | None = None
        self._last_ts: float | None = None  # the latest usable recorded time of this play
        self._timed = False  # the previous frame was played by its recorded time
        self._last_due = 0.0  # when (monotonic) the previous frame was due
        self.plays = 0
        self.finished = False
        self.frames = 0
        self.untimed = 0
        self.malformed = 0
        self.timestamp_problems = 0
        self.problems: deque[str] = deque(maxlen=_PROBLEMS_KEPT)
        self._warned_untimed = False
        self._pending_due: float | None = None
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

    def replay_status(self) -> dict[str, Any]:
        """Playback counters for the interface's status (malformed lines: first play only)."""
        return {
            "path": str(self._spec.path),
            "speed": self._spec.speed,
            "loop": self._spec.loop,
            "plays": self.plays,
            "finished": self.finished,
            "frames": self.frames,
            "untimed_frames": self.untimed,
            "untimed_rate": self.rate,
            "malformed_lines": self.malformed,
            "timestamp_problems": self.timestamp_problems,
            "problems": list(self.problems),
        }

    def _on_malformed(self, number: int, line: str, exc: Exception) -> None:
        if self.plays > 1:
            return  # counted on the first play
        self.malformed += 1
        self.problems.append(f"line {number}: not a frame ({exc})")

    def _restart(self) -> None:
        self._close_log()
        self._frames = read_log_file(self._spec.path, on_malformed=self._on_malformed)
        self._next = None
        self._last_ts = None
        self._timed = False
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

    def _problem(self, frame: LogFrame, what: str) -> None:
        if self.plays > 1:
            return
        self.timestamp_problems += 1
        where = f"line {frame.line}" if frame.line is not None else f"frame {self.frames + 1}"
        self.problems.append(f"{where}: {what}; played as an untimed frame")

    def _due(self, frame: LogFrame, now: float) -> float:
        """When (monotonic) ``frame`` is due: its recorded gap, else the untimed rate's."""
        ts = frame.seconds
        last_ts, follows = self._last_ts, self._timed
        self._timed = False
        if ts is None:
            self.untimed += 1
            if not self._warned_untimed:
                self._warned_untimed = True
                logger.warning(
                    "replay of %s: frames without timestamps are played at %g frames/s "
                    "(COACHIQ_CAN__REPLAY_RATE or ?rate=, times speed %g)",
                    self._spec.path,
                    self.rate,
                    self._spec.speed,
                )
        elif not math.isfinite(ts):
            self._problem(frame, f"timestamp {ts} is not finite")
        elif last_ts is not None and ts < last_ts:
            self._problem(frame, f"timestamp {ts:.6f} goes back {last_ts - ts:.6f} s")
            self._last_ts, self._timed = ts, True
        elif last_ts is not None and ts - last_ts > MAX_GAP:
            self._problem(frame, f"timestamp {ts:.6f} jumps ahead {ts - last_ts:.0f} s")
            self._last_ts, self._timed = ts, True
        else:
            self._last_ts, self._timed = ts, True
            if self.frames == 0:
                return now
            if follows and last_ts is not None:
                return self._last_due + (ts - last_ts) / self._spec.speed
        if self.frames == 0:
            return now
        return self._last_due + self._gap

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        wait = 1.0 if timeout is None else timeout
        frame = self._peek()
        if frame is None:
            self.finished = True
            self._stop.wait(wait)
            return None, False
        now = time.monotonic()
        if self._pending_due is None:
            self._pending_due = self._due(frame, now)
        due = self._pending_due
        delay = due - now
        if delay > wait:
            self._stop.wait(wait)
            return None, False
        if delay > 0 and self._stop.wait(delay):
            return None, False
        self._next = None
        self._pending_due = None
        self._last_due = max(due, time.monotonic() - 1.0)  # a long stall is not caught up at once
        self.frames += 1
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
