"""Named errors of the coach model, each carrying the HTTP status an edge translates it to."""

from __future__ import annotations

from typing import Any


class EntityError(Exception):
    """Base class of the coach model's errors; ``status_code`` is what the API answers."""

    status_code = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class EntityNotFoundError(EntityError):
    """No entity has this id (HTTP 404)."""

    status_code = 404

    def __init__(self, entity_id: str) -> None:
        super().__init__(f"no entity '{entity_id}'", entity_id=entity_id)
        self.entity_id = entity_id


class CommandValidationError(EntityError):
    """A command the entity's type does not accept, or a value out of range (HTTP 422)."""

    status_code = 422


class EntityUnavailableError(EntityError):
    """The entity has not reported within its broadcast gap, so it cannot be commanded (409)."""

    status_code = 409


class CommandTransportError(EntityError):
    """The command could not be put on the bus: queue full, unknown interface (HTTP 503)."""

    status_code = 503


class MappingError(Exception):
    """A coach mapping cannot be used; ``problems`` has one ``file:line: what`` line each."""

    def __init__(self, path: str, problems: list[str]) -> None:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"coach mapping {path} is not valid:\n  {shown}{more}")
        self.path = path
        self.problems = problems
