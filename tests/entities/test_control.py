"""Confirmation, timeout, NAK, supersession, motors, and the 404/409/422 errors."""

from __future__ import annotations

import asyncio

import pytest

from backend.core.entity_errors import (
    CommandTransportError,
    CommandValidationError,
    EntityNotFoundError,
    EntityUnavailableError,
)
from backend.core.entity_manager import EntityManager
from backend.safety.errors import MotionRefusedError
from backend.services.entity_service import CommandResult, EntityService
from tests.entities.conftest import Feed, Sent, make_available


@pytest.fixture
def results(service: tuple[EntityService, Sent]) -> list[CommandResult]:
    found: list[CommandResult] = []
    service[0].add_command_listener(found.append)
    return found


async def test_confirmed_when_status_shows_requested_level(
    service: tuple[EntityService, Sent], feed: Feed, results: list[CommandResult]
) -> None:
    svc, _ = service
    feed(0x19FEDA83, "02 FF 00 FC FF 03 FF FF")  # galley light off
    accepted = await svc.execute_command(
        "light.galley_ceiling", {"command": "set", "brightness": 40}
    )
    feed(0x19FEDA83, "02 FF 28 FC FF 00 FF FF")  # 20 % on the way: not yet
    assert results == []
    feed(0x19FEDA83, "02 FF 50 FC FF 00 FF FF")  # 40 %
    assert [(r.command_id, r.status) for r in results] == [(accepted.command_id, "confirmed")]
    assert svc.pending_command("light.galley_ceiling") is None
    assert svc.last_command_result("light.galley_ceiling")["status"] == "confirmed"  # type: ignore[index]


async def test_confirmed_when_already_in_state_and_device_repeats_status(
    service: tuple[EntityService, Sent], feed: Feed, results: list[CommandResult]
) -> None:
    svc, _ = service
    feed(0x19FEDA83, "02 FF 50 FC FF 00 FF FF")
    await svc.execute_command("light.galley_ceiling", {"command": "set", "brightness": 40})
    feed(0x19FEDA83, "02 FF 50 FC FF 00 FF FF")  # the device answers with its (same) status
    assert [r.status for r in results] == ["confirmed"]


async def test_timed_out_without_matching_status(
    service: tuple[EntityService, Sent], feed: Feed, results: list[CommandResult]
) -> None:
    svc, _ = service
    feed(0x19FFDC40, "00 5E 01 00 00 FF FF FF")  # generator stopped
    await svc.execute_command("generator.main", {"command": "start"})
    assert svc.pending_command("generator.main") is not None
    await asyncio.sleep(0.3)  # command_timeout is 0.2 s in these tests
    assert [r.status for r in results] == ["timed_out"]
    assert "0.2 s" in results[0].detail
    assert svc.pending_command("generator.main") is None


async def test_generator_start_confirmed_by_preheat(
    service: tuple[EntityService, Sent], feed: Feed, results: list[CommandResult]
) -> None:
    svc, _ = service
    feed(0x19FFDC40, "00 5E 01 00 00 FF FF FF")
    await svc.execute_command("generator.main", {"command": "start"})
    feed(0x19FFDC40, "01 5E 01 00 00 FF FF FF")  # status 1 = preheat
    assert [r.status for r in results] == ["confirmed"]


async def test_nak_rejects_the_command(
    rvc, service: tuple[EntityService, Sent], feed: Feed, results: list[CommandResult]
) -> None:
    svc, _ = service
    feed(0x19FEF95A, "01 FF FF FF FF FF FF FF")  # THERMOSTAT_COMMAND_1 is not status: ignored
    feed(0x19FFE258, "01 C0 64 A0 24 20 25 FF")  # thermostat front, mode off
    await svc.execute_command("thermostat.front", {"command": "set_mode", "mode": "heat"})
    # The same NAK addressed to another node (0x80) is not CoachIQ's business.
    svc.on_acknowledgment(rvc.decode(0x18E88058, bytes.fromhex("0301FFFF80F9FE01")))
    assert results == []
    # ACKNOWLEDGMENT to 0xF9 from 0x58: code 3 (conditions do not allow), instance 1, DGN 1FEF9
    svc.on_acknowledgment(rvc.decode(0x18E8F958, bytes.fromhex("0301FFFF58F9FE01")))
    assert [(r.status, r.code) for r in results] == [("rejected", 3)]
    assert "NAK 3 (conditions do not allow)" in results[0].detail
    assert svc.last_command_result("thermostat.front")["code"] == 3


