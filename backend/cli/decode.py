"""``coachiq decode`` and ``coachiq spec``: decode CAN logs into RV-C records, list the spec.

Formats, detected per file: candump log (``(1700000000.123456) can0 19FEDA9F#0102...``), candump's
screen format (``  can0  19FEDA9F   [8]  01 02 ...``, with or without a ``-t`` timestamp), and
python-can's ASC, BLF, TRC and CSV through python-can's readers.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from backend.integrations.rvc.errors import SpecError
from backend.integrations.rvc.frame_id import CAN_ID_MASK
from backend.integrations.rvc.loader import RVCConfig, load_config_data
from backend.integrations.rvc.transport import Reassembler, is_transport

_TS = r"\((?P<ts>[^)]*)\)"
LOG_LINE = re.compile(
    rf"^\s*{_TS}\s+(?P<iface>\S+)\s+(?P<id>[0-9A-Fa-f]{{1,8}})#(?P<fd>#[0-9A-Fa-f])?"
    r"(?P<data>[0-9A-Fa-f.]*|R\d?)\s*$"
)
SCREEN_LINE = re.compile(
    rf"^\s*(?:{_TS}\s+)?(?P<iface>\S+)\s+(?P<id>[0-9A-Fa-f]{{3,8}})\s+\[(?P<dlc>\d{{1,2}})\]"
    r"(?P<data>(?:\s+[0-9A-Fa-f]{2})*|\s+remote request)\s*(?:'.*')?\s*$"
)
PYTHON_CAN_SUFFIXES = {".asc": "asc", ".blf": "blf", ".trc": "trc", ".csv": "csv"}


class Malformed(Exception):
    """A line that is not a CAN frame in the file's format."""


@dataclass(slots=True)
class Frame:
    """One frame read from a log."""

    timestamp: float | str | None
    interface: str | None
    can_id: int
    data: bytes
    extended: bool = True


@dataclass(slots=True)
class Summary:
    """What ``--summary`` prints."""

    frames: int = 0
    by_dgn: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_source: Counter[int] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    decode_errors: Counter[str] = field(default_factory=Counter)
    multi_packet: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    skipped: int = 0


def _timestamp(text: str | None) -> float | str | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text.strip()


def parse_candump_line(line: str) -> Frame | None:
    """A frame from a candump log or screen line; None for a remote or 11-bit frame.

    Raises:
        Malformed: the line is neither format.
    """
    m = LOG_LINE.match(line)
    if m is not None:
        raw = m["data"]
        if raw.startswith("R"):
            return None
        try:
            data = bytes.fromhex(raw.replace(".", ""))
        except ValueError:
            raise Malformed("odd number of hex digits") from None
        ident = m["id"]
        return Frame(_timestamp(m["ts"]), m["iface"], int(ident, 16), data, len(ident) > 3)
    m = SCREEN_LINE.match(line)
    if m is not None:
        raw = m["data"].strip()
        if raw == "remote request":
            return None
        data = bytes.fromhex(raw)
        if len(data) != int(m["dlc"]):
            raise Malformed(f"DLC [{m['dlc']}] but {len(data)} data bytes")
        ident = m["id"]
        return Frame(_timestamp(m["ts"]), m["iface"], int(ident, 16), data, len(ident) > 3)
    raise Malformed("not a candump log or screen line")


def _python_can_frames(kind: str, source: Any) -> Iterator[Frame]:
    import can  # only the CLI needs python-can's readers

    readers = {
        "asc": can.ASCReader,
        "blf": can.BLFReader,
        "trc": can.TRCReader,
        "csv": can.CSVReader,
    }
    for msg in readers[kind](source):
        if msg.is_error_frame or msg.is_remote_frame:
            continue
        channel = None if msg.channel is None else str(msg.channel)
        yield Frame(msg.timestamp, channel, msg.arbitration_id, bytes(msg.data), msg.is_extended_id)


def _sniff(head: str) -> str:
    """The format of a text log from its first lines: asc, trc, csv or candump."""
    for line in head.splitlines():
        text = line.strip()
        if not text:
            continue
        low = text.lower()
        if low.startswith(("date ", "base hex", "base dec")):
            return "asc"
        if text.startswith(";$FILEVERSION") or text.startswith(";"):
            return "trc"
        if low.startswith("timestamp,arbitration_id"):
            return "csv"
        return "candump"
    return "candump"


def iter_frames(name: str, stream: IO[bytes], *, strict: bool, summary: Summary) -> Iterator[Frame]:
    """Frames of one input; malformed lines go to stderr (fatal with ``strict``)."""
    raw = stream.read()
    if raw.startswith(b"LOGG"):
        yield from _python_can_frames("blf", io.BytesIO(raw))
        return
    text = raw.decode("utf-8", errors="replace")
    kind = PYTHON_CAN_SUFFIXES.get(Path(name).suffix.lower()) if name != "-" else None
    kind = kind or _sniff(text[:4096])
    if kind != "candump":
        yield from _python_can_frames(kind, io.StringIO(text))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(("#", "//")):
            continue
        try:
            frame = parse_candump_line(line)
        except Malformed as exc:
            summary.malformed += 1
            typer.echo(f"{name}:{number}: skipped malformed line ({exc}): {line.strip()}", err=True)
            if strict:
                raise typer.Exit(1) from None
            continue
        if frame is None:
            summary.skipped += 1
            continue
        yield frame


