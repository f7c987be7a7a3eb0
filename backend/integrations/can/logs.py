"""The one reader of recorded CAN logs, shared by ``coachiq decode`` and the replay channel.

Formats, detected from the first bytes and the first lines (never from the file name; see
:func:`_head`):

- candump log (``candump -L``): ``(1700000000.123456) can0 19FEDA9F#0102...``;
- candump's screen format: ``  can0  19FEDA9F   [8]  01 02 ...``, with or without a
  ``(timestamp)`` (``-ta``/``-tz``/``-td`` seconds or ``-tA`` ``(2023-11-06 10:00:00.123456)``);
- python-can's BLF (binary, ``LOGG`` magic), ASC, TRC and CSV, through python-can's readers.

candump text is read line by line, so a pipe (``candump -L can0 | coachiq decode -``) yields each
frame as soon as its line arrives. The python-can formats are read through their readers: from the
path when one is given, else from the stream as it comes (memory stays bounded).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

_TS = r"\((?P<ts>[^)]*)\)"
LOG_LINE = re.compile(
    rf"^\s*{_TS}\s+(?P<iface>\S+)\s+(?P<id>[0-9A-Fa-f]{{1,8}})#(?P<fd>#[0-9A-Fa-f])?"
    r"(?P<data>[0-9A-Fa-f.]*|R\d?)\s*$"
)
SCREEN_LINE = re.compile(
    rf"^\s*(?:{_TS}\s+)?(?P<iface>\S+)\s+(?P<id>[0-9A-Fa-f]{{3,8}})\s+\[(?P<dlc>\d{{1,2}})\]"
    r"(?P<data>(?:\s+[0-9A-Fa-f]{2})*|\s+remote request)\s*(?:'.*')?\s*$"
)
CANDUMP = "candump"
PYTHON_CAN_FORMATS = ("blf", "asc", "trc", "csv")
_SNIFF_LINES = 64  # non-frame lines looked at before a text log is taken for candump


class MalformedLineError(ValueError):
    """A line that is not a CAN frame in the log's format."""


@dataclass(frozen=True, slots=True)
class LogFrame:
    """One frame read from a log.

    Attributes:
        timestamp: as recorded: seconds (float, possibly not finite: ``(inf)``), a ``-tA`` date
            as written (str), or None.
        interface: the channel the frame was recorded on, if the log says.
        can_id: the arbitration id (11 or 29 bits).
        data: the payload.
        extended: True for a 29-bit (extended) id, as recorded.
        remote: True for a remote (RTR) frame, which carries no data.
        line: the line of a text log the frame was read from (from 1), if known.
    """

    timestamp: float | str | None
    interface: str | None
    can_id: int
    data: bytes
    extended: bool = True
    remote: bool = False
    line: int | None = None

    @property
    def seconds(self) -> float | None:
        """The timestamp in seconds (a ``-tA`` date in local time), or None."""
        return timestamp_seconds(self.timestamp)


# (line number, the line, the error) for a line that is not a frame.
MalformedHandler = Callable[[int, str, MalformedLineError], None]


def timestamp_seconds(value: float | str | None) -> float | None:
    """Seconds for a recorded timestamp: a number as is, a date as local time, else None."""
    if not isinstance(value, str):
        return None if value is None else float(value)
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None


def _timestamp(text: str | None) -> float | str | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _extended(ident: str, can_id: int) -> bool:
    # candump writes 3 hex digits for an 11-bit id and 8 for a 29-bit one.
    return len(ident) > 3 or can_id > 0x7FF


def _check_length(length: int, *, fd: bool) -> None:
    if length > 8 and not fd:
        raise MalformedLineError(f"{length} data bytes: a CAN frame carries at most 8")
    if length > 64:
        raise MalformedLineError(f"{length} data bytes: a CAN FD frame carries at most 64")


def parse_candump_line(line: str) -> LogFrame:
    """A frame from a candump log or screen line (remote frames have ``remote`` set).

    Raises:
        MalformedLineError: the line is neither format.
    """
    m = LOG_LINE.match(line)
    if m is not None:
        ident, raw = m["id"], m["data"]
        can_id = int(ident, 16)
        ts, iface = _timestamp(m["ts"]), m["iface"]
        if raw.startswith("R"):
            return LogFrame(ts, iface, can_id, b"", _extended(ident, can_id), remote=True)
        try:
            data = bytes.fromhex(raw.replace(".", ""))
        except ValueError:
            raise MalformedLineError("odd number of hex digits") from None
        _check_length(len(data), fd=m["fd"] is not None)
        return LogFrame(ts, iface, can_id, data, _extended(ident, can_id))
    m = SCREEN_LINE.match(line)
    if m is not None:
        ident, raw = m["id"], m["data"].strip()
        can_id = int(ident, 16)
        ts, iface = _timestamp(m["ts"]), m["iface"]
        if raw == "remote request":
            return LogFrame(ts, iface, can_id, b"", _extended(ident, can_id), remote=True)
        data = bytes.fromhex(raw)
        _check_length(len(data), fd=False)
        if len(data) != int(m["dlc"]):
            raise MalformedLineError(f"DLC [{m['dlc']}] but {len(data)} data bytes")
        return LogFrame(ts, iface, can_id, data, _extended(ident, can_id))
    raise MalformedLineError("not a candump log or screen line")


