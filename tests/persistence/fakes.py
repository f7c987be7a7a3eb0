"""A stand-in for the ``entities`` feature with the EntityManager/EntityService contract."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.core.entity_manager import EntityChange
from backend.services.feature_base import Feature, FeatureContext


@dataclass
class FakeEntity:
    entity_id: str
    name: str
    area: str | None = None
    hidden: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    available: bool = False
    restored: bool = False
    last_updated: float = 0.0


class FakeEntityManager:
    """Entities by id; ``change`` plays the bus; hooks as the real manager has them."""

    def __init__(self, ids: tuple[str, ...] = ("light_1", "tank_fresh")):
        self.entities = {i: FakeEntity(i, i.replace("_", " ").title()) for i in ids}
        self.listeners: list[Callable[[EntityChange], None]] = []
        self.history_provider: Any = None
        self.override_store: Any = None
        self.memory: list[tuple[str, float, dict[str, Any]]] = []

    def add_change_listener(self, callback: Callable[[EntityChange], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def _emit(self, entity: FakeEntity) -> None:
        change = EntityChange(
            entity.entity_id,
            "light",
            entity.area,
            dict(entity.state),
            entity.available,
            entity.last_updated,
            entity.restored,
        )
        for callback in list(self.listeners):
            callback(change)

    def change(self, entity_id: str, ts: float | None = None, **state: Any) -> None:
        entity = self.entities[entity_id]
        entity.state.update(state)
        entity.available, entity.restored = True, False
        entity.last_updated = time.time() if ts is None else ts
        self.memory.append((entity_id, entity.last_updated, dict(entity.state)))
        self._emit(entity)

    def history(
        self, entity_id: str, since: float | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        rows = [
            {"timestamp": ts, "state": state, "available": True}
            for eid, ts, state in self.memory
            if eid == entity_id and (since is None or ts >= since)
        ]
        return rows if limit is None else rows[-limit:]

    def restore_state(self, entity_id: str, state: dict[str, Any], last_updated: float) -> bool:
        entity = self.entities.get(entity_id)
        if entity is None or entity.available:
            return False
        entity.state, entity.restored, entity.last_updated = dict(state), True, last_updated
        self._emit(entity)
        return True

    def apply_override(
        self,
        entity_id: str,
        name: str | None = None,
        area: str | None = None,
        hidden: bool | None = None,
    ) -> FakeEntity:
        entity = self.entities[entity_id]
        if name is not None:
            entity.name = name
        if area is not None:
            entity.area = area
        if hidden is not None:
            entity.hidden = hidden
        return entity


@dataclass(frozen=True)
class FakeCommandResult:
    command_id: str
    entity_id: str
    command: dict[str, Any]
    status: str
    detail: str
    requested_at: float
    completed_at: float
    client: str | None = None


class FakeEntityService:
    def __init__(self) -> None:
        self.listeners: list[Callable[[Any], None]] = []

    def add_command_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def finish(self, result: FakeCommandResult) -> None:
        for callback in list(self.listeners):
            callback(result)


class FakeEntitiesFeature(Feature):
    """``entities`` with a FakeEntityManager and FakeEntityService."""

    def __init__(self, name: str, context: FeatureContext):
        super().__init__(name, context)
        self.entity_manager = FakeEntityManager()
        self.service = FakeEntityService()
