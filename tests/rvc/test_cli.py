"""``coachiq decode`` and ``coachiq spec``: formats, records, summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import can
import pytest
import typer
from typer.testing import CliRunner

from backend.cli.decode import register

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)
    return application


CANDUMP_LOG = """\
(1700000000.100000) can0 19FFFD42#0164020100943577
(1700000000.200000) can0 19FFDC5D#005E010000FFFFFF
this is not a frame
(1700000000.300000) can0 18ECFF42#20150003FFEBFE00
(1700000000.350000) can0 18EBFF42#0141434D452A5158
(1700000000.400000) can0 18EBFF42#022D3132352A4134
(1700000000.450000) can0 18EBFF42#033332333434332A
"""
CANDUMP_SCREEN = """\
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
 (1700000001.000000)  can1  18EAFF44   [8]  EB FE 00 FF FF FF FF FF
  can0  19FFE096   [3]  01 00 FF
"""


def _records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_candump_log_records_and_multi_packet(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "coach.log"
    path.write_text(CANDUMP_LOG)
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert len(records) == 7  # 6 frames + the reassembled PRODUCT_ID
    first = records[0]
    assert first["timestamp"] == 1700000000.1
    assert first["interface"] == "can0"
    assert first["can_id"] == "19FFFD42"
    assert first["dgn"] == "1FFFD"
    assert first["name"] == "DC_SOURCE_STATUS_1"
    assert first["signals"]["dc_voltage"] == 12.9
    assert first["units"]["dc_voltage"] == "V"
    assert first["destination"] is None
    product = records[-1]
    assert product["name"] == "PRODUCT_ID"
    assert product["packets"] == 3
    assert product["signals"]["make"] == "ACME"
    assert f"{path}:3:" in result.stderr


def test_candump_screen_with_and_without_timestamps(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "screen.txt"
    path.write_text(CANDUMP_SCREEN)
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output
    a, b, c = _records(result.stdout)
    assert a["timestamp"] is None
    assert a["signals"]["fan_speed"] == 50.0
    assert b["timestamp"] == 1700000001.0
    assert b["interface"] == "can1"
    assert b["name"] == "DG_REQUEST"
    assert b["destination"] == 255
    assert c["data"] == "0100FF"
    assert c["signals"]["fan_speed"] is None


def test_standard_input(app: typer.Typer) -> None:
    result = runner.invoke(app, ["decode", "-"], input=CANDUMP_SCREEN)
    assert result.exit_code == 0
    assert len(_records(result.stdout)) == 3


@pytest.mark.parametrize(
    ("suffix", "writer"),
    [
        (".asc", can.ASCWriter),
        (".blf", can.BLFWriter),
        (".csv", can.CSVWriter),
        (".trc", can.TRCWriter),
    ],
)
def test_python_can_formats(app: typer.Typer, tmp_path: Path, suffix: str, writer: type) -> None:
    path = tmp_path / f"log{suffix}"
    out = writer(str(path))
    out.on_message_received(
        can.Message(
            timestamp=1700000000.5,
            arbitration_id=0x19FFFD42,
            data=bytes.fromhex("0164020100943577"),
            is_extended_id=True,
            channel=0,
        )
    )
    out.stop()
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output
    [record] = _records(result.stdout)
    assert record["name"] == "DC_SOURCE_STATUS_1"
    assert record["signals"]["dc_voltage"] == 12.9


def test_summary(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "coach.log"
    path.write_text(CANDUMP_LOG + "(1700000002.0) can0 18FEDA9F#0102\n")
    result = runner.invoke(app, ["decode", "--summary", str(path)])
    assert result.exit_code == 0, result.output
    assert "DC_SOURCE_STATUS_1" in result.stdout
    assert "0FEDA" in result.stdout  # unknown DGN
    assert "PRODUCT_ID" in result.stdout  # multi-packet messages
    assert "0x42" in result.stdout  # per source
    assert not _records(result.stdout)


def test_strict_makes_malformed_lines_fatal(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "coach.log"
    path.write_text(CANDUMP_LOG)
    result = runner.invoke(app, ["decode", "--strict", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:" in result.stderr


def test_missing_or_empty_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["decode", str(tmp_path / "nope.log")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.log'}: no such file"
    empty = tmp_path / "empty.log"
    empty.write_text("\n\n")
    result = runner.invoke(app, ["decode", str(empty)])
    assert result.exit_code == 2
    assert "no CAN frames" in result.stderr


def test_spec_listing(app: typer.Typer) -> None:
    result = runner.invoke(app, ["spec", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) >= 349
    assert {"dgn": "1FFFD", "name": "DC_SOURCE_STATUS_1", "signals": 4} in rows
    table = runner.invoke(app, ["spec"])
    assert table.exit_code == 0
    assert "DC_DIMMER_STATUS_3" in table.stdout
