"""``coachiq decode`` and ``coachiq spec``: formats, records, summary, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

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


def test_absolute_date_timestamps_of_candump_ta(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "screen.txt"
    path.write_text(
        " (2023-11-06 10:00:00.123456)  can0  19FFFD42   [8]  01 64 02 01 00 94 35 77\n"
    )
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output
    [record] = _records(result.stdout)
    assert record["timestamp"] == "2023-11-06 10:00:00.123456"
    assert record["signals"]["dc_voltage"] == 12.9


def test_format_comes_from_the_content_not_the_name(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "really-asc.log"  # an ASC file with candump's suffix
    out = can.ASCWriter(str(path))
    out.on_message_received(
        can.Message(
            timestamp=1700000000.5,
            arbitration_id=0x19FFFD42,
            data=bytes.fromhex("0164020100943577"),
            channel=0,
        )
    )
    out.stop()
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output
    [record] = _records(result.stdout)
    assert record["name"] == "DC_SOURCE_STATUS_1"


def test_standard_input_is_decoded_line_by_line_as_it_arrives() -> None:
    """``candump -L can0 | coachiq decode -``: each record is out before the next line is in."""
    program = (
        "import typer\n"
        "from backend.cli.decode import register\n"
        "app = typer.Typer()\n"
        "register(app)\n"
        "app()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", program, "decode", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    lines = CANDUMP_LOG.splitlines(keepends=True)
    try:
        # A frame, then a malformed line: the record and the report come while stdin stays open.
        proc.stdin.write(lines[0].encode())
        proc.stdin.flush()
        first = json.loads(_readline(proc.stdout))
        assert first["name"] == "DC_SOURCE_STATUS_1"
        assert first["signals"]["dc_voltage"] == 12.9
        proc.stdin.write((lines[1] + lines[2]).encode())
        proc.stdin.flush()
        assert json.loads(_readline(proc.stdout))["name"] == "GENERATOR_STATUS_1"
        assert "-:3: skipped malformed line" in _readline(proc.stderr)
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()
    proc.stderr.close()


def _readline(stream: IO[bytes], timeout: float = 20.0) -> str:
    """One line from a child's pipe, failing if it does not come within ``timeout``."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert result and result[0], "no line within the timeout: the output is not streamed"
    return result[0].decode()


@pytest.mark.parametrize(("suffix", "writer"), [(".blf", can.BLFWriter), (".asc", can.ASCWriter)])
def test_python_can_formats_on_standard_input(
    app: typer.Typer, tmp_path: Path, suffix: str, writer: type
) -> None:
    path = tmp_path / f"log{suffix}"
    out = writer(str(path))
    out.on_message_received(
        can.Message(
            timestamp=1700000000.5,
            arbitration_id=0x19FFFD42,
            data=bytes.fromhex("0164020100943577"),
            channel=0,
        )
    )
    out.stop()
    result = runner.invoke(app, ["decode", "-"], input=path.read_bytes())
    assert result.exit_code == 0, result.output
    [record] = _records(result.stdout)
    assert record["signals"]["dc_voltage"] == 12.9


def _strict_json(line: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_output_is_valid_json_whatever_the_timestamps(app: typer.Typer, tmp_path: Path) -> None:
    log = tmp_path / "junk.log"
    log.write_text(
        "(inf) can0 19FFFD42#0164020100943577\n"
        "(nan) can0 19FFFD42#0164020100943577\n"
        "(-inf) can0 19FFFD42#0164020100943577\n"
        "(1e400) can0 19FFFD42#0164020100943577\n"
        "(1700000000.5) can0 19FFFD42#0164020100943577\n"
    )
    result = runner.invoke(app, ["decode", str(log)])
    assert result.exit_code == 0, result.output
    records = [_strict_json(line) for line in result.stdout.splitlines()]
    assert [r["timestamp"] for r in records] == [None, None, None, None, 1700000000.5]
    assert [r.get("timestamp_invalid") for r in records] == ["inf", "nan", "-inf", "inf", None]
    assert all(r["signals"]["dc_voltage"] == 12.9 for r in records)


def test_more_than_8_data_bytes_is_a_malformed_line(app: typer.Typer, tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_text(
        "(1.0) can0 19FFFD42#010203040506070809\n"
        "  can0  19FFFD42   [9]  01 02 03 04 05 06 07 08 09\n"
        "(2.0) can0 19FFFD42#0164020100943577\n"
    )
    result = runner.invoke(app, ["decode", str(log)])
    assert result.exit_code == 0, result.output
    assert len(_records(result.stdout)) == 1
    assert f"{log}:1: skipped malformed line (9 data bytes: a CAN frame carries at most 8)" in (
        result.stderr
    )
    assert f"{log}:2: skipped malformed line (9 data bytes" in result.stderr


@pytest.mark.parametrize("first", [";junk", "date Mon Nov 6", "timestamp,arbitration_id", "LOGGx"])
def test_one_odd_first_line_does_not_switch_the_reader(app: typer.Typer, first: str) -> None:
    text = first + "\n" + CANDUMP_LOG
    result = runner.invoke(app, ["decode", "-"], input=text.encode())
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in _records(result.stdout)]
    assert names[:2] == ["DC_SOURCE_STATUS_1", "GENERATOR_STATUS_1"]
    assert "-:1: skipped malformed line" in result.stderr


def test_python_can_text_on_standard_input_is_streamed(tmp_path: Path) -> None:
    """An ASC log through a pipe: records come out while the input is still open."""
    path = tmp_path / "log.asc"
    out = can.ASCWriter(str(path))
    for i in range(200):
        out.on_message_received(
            can.Message(
                timestamp=1700000000.0 + i,
                arbitration_id=0x19FFFD42,
                data=bytes.fromhex("0164020100943577"),
                channel=0,
            )
        )
    out.stop()
    text = path.read_bytes()
    program = (
        "import typer\n"
        "from backend.cli.decode import register\n"
        "app = typer.Typer()\n"
        "register(app)\n"
        "app()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", program, "decode", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(text[: len(text) * 3 // 4])
        proc.stdin.flush()
        first = json.loads(_readline(proc.stdout))  # before the rest (and EOF) is written
        assert first["signals"]["dc_voltage"] == 12.9
        proc.stdin.write(text[len(text) * 3 // 4 :])
    finally:
        proc.stdin.close()
    rest = proc.stdout.read()  # before waiting: the pipe holds only so much
    assert proc.wait(timeout=30) == 0
    assert len(rest.splitlines()) == 199
    proc.stdout.close()
