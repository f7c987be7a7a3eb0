"""``coachiq simulate``, ``coachiq replay`` and ``coachiq record``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

BustypeOpt = Annotated[
    str | None, typer.Option("--bustype", help="python-can interface (default: the settings').")
]
ChannelOpt = Annotated[
    list[str] | None,
    typer.Option("--channel", help="Channel, repeatable (default: COACHIQ_CAN__INTERFACES)."),
]
BusOptionsOpt = Annotated[
    str | None,
    typer.Option("--bus-options", help='JSON of extra python-can arguments, e.g. {"port": 43114}.'),
]


MOVING_KPH = 88.0


def _settings() -> Any:
    from backend.core.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(2) from None


def _bus_args(
    bustype: str | None, channels: list[str] | None, bus_options: str | None
) -> tuple[str, list[str], dict[str, Any], Any]:
    settings = _settings()
    options: dict[str, Any] = dict(settings.can.bus_options)
    if bus_options:
        try:
            parsed = json.loads(bus_options)
        except json.JSONDecodeError as exc:
            typer.echo(f"--bus-options: not JSON: {exc}", err=True)
            raise typer.Exit(2) from None
        if not isinstance(parsed, dict):
            typer.echo('--bus-options: must be a JSON object such as {"port": 43114}', err=True)
            raise typer.Exit(2)
        options = parsed
    chosen = channels or [c for c in settings.can.interfaces if not c.startswith("replay:")]
    return bustype or settings.can.bustype, chosen, options, settings


def _open_bus(bustype: str, channel: str, options: dict[str, Any]) -> Any:
    import can

    try:
        return can.Bus(interface=bustype, channel=channel, **options)
    except Exception as exc:  # python-can raises many types for a bus that cannot open
        typer.echo(f"cannot open {bustype} bus {channel}: {exc}", err=True)
        raise typer.Exit(1) from None


def _stop_flag() -> threading.Event:
    """An event set by SIGINT/SIGTERM."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def simulate(
    bustype: BustypeOpt = None,
    channel: ChannelOpt = None,
    bus_options: BusOptionsOpt = None,
    load: Annotated[
        int, typer.Option("--load", min=0, help="Add N full buses (1,800 frames/s each).")
    ] = 0,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Seconds to run (default: forever).")
    ] = None,
    probe_rate: Annotated[
        float,
        typer.Option(
            "--probe-rate",
            min=0,
            help="With --load: probe frames per second among the load, carrying their send time.",
        ),
    ] = 0.0,
    moving: Annotated[
        bool,
        typer.Option(
            "--moving",
            help="The simulated chassis drives: park brake released, 88 km/h (motion refused).",
        ),
    ] = False,
) -> None:
    """Run the simulated coach (or, with --load N, the load generator) as its own process."""
    bustype_, channels, options, settings = _bus_args(bustype, channel, bus_options)
    if load:
        _run_load(
            bustype_, channels[0], options, settings, load, duration, _stop_flag(), probe_rate
        )
        return
    from backend.core.entity_errors import MappingError
    from backend.core.logging_config import configure_logging
    from backend.services.simulator.setup import build_coach

    configure_logging(settings.logging)
    try:
        coach = build_coach(settings, bustype=bustype_, channels=channels, bus_options=options)
    except MappingError as exc:
        for line in exc.problems:
            typer.echo(f"coach mapping error: {line}", err=True)
        raise typer.Exit(2) from None

    if moving and coach.chassis_spec_absent():
        typer.echo("--moving: this coach's mapping says its chassis does not report", err=True)
        raise typer.Exit(2)

    async def run() -> None:
        await coach.start()
        if moving:
            coach.set_chassis(park_brake="released", speed_kph=MOVING_KPH)
        typer.echo(
            f"simulating {len(coach.models)} devices on {len(coach.nodes)} nodes "
            f"({bustype_} {','.join(channels)}); Ctrl-C stops",
            err=True,
        )
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), duration)
        finally:
            await coach.stop()
        typer.echo(json.dumps({"sent": coach.stats["frames_sent"], **dict(coach.stats)}))

    asyncio.run(run())


