"""The replay channel: a recorded log played as a read-only interface with its timing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import can
import pytest

from backend.core.config import load_settings
from backend.integrations.can.errors import ReadOnlyInterfaceError, UnknownInterfaceError
from backend.integrations.can.frame_event import FrameEvent
from backend.integrations.can.logs import read_log_file
from backend.services.can_config import validate_can_settings
from tests.can.conftest import can_settings, wait_for

CANDUMP_LOG = """\
(1700000000.000000) can0 19FFFD42#0164020100943577
(1700000000.200000) can0 19FFDC5D#005E010000FFFFFF
(1700000000.400000) can0 19FEBD42#01C026C026FFFFFF
"""
SCREEN_TA = """\
 (1700000000.000000)  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
 (1700000000.050000)  can0  19FFE096   [8]  02 01 FF FF 64 C8 FF FF
"""


def test_log_formats_are_read(tmp_path) -> None:
    log = tmp_path / "a.log"
    log.write_text(CANDUMP_LOG + "garbage line\n")
    screen = tmp_path / "b.txt"
    screen.write_text(SCREEN_TA + "  can1  19FFE096   [8]  01 01 FF FF 64 C8 FF FF\n")
    assert [f.can_id for f in read_log_file(log)] == [0x19FFFD42, 0x19FFDC5D, 0x19FEBD42]
    frames = list(read_log_file(screen))
    assert (frames[0].seconds, frames[0].can_id, frames[0].data) == (
        1700000000.0,
        0x19FFE096,
        bytes.fromhex("0301FFFF64C8FFFF"),
    )
    assert frames[2].seconds is None and frames[2].data[0] == 1


async def test_replay_plays_with_the_recorded_timing_and_is_read_only(
    make_service, tmp_path
) -> None:
    log = tmp_path / "coach.log"
    log.write_text(CANDUMP_LOG)
    channel = f"replay:{log}?speed=2"
    service = await make_service(can_settings(interfaces=[channel]))
    events: list[FrameEvent] = []
    service.add_listener(events.append)
    await wait_for(lambda: len(events) == 3)
    assert [e.decoded.name for e in events] == [
        "DC_SOURCE_STATUS_1",
        "GENERATOR_STATUS_1",
        "INVERTER_TEMPERATURE_STATUS",
    ]
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(events)]
    assert all(0.07 <= gap <= 0.2 for gap in gaps), gaps  # 0.2 s recorded / speed 2
    status = service.interfaces_status()[0]
    assert status["read_only"] is True
    assert status["bustype"] == "replay"
    assert status["address_claim"] is None
    assert status["rx"] == 3
    with pytest.raises(ReadOnlyInterfaceError):
        await service.send_can_message(0x19FEDB9F, bytes(8), interface=channel)
    with pytest.raises(UnknownInterfaceError):  # the API's 422
        await service.send_can_message(0x19FEDB9F, bytes(8))


async def test_replay_loops(make_service, tmp_path) -> None:
    log = tmp_path / "coach.log"
    log.write_text(CANDUMP_LOG)
    service = await make_service(can_settings(interfaces=[f"replay:{log}?speed=20&loop=1"]))
    await wait_for(lambda: service.status()["rx"] >= 7)


def test_bad_replay_channels_name_the_variable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", f"replay:{tmp_path}/missing.log")
    [line] = validate_can_settings(load_settings(None))
    assert line.startswith("COACHIQ_CAN__INTERFACES: ")
    assert "no such log file" in line
    (tmp_path / "x.log").write_text(CANDUMP_LOG)
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", f"replay:{tmp_path}/x.log?speed=fast")
    [line] = validate_can_settings(load_settings(None))
    assert line.startswith("COACHIQ_CAN__INTERFACES: ")
    assert "speed must be a number" in line


async def test_candump_absolute_timestamps_replay_with_their_timing(make_service, tmp_path) -> None:
    """``candump -tA`` lines: ``(2023-11-06 10:00:00.123456) can0 19FFFD42 [8] ...``."""
    log = tmp_path / "coach.txt"
    log.write_text(
        " (2023-11-06 10:00:00.100000)  can0  19FFFD42   [8]  01 64 02 01 00 94 35 77\n"
        " (2023-11-06 10:00:00.300000)  can0  19FFDC5D   [8]  00 5E 01 00 00 FF FF FF\n"
    )
    frames = list(read_log_file(log))
    assert frames[0].seconds == datetime(2023, 11, 6, 10, 0, 0, 100000).timestamp()
    service = await make_service(can_settings(interfaces=[f"replay:{log}"]))
    events: list[FrameEvent] = []
    service.add_listener(events.append)
    await wait_for(lambda: len(events) == 2)
    assert [e.decoded.name for e in events] == ["DC_SOURCE_STATUS_1", "GENERATOR_STATUS_1"]
    assert events[0].decoded.signals["dc_voltage"] == 12.90
    assert 0.15 <= events[1].timestamp - events[0].timestamp <= 0.3  # 0.2 s recorded
    assert service.interfaces_status()[0]["state"] == "up"


async def test_asc_log_named_dot_log_is_replayed(make_service, tmp_path) -> None:
    log = tmp_path / "coach.log"  # ASC content, candump's suffix: the content decides
    writer = can.ASCWriter(str(log))
    for i, (can_id, data) in enumerate(
        [(0x19FFFD42, "0164020100943577"), (0x19FFDC5D, "005E010000FFFFFF")]
    ):
        writer.on_message_received(
            can.Message(
                timestamp=1700000000.0 + i * 0.05,
                arbitration_id=can_id,
                data=bytes.fromhex(data),
                channel=0,
            )
        )
    writer.stop()
    service = await make_service(can_settings(interfaces=[f"replay:{log}"]))
    events: list[FrameEvent] = []
    service.add_listener(events.append)
    await wait_for(lambda: len(events) == 2)
    assert [e.decoded.name for e in events] == ["DC_SOURCE_STATUS_1", "GENERATOR_STATUS_1"]


async def test_log_without_frames_fails_the_interface_with_the_reason(
    make_service, tmp_path
) -> None:
    log = tmp_path / "notes.log"
    log.write_text("this is not a CAN log\nnor is this\n")
    channel = f"replay:{log}"
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.interfaces_status()[0]["state"] == "failed")
    status = service.interfaces_status()[0]
    assert "holds no CAN frames" in status["last_error"]
    assert str(log) in status["last_error"]
    assert service.status()["state"] == "down"
    assert "holds no CAN frames" in service.health().details[channel]["last_error"]


async def test_replay_keeps_the_recorded_standard_or_extended_id(make_service, tmp_path) -> None:
    """A 29-bit id with a small value stays extended; a recorded 11-bit frame is not RV-C."""
    log = tmp_path / "mixed.log"
    log.write_text(
        "(1700000000.000000) can0 123#0102030405060708\n"  # 11-bit: skipped and counted
        "(1700000000.010000) can0 00000123#0102030405060708\n"  # 29-bit id 0x123
        "(1700000000.020000) can0 19FFFD42#0164020100943577\n"
    )
    service = await make_service(can_settings(interfaces=[f"replay:{log}"]))
    events: list[FrameEvent] = []
    service.add_listener(events.append)
    await wait_for(lambda: len(events) == 2)
    assert [e.arbitration_id for e in events] == [0x123, 0x19FFFD42]
    stats = service.statistics()
    channel = service.interface_service.names[0]
    assert stats["interfaces"][channel]["standard_skipped"] == 1
    assert stats["standard_skipped"] == 1
    assert stats["interfaces"][channel]["rx"] == 2


UNTIMED = "  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF\n"  # plain candump: no timestamp


async def test_a_log_without_timestamps_plays_at_the_stated_rate(
    make_service, tmp_path, caplog
) -> None:
    log = tmp_path / "plain.txt"
    log.write_text(UNTIMED * 20)
    service = await make_service(
        can_settings(interfaces=[f"replay:{log}?loop=1"], replay_rate=50.0)
    )
    channel = f"replay:{log}?loop=1"
    await wait_for(lambda: service.status()["rx"] >= 5)
    start = service.status()["rx"]
    await asyncio.sleep(1.0)
    played = service.status()["rx"] - start
    assert 30 <= played <= 70, played  # 50 frames/s, not flat out
    status = service.interface_service.status(channel)
    assert status["rx_dropped"] == 0
    assert status["replay"]["untimed_rate"] == 50.0
    assert status["replay"]["untimed_frames"] >= 20
    warnings = [r for r in caplog.records if "without timestamps" in r.getMessage()]
    assert len(warnings) == 1  # once, not per frame or per loop
    assert "50 frames/s" in warnings[0].getMessage()


async def test_untimed_frames_without_loop_do_not_arrive_at_once(make_service, tmp_path) -> None:
    log = tmp_path / "plain.txt"
    log.write_text(UNTIMED * 10)
    service = await make_service(can_settings(interfaces=[f"replay:{log}?rate=40"]))
    events: list[FrameEvent] = []
    service.add_listener(events.append)
    await wait_for(lambda: len(events) == 10)
    span = events[-1].timestamp - events[0].timestamp
    assert 0.15 <= span <= 0.5, span  # 9 gaps of 25 ms


async def test_broken_timestamps_and_junk_are_counted_and_never_stop_playback(
    make_service, tmp_path
) -> None:
    log = tmp_path / "broken.log"
    log.write_text(
        "junk before\n"  # line 1
        "(1700000000.000000) can0 19FFFD42#0164020100943577\n"
        "(inf) can0 19FFDC5D#005E010000FFFFFF\n"  # line 3
        "(1700000000.100000) can0 19FEBD42#01C026C026FFFFFF\n"
        "(nan) can0 19FFFD42#0164020100943577\n"  # line 5
        "more junk\n"  # line 6
        "(1e400) can0 19FFFD42#0164020100943577\n"  # line 7
        "(1699999999.000000) can0 19FFFD42#0164020100943577\n"  # line 8: backwards
        "(1699999999.100000) can0 19FFDC5D#005E010000FFFFFF\n"
    )
    channel = f"replay:{log}"
    service = await make_service(can_settings(interfaces=[channel]))
    await wait_for(lambda: service.status()["rx"] == 7, timeout=5)
    status = service.interface_service.status(channel)
    assert status["state"] == "up"
    replay = status["replay"]
    assert replay["frames"] == 7
    assert replay["malformed_lines"] == 2
    assert replay["timestamp_problems"] == 4
    problems = replay["problems"]
    assert problems[0].startswith("line 1: not a frame")
    assert "line 3: timestamp inf is not finite; played as an untimed frame" in problems
    assert any(p.startswith("line 5: timestamp nan is not finite") for p in problems)
    assert any(p.startswith("line 6: not a frame") for p in problems)
    assert any(p.startswith("line 7: timestamp inf is not finite") for p in problems)
    assert any(p.startswith("line 8: timestamp 1699999999.000000 goes back") for p in problems)


def test_coachiq_replay_plays_an_untimed_capture_at_the_rate(tmp_path) -> None:
    import json
    import subprocess
    import sys
    import time

    group, port = "239.74.163.83", 43983
    log = tmp_path / "entegra.txt"  # plain candump: the name does not matter, nor timestamps
    log.write_text("junk\n" + UNTIMED * 10)
    listener = can.Bus(interface="udp_multicast", channel=group, port=port)
    cmd = [sys.executable, "-m", "backend.cli.main", "replay", str(log), "--bustype"]
    cmd += ["udp_multicast", "--channel", group, "--bus-options", json.dumps({"port": port})]
    cmd += ["--rate", "40"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        arrivals = []
        deadline = time.monotonic() + 2
        while len(arrivals) < 10 and time.monotonic() < deadline:
            msg = listener.recv(0.2)
            if msg is not None:
                arrivals.append(msg.timestamp)
    finally:
        listener.shutdown()
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["sent"] == 10 and report["untimed_frames"] == 10
    assert report["malformed_lines"] == 1
    assert len(arrivals) == 10
    assert 0.15 <= arrivals[-1] - arrivals[0] <= 0.6  # 9 gaps of 25 ms, not all at once
