"""Doctor findings about the CAN side: settings, SocketCAN links, traffic, addresses, mapping."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from backend.core.config import ENV_PREFIX, Settings
from backend.integrations.can import message_factory as mf
from backend.ops.doctor.link import LinkDetails
from backend.ops.doctor.listen import Observation
from backend.ops.doctor.report import Report, Status

RVC_BITRATE = 250_000
ERROR_COUNTER_WARN = 96  # a CAN controller's "error warning" limit
CLOCK_SKEW_WARN_S = 120.0
BITRATE_VAR = f"{ENV_PREFIX}CAN__BITRATE"
ADDRESS_VAR = f"{ENV_PREFIX}CAN__SOURCE_ADDRESS"
UP_COMMAND = "sudo ip link set {name} up type can bitrate 250000 restart-ms 100"


def check_bitrate_setting(report: Report, settings: Settings) -> None:
    """RV-C runs at 250 kbit/s: any other COACHIQ_CAN__BITRATE is a mistake."""
    bitrate = settings.can.bitrate
    if bitrate == RVC_BITRATE:
        report.add("bitrate", Status.OK, f"{BITRATE_VAR} is {bitrate} bit/s (RV-C)")
        return
    report.add(
        "bitrate",
        Status.FAIL,
        f"{BITRATE_VAR} is {bitrate} bit/s, but RV-C buses run at 250000 bit/s",
        f"set {BITRATE_VAR}=250000; an adapter opened at the wrong rate sees no frames, only "
        "errors, and its bus load figures are wrong",
        configured=bitrate,
        expected=RVC_BITRATE,
    )


def check_link(report: Report, settings: Settings, link: LinkDetails) -> None:
    """One finding about a SocketCAN interface from iproute2: presence, state, bitrate, errors."""
    name = link.name
    check = f"link:{name}"
    if not link.exists:
        report.add(
            check,
            Status.FAIL,
            f"{name}: no such network interface ({link.error or 'ip link shows none'})",
            f"check the CAN HAT (dtoverlay=mcp2515-... in /boot/firmware/config.txt, "
            f"`dmesg | grep -i -e can -e mcp251`) and that {ENV_PREFIX}CAN__INTERFACES names an "
            "interface `ip link` lists",
            interface=name,
        )
        return
    problems: list[tuple[Status, str, str]] = []
    if not link.admin_up or link.can_state == "STOPPED":
        problems.append((Status.FAIL, f"{name} is down", UP_COMMAND.format(name=name)))
    if link.can_state == "BUS-OFF":
        problems.append((
            Status.FAIL, f"{name} is BUS-OFF",
            "check wiring and termination (120 ohm at each end); restart-ms 100 recovers it",
        ))  # fmt: skip
    elif link.can_state in ("ERROR-PASSIVE", "ERROR-WARNING"):
        problems.append((
            Status.WARN, f"{name} is {link.can_state}",
            "errors on the bus: check wiring, termination and that every node runs at 250000",
        ))  # fmt: skip
    if link.bitrate is not None and link.bitrate != RVC_BITRATE:
        problems.append((
            Status.FAIL, f"{name} runs at {link.bitrate} bit/s, RV-C is 250000",
            UP_COMMAND.format(name=name) + " (or BitRate=250K in the .network file)",
        ))  # fmt: skip
    elif link.bitrate is not None and link.bitrate != settings.can.bitrate:
        problems.append((
            Status.WARN, f"{BITRATE_VAR}={settings.can.bitrate} differs from {name}'s "
            f"{link.bitrate}", f"set {BITRATE_VAR}={link.bitrate}",
        ))  # fmt: skip
    if link.restart_ms == 0:
        problems.append((
            Status.WARN, f"{name} has no automatic bus-off recovery (restart-ms 0)",
            "add restart-ms 100 (RestartSec=100ms in the .network file)",
        ))  # fmt: skip
    restarts = link.xstats.get("restarts", 0)
    if restarts or link.xstats.get("bus_off", 0):
        problems.append((
            Status.WARN, f"{name} went bus-off {link.xstats.get('bus_off', 0)} times and "
            f"restarted {restarts} times", "check wiring, termination and bitrates of all nodes",
        ))  # fmt: skip
    counters = [c for c in (link.berr_tx, link.berr_rx) if c is not None]
    if counters and max(counters) >= ERROR_COUNTER_WARN:
        problems.append((
            Status.WARN, f"error counters tx {link.berr_tx} rx {link.berr_rx}",
            "the controller sees errors now: check wiring and termination",
        ))  # fmt: skip
    errors = link.rx.get("errors", 0) + link.tx.get("errors", 0)
    dropped = link.rx.get("dropped", 0) + link.rx.get("overrun", 0) + link.rx.get("missed", 0)
    if errors or dropped:
        problems.append((
            Status.WARN, f"kernel counts {errors} rx/tx errors and {dropped} dropped frames",
            "errors: wiring/termination; drops: the Pi is too busy or the queue too short",
        ))  # fmt: skip
    details: dict[str, Any] = {
        "state": link.can_state, "operstate": link.operstate, "bitrate": link.bitrate,
        "restart_ms": link.restart_ms, "berr_counter": {"tx": link.berr_tx, "rx": link.berr_rx},
        "xstats": link.xstats, "rx": link.rx, "tx": link.tx, "ip_output": link.text,
    }  # fmt: skip
    if not problems:
        summary = (
            f"{name} up, {link.can_state or 'state not reported'}, {link.bitrate} bit/s, "
            f"restart-ms {link.restart_ms}, error counters tx {link.berr_tx} rx {link.berr_rx}"
        )
        report.add(check, Status.OK, summary, **details)
        return
    worst = Status.FAIL if any(s is Status.FAIL for s, _, _ in problems) else Status.WARN
    report.add(
        check,
        worst,
        "; ".join(text for _, text, _ in problems),
        "; ".join(dict.fromkeys(action for _, _, action in problems)),
        **details,
    )


def check_traffic(report: Report, settings: Settings, observation: Observation) -> None:
    """Frames and distinct sources heard on one interface while listening."""
    name = observation.channel
    check = f"bus:{name}"
    bustype = "replay" if observation.read_only else settings.can.bustype
    if not observation.opened:
        report.add(
            check,
            Status.FAIL,
            f"{name}: python-can could not open it ({bustype}): {observation.error}",
            f"check {ENV_PREFIX}CAN__BUSTYPE and {ENV_PREFIX}CAN__INTERFACES; on SocketCAN "
            "the interface must exist and be up",
            interface=name,
            bustype=bustype,
        )
        return
    seconds = observation.seconds
    sources = sorted(observation.sources)
    details = {
        "interface": name,
        "bustype": bustype,
        "seconds": seconds,
        "frames": observation.frames,
        "frames_per_second": round(observation.frames / seconds, 1) if seconds else None,
        "sources": [f"0x{s:02X}" for s in sources],
        "error_frames": observation.error_frames,
    }
    if observation.frames == 0:
        if bustype == "virtual":
            report.add(
                check,
                Status.WARN,
                f"{name}: no frames in {seconds:g} s; a virtual bus is private to one process, "
                "so the doctor cannot hear the server's",
                "use udp_multicast or a real interface to check traffic from here",
                **details,
            )
            return
        report.add(
            check,
            Status.FAIL,
            f"{name}: no frames in {seconds:g} s",
            "check the CAN wiring to the coach (CAN-H/CAN-L, ground), that the coach's systems "
            "are powered, and the bitrate (250000)",
            **details,
        )
        return
    rate = observation.frames / seconds if seconds else 0.0
    summary = (
        f"{name}: {observation.frames} frames from {len(sources)} sources in {seconds:g} s "
        f"({rate:.1f}/s)"
    )
    if observation.error_frames:
        report.add(
            check,
            Status.WARN,
            f"{summary}; {observation.error_frames} error frames",
            "error frames mean bit errors on the wire: wiring, termination or a wrong bitrate",
            **details,
        )
        return
    report.add(check, Status.OK, summary, **details)


def coachiq_name(settings: Settings) -> int:
    """The ADDRESS_CLAIM value CoachIQ's server claims with (from the settings)."""
    can = settings.can
    return mf.ClaimName(
        serial_number=can.name_serial,
        manufacturer_code=can.name_manufacturer_code,
        arbitrary_address_capable=can.address_claiming,
    ).value


