"""Server message bodies built from the domain's objects: entities, frames, command outcomes."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from backend.integrations.can.errors import CANError, TransmitQueueFullError
from backend.security.principal import NotAllowedError
from backend.services.entity_errors import (
    CommandValidationError,
    EntityError,
    EntityNotFoundError,
    EntityUnavailableError,
)

logger = logging.getLogger(__name__)

ENTITY_KEYS = ("entity_id", "name", "type", "area", "state", "available", "last_updated")


def _as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict of ``obj`` (dict, ``to_dict()``, Pydantic model, dataclass or attributes)."""
    if isinstance(obj, dict):
        return dict(obj)
    to_dict: Any = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return dict(to_dict())
    model_dump: Any = getattr(obj, "model_dump", None)
    if model_dump is not None:
        return dict(model_dump(mode="json"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def entity_record(entity: Any) -> dict[str, Any]:
    """An entity as the REST API lists it: id, name, type, area, state, availability, time."""
    if isinstance(entity, dict):
        record = dict(entity)
        if "type" not in record and "entity_type" in record:
            record["type"] = record.pop("entity_type")
        return record
    to_dict = getattr(entity, "to_dict", None)
    if callable(to_dict):
        return entity_record(to_dict())
    record = {
        "entity_id": entity.entity_id,
        "name": getattr(entity, "name", entity.entity_id),
        "type": getattr(entity, "entity_type", None),
        "area": getattr(entity, "area", None),
        "state": dict(getattr(entity, "state", {}) or {}),
        "available": bool(getattr(entity, "available", False)),
        "last_updated": getattr(entity, "last_updated", None),
    }
    capabilities = getattr(entity, "capabilities", None)
    if capabilities is not None:
        record["capabilities"] = sorted(capabilities)
    return record


def frame_message(event: Any) -> dict[str, Any]:
    """A ``frame`` message: the sniffer's record of a frame (decode record, time, way, where)."""
    decoded = event.decoded
    to_record: Any = getattr(decoded, "to_record", None)
    if to_record is not None:
        record: dict[str, Any] = to_record()
    else:
        arbitration_id = event.arbitration_id
        record = {
            "can_id": f"{arbitration_id:08X}",
            "dgn": f"{(arbitration_id >> 8) & 0x1FFFF:05X}",
            "name": None,
            "source": arbitration_id & 0xFF,
            "destination": None,
            "data": bytes(event.data).hex().upper(),
            "signals": {},
        }
    return {
        "type": "frame",
        "timestamp": event.timestamp,
        "interface": event.interface,
        "direction": event.direction,
        **record,
    }


def command_answer(
    result: Any, status: str | None = None, entity_id: str | None = None
) -> dict[str, Any]:
    """A ``command_result`` from CommandAccepted (status ``pending``) or CommandResult."""
    body = _as_dict(result)
    payload: dict[str, Any] = {"type": "command_result"}
    payload.update(body)
    payload["type"] = "command_result"
    if status is not None:
        payload["status"] = status
    payload.setdefault("status", "pending")
    if entity_id is not None:
        payload.setdefault("entity_id", entity_id)
    return payload


def _error_code(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, NotAllowedError):
        return "forbidden", 403
    if isinstance(exc, EntityNotFoundError):
        return "entity_not_found", 404
    if isinstance(exc, CommandValidationError):
        return "invalid_command", 422
    if isinstance(exc, EntityUnavailableError):
        return "entity_unavailable", 409
    if isinstance(exc, EntityError):
        return getattr(exc, "code", "command_failed"), exc.status_code
    if isinstance(exc, TransmitQueueFullError):
        return "transmit_queue_full", 503
    if isinstance(exc, CANError):
        return "can_error", 422 if isinstance(exc, ValueError) else 503
    return "internal_error", 500


def rejection(entity_id: str, exc: Exception, request_id: Any = None) -> dict[str, Any]:
    """A ``command_result`` with status ``rejected``: the same verdict REST gives, as a code."""
    code, http_status = _error_code(exc)
    if code == "internal_error":
        logger.exception("WebSocket command for %s failed", entity_id, exc_info=exc)
        message = "the command could not be processed (internal error; see the server log)"
    else:
        message = getattr(exc, "message", None) or str(exc)
    error: dict[str, Any] = {"code": code, "message": message, "http_status": http_status}
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details:
        error["details"] = details
    payload: dict[str, Any] = {
        "type": "command_result",
        "status": "rejected",
        "entity_id": entity_id,
        "error": error,
    }
    if request_id is not None:
        payload["id"] = request_id
    return payload