async def test_newer_command_supersedes(
    service: tuple[EntityService, Sent], feed: Feed, results: list[CommandResult]
) -> None:
    svc, _ = service
    feed(0x19FEDA83, "02 FF 00 FC FF 03 FF FF")
    first = await svc.execute_command("light.galley_ceiling", {"command": "set", "brightness": 40})
    await svc.execute_command("light.galley_ceiling", {"command": "set", "brightness": 80})
    assert [(r.command_id, r.status) for r in results] == [(first.command_id, "failed")]
    assert "superseded" in results[0].detail


async def test_errors(service: tuple[EntityService, Sent], manager: EntityManager) -> None:
    svc, sent = service
    with pytest.raises(EntityNotFoundError):
        await svc.execute_command("light.nowhere", {"command": "toggle"})
    with pytest.raises(EntityUnavailableError, match="has not reported"):
        await svc.execute_command("light.galley_ceiling", {"command": "toggle"})
    make_available(manager, "light.galley_ceiling", "light.bathroom_vanity", "tank.lpg")
    with pytest.raises(CommandValidationError, match="0 to 100") as info:
        await svc.execute_command("light.galley_ceiling", {"command": "set", "brightness": 150})
    assert info.value.status_code == 422
    with pytest.raises(CommandValidationError, match="accepts: set, toggle, brightness_up"):
        await svc.execute_command("light.galley_ceiling", {"command": "extend"})
    with pytest.raises(CommandValidationError, match="dimmable"):
        await svc.execute_command("light.bathroom_vanity", {"command": "brightness_up"})
    with pytest.raises(CommandValidationError, match="dimmable"):
        await svc.execute_command("light.bathroom_vanity", {"command": "set", "brightness": 50})
    with pytest.raises(CommandValidationError, match="read-only"):
        await svc.execute_command("tank.lpg", {"command": "set"})
    with pytest.raises(CommandValidationError, match="unknown argument 'level'"):
        await svc.execute_command("light.galley_ceiling", {"command": "set", "level": 5})
    with pytest.raises(CommandValidationError, match="must be ISO 8601 local time in 2000-2250"):
        make_available(manager, "datetime.coach")
        await svc.execute_command("datetime.coach", {"command": "set", "datetime": "noon"})
    assert sent.frames == []


async def test_stop_is_always_accepted(service: tuple[EntityService, Sent]) -> None:
    svc, sent = service
    await svc.execute_command("awning.patio", {"command": "stop"})  # never reported
    assert sent.data == ["01 FF 00 FF FF FF FF FF"]


async def test_native_motor_runs_while_held_then_stops(
    rvc, manager: EntityManager, feed: Feed
) -> None:
    """Hold-to-run: renewed every 150 ms the motor repeats every 100 ms up to the 1 s cap."""
    from backend.core.config import EntitiesSettings

    sent = Sent()
    svc = EntityService(
        manager,
        rvc.encoder.encode,
        sent,
        EntitiesSettings(motor_run_seconds=1),
        source_address=0xF9,
    )
    try:
        feed(0x19FEF382, "01 00 00 FF FF FF FF FF")  # awning stopped, retracted
        first = await svc.execute_command("awning.patio", {"command": "extend"}, owner="t")
        refused = []
        for _ in range(9):  # 1.35 s of renewals: past the 1 s cap
            await asyncio.sleep(0.15)
            try:
                renewed = await svc.execute_command(
                    "awning.patio", {"command": "extend"}, owner="t"
                )
            except MotionRefusedError as exc:  # held past the cap: not started again
                refused.append(exc.message)
                continue
            assert renewed.command_id == first.command_id  # a renewal, not a new command
        assert refused and "ran for the maximum 1 s" in refused[0]
        await asyncio.sleep(0.3)
        extend, stop = "01 FF 01 FF FF FF FF FF", "01 FF 00 FF FF FF FF FF"
        assert sent.data[0] == extend
        capped = sent.data.index(stop)
        assert 7 <= sent.data[:capped].count(extend) <= 11  # every 100 ms for at most 1 s
        assert sent.data[-1] == stop  # the cap stopped it even though it was held
    finally:
        await svc.close()