def check_addresses(
    report: Report, settings: Settings, observation: Observation, server_up: bool
) -> None:
    """Whether CoachIQ holds an address on the interface, who else claims, and conflicts."""
    name = observation.channel
    check = f"address:{name}"
    if not observation.opened or not observation.request_sent:
        if observation.opened and observation.read_only:
            report.add(check, Status.OK, f"{name}: a replay; address claims not asked")
        return
    ours = coachiq_name(settings)
    configured = settings.can.source_address
    held = sorted(address for address, names in observation.claims.items() if ours in names)
    others = {
        address: sorted(names - {ours})
        for address, names in observation.claims.items()
        if names - {ours}
    }
    listing = ", ".join(f"0x{a:02X}" for a in sorted(others)) or "none"
    details = {
        "coachiq_name": f"{ours:016X}",
        "configured_address": configured,
        "coachiq_holds": held,
        "other_claims": {f"0x{a:02X}": [f"{n:016X}" for n in names] for a, names in others.items()},
    }
    problems: list[tuple[Status, str, str]] = []
    taken = others.get(configured)
    if taken:
        if settings.can.address_claiming:
            note = f" (it holds {', '.join(str(a) for a in held)})" if held else ""
            problems.append((
                Status.WARN,
                f"address {configured} ({ADDRESS_VAR}) is claimed by another node "
                f"(NAME {taken[0]:016X}); CoachIQ gives way and claims a lower address{note}",
                f"set {ADDRESS_VAR} to a free address so CoachIQ starts where it ends up",
            ))  # fmt: skip
        else:
            problems.append((
                Status.FAIL,
                f"address {configured} ({ADDRESS_VAR}) is claimed by another node "
                f"(NAME {taken[0]:016X}) and CoachIQ uses static addressing",
                f"set {ADDRESS_VAR} to a free address (not {listing}) or "
                f"{ENV_PREFIX}CAN__ADDRESS_CLAIMING=true",
            ))  # fmt: skip
    for address, names in others.items():
        if len(names) > 1:
            problems.append((
                Status.WARN, f"{len(names)} nodes claim address 0x{address:02X}",
                "two devices fight over one address: check their configuration",
            ))  # fmt: skip
    if server_up and not held and settings.can.bustype != "virtual":
        problems.append((
            Status.WARN, "CoachIQ's server runs but did not answer the address request",
            "its claim failed or it is not on this interface: `journalctl -u coachiq`",
        ))  # fmt: skip
    if problems:
        worst = Status.FAIL if any(s is Status.FAIL for s, _, _ in problems) else Status.WARN
        summary = "; ".join(text for _, text, _ in problems) + f"; other nodes: {listing}"
        action = "; ".join(dict.fromkeys(action for _, _, action in problems))
        report.add(check, worst, summary, action, **details)
        return
    if held:
        summary = f"CoachIQ holds address {held[0]}; other nodes claim {listing}"
    else:
        summary = f"CoachIQ's claim not seen (server not on this bus); other nodes claim {listing}"
    report.add(check, Status.OK, summary, **details)


