"""The coach model's errors, for services and edges (defined in ``backend.core.entity_errors``)."""

from __future__ import annotations

from backend.core.entity_errors import (
    CommandTransportError,
    CommandValidationError,
    EntityError,
    EntityNotFoundError,
    EntityUnavailableError,
    MappingError,
)

__all__ = [
    "CommandTransportError",
    "CommandValidationError",
    "EntityError",
    "EntityNotFoundError",
    "EntityUnavailableError",
    "MappingError",
]
