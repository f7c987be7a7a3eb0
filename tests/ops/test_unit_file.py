"""The shipped systemd unit: the settings the issue asks for, and ``systemd-analyze verify``."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "coachiq.service"


def _service_section() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_unit_is_notify_with_watchdog_restart_and_hardening() -> None:
    service = _service_section()
    assert service["Type"] == ["notify"]
    assert float(service["WatchdogSec"][0]) > 0
    assert service["Restart"] == ["on-failure"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["NoNewPrivileges"] == ["true"]
    assert service["PrivateTmp"] == ["true"]
    assert service["ReadWritePaths"] == ["/var/lib/coachiq"]
    assert service["Environment"].count("COACHIQ_PERSISTENCE__DATA_DIR=/var/lib/coachiq") == 1
    # SocketCAN needs no capability: the bounding set is empty.
    assert service["CapabilityBoundingSet"] == [""]
    assert "AF_CAN" in service["RestrictAddressFamilies"][0].split()
    assert service["User"] == ["coachiq"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    script = Path(sys.executable).with_name("coachiq")
    if not script.exists():
        pytest.skip("the coachiq script is not installed in this environment")
    # verify checks that ExecStart exists: point it at this environment's script.
    text = UNIT.read_text().replace("/opt/coachiq/bin/coachiq", str(script))
    unit = tmp_path / "coachiq.service"
    unit.write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # Parse problems are warnings (exit 0): any line about our unit is a failure too.
    assert [line for line in result.stderr.splitlines() if "coachiq.service" in line] == []

    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("Type=notify", "Type=notifi"))
    result = subprocess.run(
        [analyze, "verify", str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Failed to parse service type" in result.stderr


def test_networkd_file_brings_can_up_at_250k_with_bus_off_recovery() -> None:
    parser = configparser.ConfigParser()
    parser.read(UNIT.parents[1] / "networkd" / "80-can.network")
    assert parser["Match"]["Name"].split() == ["can0", "can1"]
    assert parser["CAN"]["BitRate"] == "250K"
    assert parser["CAN"]["RestartSec"] == "100ms"
