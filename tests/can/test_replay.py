"""The replay channel: a recorded log played as a read-only interface with its timing."""

from __future__ import annotations

import itertools

import pytest

from backend.core.config import ConfigError, load_settings
from backend.integrations.can.errors import ReadOnlyInterfaceError, UnknownInterfaceError
from backend.integrations.can.frame_event import FrameEvent
from backend.integrations.can.replay import iter_log
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
    assert [f[1] for f in iter_log(log)] == [0x19FFFD42, 0x19FFDC5D, 0x19FEBD42]
    frames = list(iter_log(screen))
    assert frames[0] == (1700000000.0, 0x19FFE096, bytes.fromhex("0301FFFF64C8FFFF"))
    assert frames[2][0] is None and frames[2][2][0] == 1


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
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert info.value.lines[0].startswith("COACHIQ_CAN__INTERFACES: ")
    assert "no such log file" in info.value.lines[0]
    (tmp_path / "x.log").write_text(CANDUMP_LOG)
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", f"replay:{tmp_path}/x.log?speed=fast")
    with pytest.raises(ConfigError, match="speed must be a number"):
        load_settings(None)