def _run_load(
    bustype: str,
    channel: str,
    options: dict[str, Any],
    settings: Any,
    buses: int,
    duration: float | None,
    stop: threading.Event,
    probe_rate: float = 0.0,
) -> None:
    from backend.integrations.rvc.spec import DEFAULT_SPEC_PATH, read_spec
    from backend.services.simulator.load import run_load

    spec = read_spec(settings.rvc.spec_path or DEFAULT_SPEC_PATH)
    bus = _open_bus(bustype, channel, options)
    try:
        report = run_load(
            bus,
            spec,
            buses,
            duration,
            stop=stop.is_set,
            progress=lambda r: typer.echo(f"sent {r.sent} in {r.seconds:.1f} s", err=True),
            probe_rate=probe_rate,
        )
    finally:
        bus.shutdown()
    typer.echo(json.dumps(report.as_dict()))


def replay(
    file: Annotated[
        Path, typer.Argument(help="Recording (candump log or screen, asc, blf, csv, trc).")
    ],
    bustype: BustypeOpt = None,
    channel: ChannelOpt = None,
    bus_options: BusOptionsOpt = None,
    speed: Annotated[float, typer.Option("--speed", min=0.001, help="Time factor.")] = 1.0,
    loop: Annotated[bool, typer.Option("--loop", help="Start again at the end.")] = False,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            min=0.001,
            max=100_000,
            help="Frames/s for frames without timestamps (default COACHIQ_CAN__REPLAY_RATE).",
        ),
    ] = None,
) -> None:
    """Play a recording onto a bus with its timing (the server's replay channel's reader)."""
    import can

    from backend.integrations.can.replay import ReplayBus, ReplaySpec

    if not file.is_file():
        typer.echo(f"{file}: no such file", err=True)
        raise typer.Exit(2)
    bustype_, channels, options, settings = _bus_args(bustype, channel, bus_options)
    try:
        source = ReplayBus(
            f"replay:{file}",
            ReplaySpec(file, speed, loop, rate),
            default_rate=settings.can.replay_rate,
        )
    except ValueError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = _stop_flag()
    bus = _open_bus(bustype_, channels[0], options)
    sent = 0
    try:
        while not stop.is_set():
            msg = source.recv(0.2)
            if msg is None:
                if source.finished:
                    break
                continue
            bus.send(
                can.Message(
                    arbitration_id=msg.arbitration_id,
                    data=msg.data,
                    is_extended_id=msg.is_extended_id,
                )
            )
            sent += 1
    finally:
        source.shutdown()
        bus.shutdown()
    status = source.replay_status()
    typer.echo(
        json.dumps(
            {
                "file": str(file),
                "sent": sent,
                "untimed_frames": status["untimed_frames"],
                "malformed_lines": status["malformed_lines"],
                "timestamp_problems": status["timestamp_problems"],
                "problems": status["problems"],
            }
        )
    )


def record(
    output: Annotated[Path, typer.Option("-o", "--output", help="candump log file to write.")],
    bustype: BustypeOpt = None,
    channel: ChannelOpt = None,
    bus_options: BusOptionsOpt = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Seconds (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Record what the bus carries, in candump log format."""
    from backend.services.simulator.canlog import record as rec

    bustype_, channels, options, _ = _bus_args(bustype, channel, bus_options)
    stop = _stop_flag()
    bus = _open_bus(bustype_, channels[0], options)
    try:
        with output.open("w", encoding="ascii") as out:
            count = rec(bus, out, channels[0], duration=duration, stop=stop.is_set)
    finally:
        bus.shutdown()
    typer.echo(json.dumps({"file": str(output), "frames": count}))


def register(app: typer.Typer) -> None:
    """Add simulate, replay and record to the ``coachiq`` command."""
    app.command("simulate")(simulate)
    app.command("replay")(replay)
    app.command("record")(record)
