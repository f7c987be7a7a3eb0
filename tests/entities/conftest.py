"""Fixtures of the entity tests: the real spec, mappings, a manager and a capturing service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, CoachMapping, load_mapping
from backend.core.config import EntitiesSettings
from backend.core.entity_manager import EntityManager
from backend.integrations.rvc.loader import RVCConfig, load_config_data
from backend.services.entity_service import EntityService

SOURCE = 0xF9


@pytest.fixture(scope="session")
def rvc() -> RVCConfig:
    """The real specification, decoder and encoder."""
    return load_config_data()


@pytest.fixture
def write_mapping(tmp_path: Path) -> Callable[[str], Path]:
    """Write a mapping file and return its path."""

    def write(text: str, name: str = "mapping.yml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def default_mapping(rvc: RVCConfig) -> CoachMapping:
    """The shipped default mapping (the simulated coach)."""
    return load_mapping(DEFAULT_MAPPING_PATH, rvc.spec)


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(default_mapping: CoachMapping, clock: Clock) -> EntityManager:
    """An EntityManager of the default mapping with a settable clock."""
    return EntityManager(default_mapping, clock=clock)


class Feed:
    """Decodes frames written out in a test and feeds them to a manager."""

    def __init__(self, rvc: RVCConfig, manager: EntityManager) -> None:
        self.rvc = rvc
        self.manager = manager

    def __call__(self, can_id: int, data: str) -> None:
        self.manager.ingest(self.rvc.decode(can_id, bytes.fromhex(data.replace(" ", ""))))


@pytest.fixture
def feed(rvc: RVCConfig, manager: EntityManager) -> Feed:
    return Feed(rvc, manager)


class Sent:
    """Frames the service sent, as (DGN hex, source, data hex, interface)."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, int, str, str | None]] = []

    async def __call__(
        self,
        arbitration_id: int,
        data: bytes,
        *,
        interface: str | None = None,
        entity_id: str | None = None,
        priority: bool = False,
    ) -> None:
        dgn = (arbitration_id >> 8) & 0x1FFFF
        self.frames.append((f"{dgn:05X}", arbitration_id & 0xFF, data.hex(" ").upper(), interface))

    @property
    def data(self) -> list[str]:
        return [f[2] for f in self.frames]


@pytest.fixture
async def service(
    rvc: RVCConfig, manager: EntityManager
) -> AsyncIterator[tuple[EntityService, Sent]]:
    """An EntityService over the default mapping whose frames are captured."""
    sent = Sent()
    settings = EntitiesSettings(command_timeout=0.2)
    svc = EntityService(manager, rvc.encoder.encode, sent, settings, source_address=SOURCE)
    yield svc, sent
    await svc.close()


def make_available(manager: EntityManager, *entity_ids: str, **state: Any) -> None:
    """Mark entities available (as after a status) with an optional state."""
    for entity_id in entity_ids:
        entity = manager.get_entity(entity_id)
        assert entity is not None
        entity.available = True
        entity.deadline = float("inf")
        entity.state.update(state)
