"""``coachiq decode`` and ``coachiq spec``: decode CAN logs into RV-C records, list the spec.

Formats, detected per input from its first bytes (see :mod:`backend.integrations.can.logs`): candump
log (``(1700000000.123456) can0 19FEDA9F#0102...``), candump's screen format
(``  can0  19FEDA9F   [8]  01 02 ...``, with or without a ``-t`` timestamp), and python-can's ASC,
BLF, TRC and CSV through python-can's readers. candump text is decoded line by line and each
record is written as soon as its line is read, so ``candump -L can0 | coachiq decode -`` is live.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from backend.integrations.can.logs import LogFrame, MalformedLineError, read_log
from backend.integrations.rvc.errors import SpecError
from backend.integrations.rvc.frame_id import CAN_ID_MASK
from backend.integrations.rvc.loader import RVCConfig, load_config_data
from backend.integrations.rvc.transport import Reassembler, is_transport


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


def iter_frames(
    name: str, stream: IO[bytes], *, strict: bool, summary: Summary
) -> Iterator[LogFrame]:
    """Frames of one input as they are read; malformed lines go to stderr (fatal with ``strict``).

    Raises:
        typer.Exit: with 1, at the first malformed line when ``strict``.
    """

    def malformed(number: int, line: str, exc: MalformedLineError) -> None:
        summary.malformed += 1
        typer.echo(f"{name}:{number}: skipped malformed line ({exc}): {line.strip()}", err=True)
        if strict:
            raise typer.Exit(1)

    path = None if name == "-" else Path(name)
    return read_log(stream, path=path, on_malformed=malformed)


def _record(frame: LogFrame, message: Any, packets: int | None = None) -> dict[str, Any]:
    ts = frame.timestamp
    record: dict[str, Any] = {"timestamp": ts, "interface": frame.interface}
    if isinstance(ts, float) and not math.isfinite(ts):
        # JSON has no NaN or Infinity: the timestamp is null and the flag says what was written.
        record["timestamp"] = None
        record["timestamp_invalid"] = str(ts)
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
    summary = Summary()
    reassemblers: dict[str | None, Reassembler] = {}
    empty: list[str] = []
    for name in files:
        before = summary.frames
        live = name == "-"  # a pipe: each record goes out as soon as its line came in
        emit = None if summary_only else _writer(sys.stdout, flush=live)
        with _open(name) if not live else _nullcontext(sys.stdin.buffer) as stream:
            frames = iter_frames(name, stream, strict=strict, summary=summary)
            try:
                for frame in frames:
                    _decode_one(config, frame, summary, reassemblers, emit)
            except typer.Exit:
                raise
            except Exception as exc:  # a python-can reader giving up on a damaged file
                typer.echo(f"error: {name}: cannot read: {exc}", err=True)
                if strict:
                    raise typer.Exit(1) from None
        if summary.frames == before:
            typer.echo(f"error: {name}: no CAN frames found", err=True)
            empty.append(name)
    if summary_only:
        _print_summary(summary)
    sys.stdout.flush()
    if empty:
        raise typer.Exit(2)


Emit = Callable[[dict[str, Any]], None]


def _writer(out: IO[str], *, flush: bool) -> Emit:
    """Write one JSON line per record (flushed at once when ``flush``)."""

    def emit(record: dict[str, Any]) -> None:
        out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        if flush:
            out.flush()

    return emit


def _decode_one(
    config: RVCConfig,
    frame: LogFrame,
    summary: Summary,
    reassemblers: dict[str | None, Reassembler],
    emit: Emit | None,
) -> None:
    """Decode one frame (and the multi-packet message it completes); count it; emit records."""
    if frame.remote or not frame.extended:
        summary.skipped += 1
        return
    decode = config.decoder.decode
    summary.frames += 1
    message = decode(frame.can_id & CAN_ID_MASK, frame.data)
    _count(summary, message)
    if emit is not None:
        emit(_record(frame, message))
    if not is_transport(message.dgn):
        return
    reassembler = reassemblers.setdefault(frame.interface, Reassembler())
    ts = frame.timestamp
    ts = ts if isinstance(ts, float) and math.isfinite(ts) else None
    done = reassembler.feed(message.can_id, frame.data, ts)
    if done is not None:
        full = decode(done.can_id, done.data)
        summary.multi_packet[f"{full.dgn:05X} {full.name or '?'}"] += 1
        if emit is not None:
            emit(_record(frame, full, done.packets))


class _nullcontext:
    """``with`` over standard input without closing it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def __enter__(self) -> IO[bytes]:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        return None


def spec_command(
    dgn: Annotated[
        str | None,
        typer.Argument(help="A DGN (name or 5 hex digits): its signals, or its JSON Schema."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    json_schema: Annotated[
        bool,
        typer.Option(
            "--json-schema",
            help="Print the JSON Schema of decoded messages: of DGN, or of every DGN.",
        ),
    ] = False,
    spec: Annotated[Path | None, typer.Option(help="RV-C spec JSON (default config).")] = None,
) -> None:
    """List the DGNs CoachIQ knows, one DGN's signals, or the JSON Schema of decoded messages."""
    from backend.integrations.rvc.json_schema import dgn_schema, spec_schema

    config = _load(spec)
    definition = None
    if dgn is not None:
        definition = config.spec.get(dgn.removeprefix("0x").removeprefix("0X"))
        if definition is None:
            typer.echo(
                f"error: unknown DGN {dgn!r}: give a DGN name (TANK_STATUS) or 5 hex digits "
                "(1FFB7); coachiq spec lists them",
                err=True,
            )
            raise typer.Exit(2)
    if json_schema:
        schema = spec_schema(config.spec) if definition is None else dgn_schema(definition)
        typer.echo(json.dumps(schema, indent=1, ensure_ascii=False))
        return
    if definition is not None:
        _print_signals(definition, as_json)
        return
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


def _print_signals(definition: Any, as_json: bool) -> None:
    """One DGN's signals: position, wire type, JSON type, unit and named values."""
    rows = [
        {
            "name": f.name,
            "byte": f.byte,
            "bit": f.bit,
            "type": f.type,
            "json_type": f.json_type,
            "unit": f.unit,
            "values": {str(k): v for k, v in sorted(f.labels.items())},
        }
        for f in definition.all_fields()
    ]
    if as_json:
        typer.echo(json.dumps({"dgn": definition.key, "name": definition.name, "signals": rows}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{definition.key} {definition.name} (section {definition.section})")
    for column in ("signal", "byte.bit", "type", "JSON", "unit", "named values"):
        table.add_column(column)
    for row in rows:
        named = ", ".join(f"{k}={v}" for k, v in row["values"].items())
        table.add_row(
            row["name"],
            f"{row['byte']}.{row['bit']}",
            row["type"],
            row["json_type"] + (" (label)" if row["json_type"] == "string" and named else ""),
            row["unit"] or "",
            named if len(named) <= 80 else named[:77] + "...",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``decode`` and ``spec`` to the ``coachiq`` command line."""
    app.command("decode")(decode_command)
    app.command("spec")(spec_command)
