"""The 409 for an unavailable entity says when its device was last heard, not when it was
marked unavailable (``last_updated`` moves then; ``last_seen`` does not)."""

from __future__ import annotations

import time

import pytest

from backend.core.coach_mapping import CoachMapping
from backend.core.entity_errors import EntityUnavailableError
from backend.core.entity_manager import EntityManager
from backend.integrations.rvc.loader import RVCConfig
from backend.services.entity_service import EntityService
from tests.entities.conftest import Clock, Sent

SEEN = time.mktime((2024, 6, 3, 14, 32, 56, 0, 0, -1))  # local 14:32:56


async def test_unavailable_reports_last_seen_time(
    rvc: RVCConfig, default_mapping: CoachMapping, clock: Clock
) -> None:
    wall = Clock()
    wall.now = SEEN
    manager = EntityManager(default_mapping, clock=clock, wall_clock=wall)
    service = EntityService(manager, rvc.encoder.encode, Sent(), source_address=0xF9)
    try:
        # galley ceiling light on at 40 %, then the same status again 3 s later (no change)
        frame = bytes.fromhex("02FF50FCFF00FFFF")
        manager.ingest(rvc.decode(0x19FEDA83, frame))
        wall.now, clock.now = SEEN + 3, clock.now + 3
        manager.ingest(rvc.decode(0x19FEDA83, frame))
        entity = manager.get_entity("light.galley_ceiling")
        assert entity is not None
        assert (entity.last_updated, entity.last_seen) == (SEEN, SEEN + 3)
        assert entity.to_dict()["last_seen"] == SEEN + 3

        wall.now, clock.now = SEEN + 600, clock.now + 600  # ten minutes of silence
        assert "light.galley_ceiling" in manager.check_availability()
        assert entity.last_updated == SEEN + 600  # the change to unavailable
        with pytest.raises(EntityUnavailableError) as caught:
            await service.execute_command("light.galley_ceiling", {"command": "toggle"})
        assert caught.value.status_code == 409
        assert caught.value.message.endswith("within the broadcast gap; last seen at 14:32:59")
    finally:
        await service.close()
