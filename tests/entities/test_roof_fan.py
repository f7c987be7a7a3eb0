"""The roof fan's lid (dome) is a motor: confirmed when it moves toward the target, stopped after
the motor run duration. ROOF_FAN_COMMAND_1 1FEA6 / ROOF_FAN_STATUS_1 1FEA7 (RV-C 6.46)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.core.config import EntitiesSettings
from backend.core.entity_manager import EntityManager
from backend.integrations.rvc.loader import RVCConfig
from backend.services.entity_service import CommandResult, EntityService
from tests.entities.conftest import SOURCE, Feed, Sent

STATUS = 0x19FEA78A  # ROOF_FAN_STATUS_1 from the fan's controller
# ROOF_FAN_STATUS_1 of roof_fan.bathroom (instance 1): off, manual speed (byte 1 0x10), 0 %;
# byte 3: air out (bits 0-1 00b), dome position bits 2-5, bits 6-7 11b.
LID = {
    "closed": "01 10 00 C0 FF FF FF FF",  # 0000b
    "1_4_open": "01 10 00 C4 FF FF FF FF",  # 0001b
    "1_2_open": "01 10 00 C8 FF FF FF FF",  # 0010b
    "3_4_open": "01 10 00 CC FF FF FF FF",  # 0011b
    "open": "01 10 00 D0 FF FF FF FF",  # 0100b
}
# ROOF_FAN_COMMAND_1, only the dome given (bits 2-5 of byte 3), everything else all ones:
OPEN = "01 FF FF D3 FF FF FF FF"  # 11 0100 11b: 4 = open
CLOSE = "01 FF FF C3 FF FF FF FF"  # 11 0000 11b: 0 = close
STOP = "01 FF FF D7 FF FF FF FF"  # 11 0101 11b: 5 = stop


@pytest.fixture
async def fan(
    rvc: RVCConfig, manager: EntityManager
) -> AsyncIterator[tuple[EntityService, Sent, list[CommandResult]]]:
    """A service with a 1 s motor run and a 0.5 s command timeout."""
    sent = Sent()
    settings = EntitiesSettings(command_timeout=0.5, motor_run_seconds=1)
    svc = EntityService(manager, rvc.encoder.encode, sent, settings, source_address=SOURCE)
    results: list[CommandResult] = []
    svc.add_command_listener(results.append)
    yield svc, sent, results
    await svc.close()


async def test_lid_open_is_confirmed_by_the_first_quarter(
    fan: tuple[EntityService, Sent, list[CommandResult]], feed: Feed
) -> None:
    svc, sent, results = fan
    feed(STATUS, LID["closed"])
    accepted = await svc.execute_command("roof_fan.bathroom", {"command": "set", "lid": "open"})
    assert accepted.optimistic == {"lid": "open"}
    assert sent.data == [OPEN]
    feed(STATUS, LID["1_4_open"])  # a quarter a second: moving toward open
    assert [(r.command_id, r.status) for r in results] == [(accepted.command_id, "confirmed")]
    await asyncio.sleep(1.2)
    assert sent.data == [OPEN, STOP]  # sent once, stopped after the motor run duration


async def test_lid_run_ends_early_at_the_end_of_travel(
    fan: tuple[EntityService, Sent, list[CommandResult]], feed: Feed
) -> None:
    svc, sent, results = fan
    feed(STATUS, LID["open"])
    await svc.execute_command("roof_fan.bathroom", {"command": "set", "lid": "closed"})
    feed(STATUS, LID["3_4_open"])
    assert [r.status for r in results] == ["confirmed"]
    feed(STATUS, LID["closed"])
    await asyncio.sleep(0.3)
    assert sent.data == [CLOSE, STOP]


async def test_lid_moving_away_does_not_confirm(
    fan: tuple[EntityService, Sent, list[CommandResult]], feed: Feed
) -> None:
    svc, _, results = fan
    feed(STATUS, LID["1_2_open"])
    await svc.execute_command("roof_fan.bathroom", {"command": "set", "lid": "open"})
    feed(STATUS, LID["1_4_open"])  # still closing from an earlier command
    assert results == []
    await asyncio.sleep(0.6)
    assert [r.status for r in results] == ["timed_out"]


async def test_speed_change_leaves_the_lid_run_bounded(
    fan: tuple[EntityService, Sent, list[CommandResult]], feed: Feed
) -> None:
    svc, sent, _ = fan
    feed(STATUS, LID["closed"])
    await svc.execute_command("roof_fan.bathroom", {"command": "set", "lid": "open"})
    await svc.execute_command("roof_fan.bathroom", {"command": "set", "speed": 50})
    await asyncio.sleep(1.2)
    assert sent.data == [OPEN, "01 FF 64 FF FF FF FF FF", STOP]  # 50 % = 0x64
