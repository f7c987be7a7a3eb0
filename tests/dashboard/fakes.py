"""Fakes of the entity and CAN layers as the dashboard sees them (their published contracts)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.integrations.can.frame_event import FrameEvent


@dataclass
class FakeEntity:
    """An entity record with the keys of ``GET /api/entities``."""

    entity_id: str
    name: str
    type: str
    area: str
    state: dict[str, Any] = field(default_factory=dict)
    available: bool = True
    last_updated: float = 1.0
    capabilities: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "type": self.type,
            "area": self.area,
            "state": dict(self.state),
            "available": self.available,
            "last_updated": self.last_updated,
            "capabilities": list(self.capabilities),
            "attributes": dict(self.attributes),
        }


@dataclass
class Change:
    """An entity change record, as the EntityManager hands to change listeners."""

    entity_id: str
    entity_type: str
    area: str
    state: dict[str, Any]
    available: bool
    last_updated: float


class FakeEntityManager:
    """``get_all_entities``, ``get_entity``, ``add_change_listener`` (returns unsubscribe)."""

    def __init__(self, entities: list[FakeEntity]):
        self.entities = {e.entity_id: e for e in entities}
        self.listeners: list[Callable[[Any], None]] = []

    def get_all_entities(self) -> list[FakeEntity]:
        return list(self.entities.values())

    def get_entity(self, entity_id: str) -> FakeEntity | None:
        return self.entities.get(entity_id)

    def add_change_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def change(self, entity_id: str, state: dict[str, Any] | None = None, **fields: Any) -> None:
        """Apply a change and tell the listeners, as the real manager does."""
        entity = self.entities[entity_id]
        if state is not None:
            entity.state.update(state)
        for key, value in fields.items():
            setattr(entity, key, value)
        entity.last_updated += 1
        change = Change(
            entity.entity_id,
            entity.type,
            entity.area,
            dict(entity.state),
            entity.available,
            entity.last_updated,
        )
        for listener in list(self.listeners):
            listener(change)


class Rejected(Exception):
    """An error carrying an HTTP status, like the entity layer's named errors."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class FakeEntityService:
    """``execute_command`` (async, returns a command_id) and ``add_command_listener``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.clients: list[str | None] = []  # who asked, as the command audit records it
        self.listeners: list[Callable[[Any], None]] = []
        self.reject: dict[str, Rejected] = {}
        self._ids = itertools.count(1)

    async def execute_command(
        self,
        entity_id: str,
        command: dict[str, Any],
        *,
        client: str | None = None,
        owner: str | None = None,
    ) -> dict[str, Any]:
        if entity_id in self.reject:
            raise self.reject[entity_id]
        self.sent.append((entity_id, command))
        self.clients.append(client)
        command_id = f"cmd-{next(self._ids)}"
        self.publish(
            {
                "command_id": command_id,
                "entity_id": entity_id,
                "status": "pending",
                "command": command,
            }
        )
        return {"command_id": command_id, "entity_id": entity_id, "status": "pending"}

    def add_command_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def publish(self, result: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(result)


class FakeCANService:
    """``add_listener(callback)`` returning unsubscribe; ``emit`` hands a FrameEvent to all."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[FrameEvent], None]] = []

    def add_listener(self, callback: Callable[[FrameEvent], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def emit(self, event: FrameEvent) -> None:
        for listener in list(self.listeners):
            listener(event)


@dataclass
class Decoded:
    """The parts of a DecodedMessage the dashboard reads."""

    dgn: int
    source: int
    signals: dict[str, Any]


def frame(
    interface: str = "can0",
    dgn: int = 0x1FFB7,
    source: int = 72,
    signals: dict[str, Any] | None = None,
    direction: str = "rx",
) -> FrameEvent:
    """A received frame on ``interface``."""
    can_id = (6 << 26) | (dgn << 8) | source
    return FrameEvent(
        interface,
        direction,
        0.0,
        can_id,
        b"\x00" * 8,  # pyright: ignore
        Decoded(dgn, source, signals or {}),
    )


def coach() -> list[FakeEntity]:
    """A small coach: lights in two areas, a pump, tanks, a battery, an awning, a slide."""
    return [
        FakeEntity(
            "light.bedroom_ceiling",
            "Bedroom ceiling",
            "light",
            "bedroom",
            {"state": "on", "brightness": 60},
            capabilities=["dimmable"],
        ),
        FakeEntity(
            "light.bedroom_reading",
            "Bedroom reading",
            "light",
            "bedroom",
            {"state": "on", "brightness": 100},
        ),
        FakeEntity(
            "light.galley_ceiling",
            "Galley ceiling",
            "light",
            "galley",
            {"state": "off", "brightness": 0},
        ),
        FakeEntity("water_pump.main", "Water pump", "water_pump", "utility", {"state": "off"}),
        FakeEntity(
            "tank.black_water",
            "Black water",
            "tank",
            "utility",
            {"level": 50.0},
            attributes={"kind": "black"},
        ),
        FakeEntity(
            "tank.fresh_water",
            "Fresh water",
            "tank",
            "utility",
            {"level": 75.0},
            attributes={"kind": "fresh"},
        ),
        FakeEntity(
            "tank.lpg", "LPG", "tank", "utility", {"level": 60.0}, attributes={"kind": "lpg"}
        ),
        FakeEntity(
            "battery.house",
            "House battery",
            "battery",
            "utility",
            {"voltage": 13.2, "state_of_charge": 85.0},
        ),
        FakeEntity("awning.patio", "Patio awning", "awning", "bedroom", {"motion": "stopped"}),
        FakeEntity("slide.bedroom", "Bedroom slide", "slide", "bedroom", {"motion": "stopped"}),
        FakeEntity("shade.bedroom_night", "Night shade", "shade", "bedroom", {"motion": "stopped"}),
    ]
