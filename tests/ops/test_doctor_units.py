"""The doctor's parsers and rules with values written out: iproute2 text, DATE_TIME_STATUS."""

from __future__ import annotations

import datetime as dt

from backend.ops.doctor.bus_checks import check_link, parse_date_time
from backend.ops.doctor.link import parse_ip_link
from backend.ops.doctor.report import Report
from tests.factories import make_settings

# `ip -details -statistics link show dev can0` of an MCP2515 HAT at 250 kbit/s, in the layout
# iproute2 prints it (written for this test from that layout; no CAN hardware here).
HEALTHY = (
    (
        "3: can0: <NOARP,UP,LOWER_UP,ECHO> mtu 16 qdisc pfifo_fast state UP mode DEFAULT "
        "group default qlen 10\n"
    )
    + """\
    link/can  promiscuity 0  allmulti 0 minmtu 0 maxmtu 0
    can <BERR-REPORTING> state ERROR-ACTIVE (berr-counter tx 0 rx 0) restart-ms 100
\t  bitrate 250000 sample-point 0.875
\t  tq 250 prop-seg 6 phase-seg1 7 phase-seg2 2 sjw 1 brp 2
\t  mcp251x: tseg1 3..16 tseg2 2..8 sjw 1..4 brp 1..64 brp_inc 1
\t  clock 8000000
\t  re-started bus-errors arbit-lost error-warn error-pass bus-off
\t  0          0          0          0          0          0         numtxqueues 1 numrxqueues 1
    RX:  bytes packets errors dropped  missed   mcast
        812345  101543      0       0       0       0
    TX:  bytes packets errors dropped carrier collsns
          1224     153      0       0       0       0
"""
)

BROKEN = (
    (
        "4: can1: <NOARP,UP,LOWER_UP,ECHO> mtu 16 qdisc pfifo_fast state UP mode DEFAULT "
        "group default qlen 10\n"
    )
    + """\
    link/can  promiscuity 0 minmtu 0 maxmtu 0
    can state BUS-OFF (berr-counter tx 248 rx 0) restart-ms 0
\t  bitrate 500000 sample-point 0.875
\t  tq 125 prop-seg 6 phase-seg1 7 phase-seg2 2 sjw 1
\t  clock 8000000
\t  re-started bus-errors arbit-lost error-warn error-pass bus-off
\t  0          1234       0          3          2          1
    RX: bytes  packets  errors  dropped overrun mcast
    0          0        41      0       5       0
    TX: bytes  packets  errors  dropped carrier collsns
    64         8        12      0       0       0
"""
)


def test_parse_healthy_link() -> None:
    link = parse_ip_link("can0", HEALTHY)
    assert link.admin_up and link.operstate == "UP" and link.link_type == "can"
    assert (link.can_state, link.bitrate, link.restart_ms) == ("ERROR-ACTIVE", 250000, 100)
    assert (link.berr_tx, link.berr_rx) == (0, 0)
    assert link.xstats == {"restarts": 0, "bus_errors": 0, "arbitration_lost": 0,
                           "error_warning": 0, "error_passive": 0, "bus_off": 0}  # fmt: skip
    assert link.rx == {"bytes": 812345, "packets": 101543, "errors": 0, "dropped": 0,
                       "missed": 0, "mcast": 0}  # fmt: skip
    assert link.tx["packets"] == 153
    report = Report()
    check_link(report, make_settings(), link)
    finding = report.findings[0]
    assert finding.status == "OK"
    assert finding.summary == (
        "can0 up, ERROR-ACTIVE, 250000 bit/s, restart-ms 100, error counters tx 0 rx 0"
    )


def test_bus_off_wrong_bitrate_no_restart() -> None:
    link = parse_ip_link("can1", BROKEN)
    assert (link.can_state, link.bitrate, link.restart_ms, link.berr_tx) == (
        "BUS-OFF", 500000, 0, 248,
    )  # fmt: skip
    assert link.xstats["bus_off"] == 1 and link.xstats["bus_errors"] == 1234
    assert link.rx["overrun"] == 5 and link.tx["errors"] == 12
    report = Report()
    check_link(report, make_settings(), link)
    finding = report.findings[0]
    assert finding.status == "FAIL"
    assert finding.summary.split("; ") == [
        "can1 is BUS-OFF",
        "can1 runs at 500000 bit/s, RV-C is 250000",
        "can1 has no automatic bus-off recovery (restart-ms 0)",
        "can1 went bus-off 1 times and restarted 0 times",
        "error counters tx 248 rx 0",
        "kernel counts 53 rx/tx errors and 5 dropped frames",
    ]
    assert "bitrate 250000 restart-ms 100" in finding.action


def test_down_link_fails_with_the_command_to_bring_it_up() -> None:
    text = (
        HEALTHY.replace("<NOARP,UP,LOWER_UP,ECHO>", "<NOARP,ECHO>")
        .replace("state UP", "state DOWN")
        .replace("state ERROR-ACTIVE", "state STOPPED")
    )
    report = Report()
    check_link(report, make_settings(), parse_ip_link("can0", text))
    assert report.findings[0].status == "FAIL"
    assert report.findings[0].summary == "can0 is down"
    assert "sudo ip link set can0 up type can bitrate 250000 restart-ms 100" in (
        report.findings[0].action
    )


def test_date_time_status_values_from_the_spec() -> None:
    # 2024-12-04 14:30:15 local, time zone 5 (Eastern Standard Time: 5 hours west).
    when, west = parse_date_time(bytes([24, 12, 4, 4, 14, 30, 15, 5]))  # type: ignore[misc]
    assert when == dt.datetime(2024, 12, 4, 14, 30, 15) and west == 5
    # 22 is Central European Summer Time: 2 hours east.
    assert parse_date_time(bytes([24, 7, 1, 2, 9, 0, 0, 22])) == (dt.datetime(2024, 7, 1, 9), -2)
    assert parse_date_time(bytes([24, 7, 1, 2, 9, 0, 0, 0xFF]))[1] is None  # type: ignore[index]
    assert parse_date_time(bytes([24, 13, 1, 2, 9, 0, 0, 0])) is None  # month 13
