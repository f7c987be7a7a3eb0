"""SocketCAN link details from ``ip -details -statistics link show dev NAME`` (iproute2 text).

The text form is parsed rather than ``-json``: older iproute2 releases print the CAN state
outside the JSON object, and the text is what an owner pastes into a forum anyway.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

_CAN_STATE = re.compile(r"\bcan\s+(?:<[^>]*>\s+)?state\s+([A-Z-]+)")
_BERR = re.compile(r"berr-counter tx (\d+) rx (\d+)")
_RESTART_MS = re.compile(r"restart-ms (\d+)")
_BITRATE = re.compile(r"(?<![a-z])bitrate (\d+)")
_OPERSTATE = re.compile(r"\bstate (\S+)")
_FLAGS = re.compile(r"<([^>]*)>")


@dataclass(slots=True)
class LinkDetails:
    """What iproute2 says about one network interface (None: not reported)."""

    name: str
    exists: bool = True
    error: str = ""
    admin_up: bool = False
    operstate: str | None = None
    link_type: str | None = None
    can_state: str | None = None
    bitrate: int | None = None
    restart_ms: int | None = None
    berr_tx: int | None = None
    berr_rx: int | None = None
    xstats: dict[str, int] = field(default_factory=dict)
    rx: dict[str, int] = field(default_factory=dict)
    tx: dict[str, int] = field(default_factory=dict)
    text: str = ""


def _numbers_after(lines: list[str], header_index: int) -> list[int]:
    if header_index + 1 >= len(lines):
        return []
    values = []
    for token in lines[header_index + 1].split():
        if not token.isdigit():
            break
        values.append(int(token))
    return values


def _table(lines: list[str], marker: str) -> dict[str, int]:
    """The ``RX:``/``TX:`` header line's names zipped with the numbers on the next line."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(marker):
            names = stripped[len(marker) :].split()
            return dict(zip(names, _numbers_after(lines, index), strict=False))
    return {}


def parse_ip_link(name: str, text: str) -> LinkDetails:
    """Parse ``ip -details -statistics link show dev NAME`` output."""
    details = LinkDetails(name=name, text=text)
    lines = text.splitlines()
    if not lines:
        details.exists = False
        return details
    first = lines[0]
    flags = _FLAGS.search(first)
    details.admin_up = bool(flags and "UP" in flags.group(1).split(","))
    operstate = _OPERSTATE.search(first)
    details.operstate = operstate.group(1) if operstate else None
    for line in lines[1:3]:
        if line.strip().startswith("link/"):
            details.link_type = line.split()[0].removeprefix("link/")
    if match := _CAN_STATE.search(text):
        details.can_state = match.group(1)
    if match := _BERR.search(text):
        details.berr_tx, details.berr_rx = int(match.group(1)), int(match.group(2))
    if match := _RESTART_MS.search(text):
        details.restart_ms = int(match.group(1))
    if match := _BITRATE.search(text):
        details.bitrate = int(match.group(1))
    for index, line in enumerate(lines):
        if "re-started" in line and "bus-off" in line:
            names = ["restarts", "bus_errors", "arbitration_lost", "error_warning",
                     "error_passive", "bus_off"]  # fmt: skip
            details.xstats = dict(zip(names, _numbers_after(lines, index), strict=False))
            break
    details.rx = _table(lines, "RX:")
    details.tx = _table(lines, "TX:")
    return details


def read_link(name: str, timeout: float = 5.0) -> LinkDetails:
    """Run iproute2 for ``name``; ``exists`` False when there is no such interface."""
    ip = shutil.which("ip") or next(
        (path for path in ("/usr/sbin/ip", "/sbin/ip") if os.path.exists(path)), None
    )
    if ip is None:
        return LinkDetails(name=name, exists=False, error="iproute2's ip command is not installed")
    try:
        result = subprocess.run(
            [ip, "-details", "-statistics", "link", "show", "dev", name],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return LinkDetails(name=name, exists=False, error=f"ip failed: {exc}")
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[0]
        return LinkDetails(name=name, exists=False, error=message)
    return parse_ip_link(name, result.stdout)