def sniff_format(first: bytes) -> str:
    """The format of a log from its first bytes, or its first non-blank line for text logs.

    Returns ``blf``, ``asc``, ``trc``, ``csv`` or ``candump``.
    """
    if first.startswith(b"LOGG"):
        return "blf"
    text = first.decode("utf-8", errors="replace").strip().lower()
    if text.startswith(("date ", "base hex", "base dec")):
        return "asc"
    if text.startswith(";"):
        return "trc"
    if text.startswith("timestamp,arbitration_id"):
        return "csv"
    return CANDUMP


def _is_comment(line: bytes) -> bool:
    return line.lstrip().startswith((b"#", b"//"))


def _is_blf(first: bytes) -> bool:
    """BLF's file header: ``LOGG`` and its own size (little-endian uint32, 144 as written)."""
    size = int.from_bytes(first[4:8], "little")
    return first.startswith(b"LOGG") and len(first) >= 8 and 8 <= size <= 4096


def _is_candump_frame(line: bytes) -> bool:
    text = line.decode("utf-8", errors="replace")
    return bool(LOG_LINE.match(text) or SCREEN_LINE.match(text))


def _head(stream: IO[bytes]) -> tuple[list[bytes], str]:
    """Lines read to find the format, and the format.

    Not one line's word: a text log is candump as soon as one of its first lines is a candump
    frame (the lines before it are then malformed lines, counted); only a head of up to
    ``_SNIFF_LINES`` lines without any candump frame goes to a python-can reader, chosen by its
    first line that is not blank or a comment. A pipe is decided at its first candump frame.
    """
    head: list[bytes] = []
    first = b""
    while len(head) < _SNIFF_LINES:
        line = stream.readline()
        if not line:
            break
        head.append(line)
        if len(head) == 1 and _is_blf(line):
            return head, "blf"
        if not line.strip() or _is_comment(line):
            continue
        if _is_candump_frame(line):
            return head, CANDUMP
        first = first or line
    return head, sniff_format(first) if first else CANDUMP


class _Rewound(io.RawIOBase):
    """A stream read again from its start: the lines already read, then the rest as it comes."""

    def __init__(self, head: list[bytes], rest: IO[bytes]) -> None:
        self._pending = b"".join(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending:
            # read1: what a pipe has now, not a wait for a full buffer
            read = getattr(self._rest, "read1", self._rest.read)
            self._pending = read(len(view))
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _python_can_frames(kind: str, source: Any) -> Iterator[LogFrame]:
    import can

    readers = {
        "asc": can.ASCReader,
        "blf": can.BLFReader,
        "trc": can.TRCReader,
        "csv": can.CSVReader,
    }
    for msg in readers[kind](source):
        if msg.is_error_frame:
            continue
        channel = None if msg.channel is None else str(msg.channel)
        yield LogFrame(
            msg.timestamp,
            channel,
            msg.arbitration_id,
            bytes(msg.data),
            msg.is_extended_id,
            msg.is_remote_frame,
        )


def _candump_frames(
    lines: Iterable[bytes], on_malformed: MalformedHandler | None
) -> Iterator[LogFrame]:
    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="replace")
        if not line.strip() or line.lstrip().startswith(("#", "//")):
            continue
        try:
            frame = parse_candump_line(line)
        except MalformedLineError as exc:
            if on_malformed is not None:
                on_malformed(number, line.rstrip("\r\n"), exc)
            continue
        yield dataclasses.replace(frame, line=number)


def read_log(
    stream: IO[bytes],
    *,
    path: str | Path | None = None,
    on_malformed: MalformedHandler | None = None,
) -> Iterator[LogFrame]:
    """Frames of a log, in order, as they are read (error frames left out).

    Args:
        stream: the log, opened in binary mode (a file, or standard input).
        path: the file ``stream`` reads, if any: python-can's readers then read the file
            themselves instead of the whole stream being read into memory.
        on_malformed: called for each candump line that is not a frame (line number from 1, the
            line, the error); it may raise to stop. Without it such lines are skipped.

    Raises:
        Exception: whatever a python-can reader raises on a damaged file.
    """
    head, kind = _head(stream)
    if kind == CANDUMP:
        yield from _candump_frames(itertools.chain(head, stream), on_malformed)
        return
    if path is not None:
        source: Any = str(path)
    else:  # read on as it comes (never the whole input into memory first)
        raw = io.BufferedReader(_Rewound(head, stream))
        source = raw if kind == "blf" else io.TextIOWrapper(raw, "utf-8", errors="replace")
    yield from _python_can_frames(kind, source)


def read_log_file(
    path: str | Path, *, on_malformed: MalformedHandler | None = None
) -> Iterator[LogFrame]:
    """Frames of a log file, lazily; the file is closed when the iterator ends or is closed."""
    with Path(path).open("rb") as stream:
        yield from read_log(stream, path=path, on_malformed=on_malformed)
