"""``coachiq doctor``: what is wrong with this installation, one line per finding.

It checks the configuration, each interface (iproute2 on SocketCAN, then a few seconds of
listening as a separate node), addresses, mapping coverage, the clock, the disk and memory, and
asks the running server (``/readyz``) for its health, persistence and MQTT state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from backend.core.config import Settings
from backend.ops.doctor import bus_checks, host_checks
from backend.ops.doctor.link import LinkDetails, read_link
from backend.ops.doctor.listen import BusFactory, listen
from backend.ops.doctor.report import Finding, Report, Status

__all__ = ["DoctorOptions", "Finding", "Report", "Status", "run_doctor"]


@dataclass(slots=True)
class DoctorOptions:
    """How the doctor looks: listening time, whether it asks for address claims, where."""

    seconds: float = 5.0
    ask_claims: bool = True
    server_url: str | None = None
    http_timeout: float = 3.0
    bus_factories: Mapping[str, BusFactory] = field(default_factory=dict)
    link_reader: Callable[[str], LinkDetails] = read_link
    ntp_synchronized: Callable[[], bool | None] = host_checks.ntp_synchronized


def run_doctor(settings: Settings, options: DoctorOptions | None = None) -> Report:
    """Every check, in the order an owner reads them."""
    options = options or DoctorOptions()
    report = Report()
    config_ok = host_checks.check_config(report, settings)
    view = host_checks.read_server(
        options.server_url or host_checks.server_url(settings), options.http_timeout
    )
    bus_checks.check_bitrate_setting(report, settings)
    if settings.can.bustype == "socketcan":
        for channel in settings.can.interfaces:
            if not channel.startswith("replay:"):
                bus_checks.check_link(report, settings, options.link_reader(channel))
    observations = listen(
        settings.can,
        options.seconds,
        ask_claims=options.ask_claims,
        bus_factories=options.bus_factories,
    )
    for observation in observations.values():
        bus_checks.check_traffic(report, settings, observation)
        bus_checks.check_addresses(report, settings, observation, view.reachable)
    if config_ok:
        bus_checks.check_mapping(report, settings, observations)
    bus_checks.check_time(report, observations, options.ntp_synchronized)
    host_checks.check_disk(report, settings)
    host_checks.check_memory(report)
    host_checks.check_server(report, view)
    host_checks.check_persistence(report, settings, view)
    host_checks.check_mqtt(report, settings, view)
    return report