def _record(frame: Frame, message: Any, packets: int | None = None) -> dict[str, Any]:
    record = {"timestamp": frame.timestamp, "interface": frame.interface}
    record.update(message.to_record())
    if packets is not None:
        record["packets"] = packets
    return record


def _count(summary: Summary, message: Any) -> None:
    name = message.name
    summary.by_dgn[(f"{message.dgn:05X}", name or "?")] += 1
    summary.by_source[message.source] += 1
    if name is None:
        summary.unknown[f"{message.dgn:05X}"] += 1
    flags = message.flags
    if flags and ("decode" in flags or "data" in flags):
        summary.decode_errors[f"{message.dgn:05X}"] += 1


def _open(name: str) -> IO[bytes]:
    if name == "-":
        return sys.stdin.buffer
    return Path(name).open("rb")


def _load(spec: Path | None) -> RVCConfig:
    if spec is None:
        try:
            from backend.core.config import load_settings

            spec = load_settings().rvc.spec_path
        except Exception:  # a configuration problem elsewhere must not stop a log decode
            spec = None
    try:
        return load_config_data(spec)
    except SpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _print_summary(summary: Summary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Frames per DGN ({summary.frames} frames)")
    table.add_column("DGN")
    table.add_column("name")
    table.add_column("frames", justify="right")
    for (dgn, name), count in summary.by_dgn.most_common():
        table.add_row(dgn, name, str(count))
    console.print(table)
    sources = Table(title="Frames per source address")
    sources.add_column("source")
    sources.add_column("frames", justify="right")
    for source, count in sorted(summary.by_source.items()):
        sources.add_row(f"{source} (0x{source:02X})", str(count))
    console.print(sources)
    for title, counter in (
        ("Unknown DGNs", summary.unknown),
        ("Decode errors", summary.decode_errors),
        ("Multi-packet messages", summary.multi_packet),
    ):
        t = Table(title=title)
        t.add_column("DGN" if title != "Multi-packet messages" else "message")
        t.add_column("count", justify="right")
        for key, count in counter.most_common():
            t.add_row(key, str(count))
        if not counter:
            t.add_row("none", "0")
        console.print(t)
    console.print(
        f"malformed lines skipped: {summary.malformed}; remote/11-bit frames skipped: "
        f"{summary.skipped}"
    )


def decode_command(
    files: Annotated[list[str], typer.Argument(help="Log files; - for standard input.")],
    summary_only: Annotated[
        bool, typer.Option("--summary", help="Print a summary table instead of records.")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Malformed lines are fatal (exit 1).")] = False,
    spec: Annotated[Path | None, typer.Option(help="RV-C spec JSON (default config).")] = None,
) -> None:
    """Decode CAN logs into one JSON object per frame (and per multi-packet message)."""
    for name in files:
        if name != "-" and not Path(name).is_file():
            typer.echo(f"error: {name}: no such file", err=True)
            raise typer.Exit(2)
    config = _load(spec)
    decode = config.decoder.decode
    summary = Summary()
    reassemblers: dict[str | None, Reassembler] = {}
    empty: list[str] = []
    out = sys.stdout
    for name in files:
        before = summary.frames
        with _open(name) if name != "-" else _nullcontext(sys.stdin.buffer) as stream:
            try:
                frames = list(iter_frames(name, stream, strict=strict, summary=summary))
            except typer.Exit:
                raise
            except Exception as exc:  # a python-can reader giving up on a damaged file
                typer.echo(f"error: {name}: cannot read: {exc}", err=True)
                if strict:
                    raise typer.Exit(1) from None
                frames = []
        for frame in frames:
            if not frame.extended:
                summary.skipped += 1
                continue
            summary.frames += 1
            message = decode(frame.can_id & CAN_ID_MASK, frame.data)
            _count(summary, message)
            if not summary_only:
                out.write(json.dumps(_record(frame, message), ensure_ascii=False) + "\n")
            if is_transport(message.dgn):
                reassembler = reassemblers.setdefault(frame.interface, Reassembler())
                ts = frame.timestamp if isinstance(frame.timestamp, float) else None
                done = reassembler.feed(message.can_id, frame.data, ts)
                if done is not None:
                    full = decode(done.can_id, done.data)
                    summary.multi_packet[f"{full.dgn:05X} {full.name or '?'}"] += 1
                    if not summary_only:
                        record = _record(frame, full, done.packets)
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if summary.frames == before:
            typer.echo(f"error: {name}: no CAN frames found", err=True)
            empty.append(name)
    if summary_only:
        _print_summary(summary)
    out.flush()
    if empty:
        raise typer.Exit(2)


class _nullcontext:
    """``with`` over standard input without closing it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def __enter__(self) -> IO[bytes]:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        return None


def spec_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    spec: Annotated[Path | None, typer.Option(help="RV-C spec JSON (default config).")] = None,
) -> None:
    """List the DGNs CoachIQ knows: dgn, name, number of signals."""
    config = _load(spec)
    rows = [
        {"dgn": d.key, "name": d.name, "signals": len(d.all_fields())}
        for d in sorted(config.spec.by_dgn.values(), key=lambda d: d.dgn)
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"RV-C DGNs ({len(rows)}), {config.spec_path}")
    table.add_column("DGN")
    table.add_column("name")
    table.add_column("signals", justify="right")
    for row in rows:
        table.add_row(row["dgn"], row["name"], str(row["signals"]))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``decode`` and ``spec`` to the ``coachiq`` command line."""
    app.command("decode")(decode_command)
    app.command("spec")(spec_command)