async def test_native_motor_without_renewal_stops_after_hold_timeout(
    rvc, manager: EntityManager, feed: Feed
) -> None:
    """One ``extend`` and nothing more: Stop after the 400 ms hold timeout, no extend after."""
    sent = Sent()
    svc = EntityService(manager, rvc.encoder.encode, sent, source_address=0xF9)
    try:
        feed(0x19FEF382, "01 00 00 FF FF FF FF FF")
        await svc.execute_command("awning.patio", {"command": "extend"})
        await asyncio.sleep(0.6)
        extend, stop = "01 FF 01 FF FF FF FF FF", "01 FF 00 FF FF FF FF FF"
        assert sent.data[-1] == stop
        assert 2 <= sent.data.count(extend) <= 5  # 0, 100, 200, 300 (and 400) ms
        assert svc.motors.ended[-1]["ended"] == "hold lapsed (not renewed)"
    finally:
        await svc.close()


async def test_owner_closed_stops_its_motion(rvc, manager: EntityManager, feed: Feed) -> None:
    sent = Sent()
    svc = EntityService(manager, rvc.encoder.encode, sent, source_address=0xF9)
    try:
        feed(0x19FFE854, "01 00 00 FF FF FF FF FF")
        await svc.execute_command("slide.living", {"command": "extend"}, owner="mqtt:7")
        await asyncio.sleep(0.05)
        assert svc.owner_closed("mqtt:other") == []
        assert svc.owner_closed("mqtt:7") == ["slide.living"]
        await asyncio.sleep(0.05)
        assert sent.data[-1] == "01 FF 00 FF FF FF FF FF"
        assert svc.motors.get("slide.living") is None
    finally:
        await svc.close()


async def test_motor_stop_command_cancels_the_repetition(
    service: tuple[EntityService, Sent], feed: Feed
) -> None:
    svc, sent = service
    feed(0x19FFE854, "01 00 00 FF FF FF FF FF")
    await svc.execute_command("slide.living", {"command": "extend"})
    await asyncio.sleep(0.25)
    await svc.execute_command("slide.living", {"command": "stop"})
    count = len(sent.data)
    await asyncio.sleep(0.25)
    assert len(sent.data) == count
    assert sent.data[-1] == "01 FF 00 FF FF FF FF FF"


async def test_motion_audit_is_written_before_the_first_frame(
    service: tuple[EntityService, Sent], manager: EntityManager
) -> None:
    svc, sent = service
    make_available(manager, "awning.patio", "light.galley_ceiling")
    frames_at_audit: list[int] = []

    async def audit(entry: dict) -> None:
        frames_at_audit.append(len(sent.frames))
        assert entry["command"] == {"command": "extend"} and entry["status"] == "sent"

    svc.motion_audit = audit
    await svc.execute_command("awning.patio", {"command": "extend"})
    await svc.execute_command("light.galley_ceiling", {"command": "set", "state": "on"})
    assert frames_at_audit == [0]  # once (lights stay batched), before anything was sent
    assert sent.frames

    async def broken(entry: dict) -> None:
        raise OSError("disk full")

    svc.motion_audit = broken
    before = len(sent.frames)
    with pytest.raises(CommandTransportError, match="audit row could not be written"):
        await svc.execute_command("awning.patio", {"command": "retract"})
    assert len(sent.frames) == before