def check_mapping(report: Report, settings: Settings, observations: dict[str, Observation]) -> None:
    """Mapped vs unmapped device instances among the frames heard."""
    frames = [frame for o in observations.values() for frame in o.kept]
    if not frames:
        report.add("mapping", Status.OK, "no frames heard: mapping coverage not measured")
        return
    from backend.core.coach_mapping import load_coach_mapping
    from backend.core.entity_manager import EntityManager
    from backend.integrations.rvc.loader import load_config_data

    try:
        config = load_config_data(settings.rvc.spec_path)
        mapping = load_coach_mapping(settings, config.spec)
    except Exception as exc:  # the config finding names the file and line
        report.add("mapping", Status.FAIL, f"the coach mapping cannot be loaded: {exc}")
        return
    manager = EntityManager(mapping, wall_clock=time.time)
    decode = config.decoder.decode
    for arbitration_id, data, timestamp in frames:
        manager.ingest(decode(arbitration_id, data), timestamp)
    entities = manager.get_all_entities()
    seen = [e.entity_id for e in entities if e.last_seen]
    unmapped = manager.unmapped()
    examples = [f"{r.get('name') or r.get('dgn')} instance {r.get('instance')}" for r in unmapped]
    details = {
        "mapping": str(mapping.path),
        "entities": len(entities),
        "entities_seen": len(seen),
        "seen": seen[:50],
        "unmapped_instances": len(unmapped),
        "unmapped": examples[:50],
    }
    summary = (
        f"{len(seen)} of {len(entities)} mapped entities reported; "
        f"{len(unmapped)} device instances on the bus are not in the mapping"
    )
    if unmapped:
        report.add(
            "mapping",
            Status.WARN,
            f"{summary} (e.g. {', '.join(examples[:3])})",
            f"add them to {mapping.path} or choose the coach's mapping "
            f"({ENV_PREFIX}RVC__COACH_MODEL); the dashboard's Discover page lists them",
            **details,
        )
    elif entities and not seen:
        report.add(
            "mapping", Status.WARN, summary,
            f"none of the mapping's devices spoke: is {ENV_PREFIX}RVC__COACH_MODEL right?",
            **details,
        )  # fmt: skip
    else:
        report.add("mapping", Status.OK, summary, **details)


def parse_date_time(data: bytes) -> tuple[dt.datetime, int | None] | None:
    """DATE_TIME_STATUS (RV-C 6.4.2): local date and time, and hours west of GMT (None: n/a).

    Bytes: 0 year - 2000, 1 month, 2 day, 3 weekday, 4 hour, 5 minute, 6 second (local time),
    7 time zone in hours west of Greenwich (5 = EST, 8 = PST, 22 = CEST, i.e. 2 hours east).
    """
    year, month, day, _weekday, hour, minute, second = data[:7]
    zone = data[7] if len(data) > 7 else 0xFF
    try:
        when = dt.datetime(2000 + year, month, day, hour, minute, second)
    except ValueError:
        return None
    west = None if zone > 23 else (zone if zone <= 12 else zone - 24)
    return when, west


def check_time(
    report: Report,
    observations: dict[str, Observation],
    ntp_synchronized: Callable[[], bool | None],
) -> None:
    """The coach's clock (DATE_TIME_STATUS) against the system clock, and NTP."""
    synced = ntp_synchronized()
    sync_text = {True: "NTP synchronized", False: "not NTP synchronized", None: "NTP unknown"}
    samples = [s for o in observations.values() for s in o.date_times]
    parsed = [(at, parse_date_time(data)) for at, data in samples]
    valid = [(at, value) for at, value in parsed if value is not None]
    if not valid:
        status = Status.WARN if synced is False else Status.OK
        report.add(
            "time",
            status,
            f"system clock only (no DATE_TIME_STATUS on the bus); {sync_text[synced]}",
            "the Pi has no battery clock: give it network time (timedatectl set-ntp true)"
            if synced is False
            else "",
            ntp_synchronized=synced,
        )
        return
    received_at, (when, west) = valid[-1]
    if west is None:  # local time without a zone: compare with the system's local time
        skew = (when - dt.datetime.fromtimestamp(received_at)).total_seconds()
    else:
        coach_utc = when + dt.timedelta(hours=west)
        system_utc = dt.datetime.fromtimestamp(received_at, dt.UTC).replace(tzinfo=None)
        skew = (coach_utc - system_utc).total_seconds()
    details = {"coach_time": when.isoformat(), "zone_hours_west": west,
               "skew_seconds": round(skew, 1), "ntp_synchronized": synced}  # fmt: skip
    if abs(skew) > CLOCK_SKEW_WARN_S:
        report.add(
            "time",
            Status.WARN,
            f"DATE_TIME_STATUS says {when:%Y-%m-%d %H:%M:%S}, {skew:+.0f} s from the system "
            f"clock; {sync_text[synced]}",
            "set the coach's clock from its panel, or the Pi's (timedatectl); history and "
            "schedules use the system clock",
            **details,
        )
        return
    report.add(
        "time",
        Status.OK,
        f"DATE_TIME_STATUS agrees with the system clock ({skew:+.0f} s); {sync_text[synced]}",
        **details,
    )
