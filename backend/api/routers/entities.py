"""Entity routes under ``/api/entities``: list, view, command, history, unmapped, metadata."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from backend.api.errors import problem
from backend.core.dependencies import (
    get_config_service,
    get_entity_manager,
    get_entity_service,
    get_principal,
    get_security_service,
)
from backend.core.entity_errors import EntityError, EntityNotFoundError
from backend.core.entity_manager import EntityManager
from backend.core.entity_types import ENTITY_TYPES
from backend.models.entities import (
    CommandAcceptedResponse,
    EntityCommand,
    EntityMetadataResponse,
    EntityOverride,
    EntityResponse,
    HistoryResponse,
    UnknownDGNEntry,
    UnmappedEntry,
)
from backend.models.errors import error_responses
from backend.security.principal import NotAllowedError, Principal
from backend.security.service import SecurityService
from backend.services.config_service import ConfigService
from backend.services.entity_service import EntityService
from backend.services.feature_manager import FeatureNotAvailableError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/entities", tags=["entities"])

_NOT_FOUND = error_responses(s404="No such entity.")
_ERRORS = error_responses(
    s403="The caller's role or motion grant does not allow this command.",
    s404="No such entity.",
    s409="The entity is unavailable (has not reported within its gap), or a motion is refused "
    "by the coach-is-moving interlock or a device's lockout (`reason` names it).",
    s422="Unsupported command or value out of range; `allowed` lists what is allowed.",
    s429="Too many commands from this client (Stop and motion renewals are never limited).",
    s503="The command could not be queued on the CAN interface, or the entities feature is "
    "not running.",
)


def _problem(exc: EntityError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if "allowed" in exc.details:
        extra["allowed"] = exc.details["allowed"]
    if "refusal" in exc.details:  # a motion refusal (backend.safety): the reason, in words
        extra["reason"] = exc.details["refusal"]
    for key in ("lockouts", "interlock"):
        if key in exc.details:
            extra[key] = exc.details[key]
    field = exc.details.get("argument")
    if field is None and exc.status_code == 422:
        field = "command"
    return problem(exc.status_code, exc.message, field=field, **extra)


_TYPES = tuple(ENTITY_TYPES)
_FILTER_ERRORS = error_responses(s422="Unknown type or area; `allowed` lists the known ones.")


@router.get(
    "",
    response_model=list[EntityResponse],
    responses=_FILTER_ERRORS,
    summary="List entities",
)
async def list_entities(
    type: str | None = Query(
        None,
        description=f"Only this entity type: {', '.join(_TYPES)}.",
        json_schema_extra={"enum": list(_TYPES)},
    ),
    area: str | None = Query(
        None, description="Only this area id (the metadata's areas; the schema lists them)."
    ),
    q: str | None = Query(None, description="Text in the entity id or name."),
    changed_since: float | None = Query(
        None, description="Only entities changed after this time (seconds since the epoch)."
    ),
    include_hidden: bool = Query(False, description="Include hidden entities."),
    manager: EntityManager = Depends(get_entity_manager),
    service: EntityService = Depends(get_entity_service),
) -> Any:
    """Every entity with its state, availability and capabilities."""
    if type is not None and type not in ENTITY_TYPES:
        return _unknown_filter("type", type, list(_TYPES))
    if area is not None and area not in manager.areas:
        return _unknown_filter("area", area, list(manager.areas))
    return [
        service.entity_view(e) for e in manager.filter(type, area, q, changed_since, include_hidden)
    ]


def _unknown_filter(name: str, value: str, allowed: list[str]) -> JSONResponse:
    return problem(
        422,
        f"unknown {name} {value!r}; {name}s: {', '.join(allowed)}",
        field=f"query.{name}",
        allowed=allowed,
    )


@router.get("/metadata", response_model=EntityMetadataResponse, summary="Types and commands")
async def metadata(
    service: EntityService = Depends(get_entity_service),
    config: ConfigService = Depends(get_config_service),
) -> dict[str, Any]:
    """Entity types, their commands with arguments and ranges, SI units, areas; display units."""
    return {**service.metadata(), "units_system": config.settings.units.system}


@router.get("/unmapped", response_model=list[UnmappedEntry], summary="Unclaimed instances")
async def unmapped(manager: EntityManager = Depends(get_entity_manager)) -> list[dict[str, Any]]:
    """Known DGN instances seen on the bus that no entity claims, with their last values."""
    return manager.unmapped()


@router.get("/unknown-dgns", response_model=list[UnknownDGNEntry], summary="Unknown DGNs")
async def unknown_dgns(
    manager: EntityManager = Depends(get_entity_manager),
) -> list[dict[str, Any]]:
    """DGNs seen on the bus that the RV-C specification does not define."""
    return manager.unknown_dgns()


@router.get(
    "/{entity_id}", response_model=EntityResponse, responses=_NOT_FOUND, summary="One entity"
)
async def get_entity(
    entity_id: str,
    manager: EntityManager = Depends(get_entity_manager),
    service: EntityService = Depends(get_entity_service),
) -> Any:
    """The entity with ``pending_command`` and ``last_command_result``."""
    entity = manager.get_entity(entity_id)
    if entity is None:
        return _problem(EntityNotFoundError(entity_id))
    return service.entity_view(entity)


@router.patch(
    "/{entity_id}",
    response_model=EntityResponse,
    responses=error_responses(
        s404="No such entity.",
        s503="Applied but not saved: the database is unavailable.",
    ),
    summary="Rename, move, hide",
)
async def patch_entity(
    entity_id: str,
    override: EntityOverride,
    manager: EntityManager = Depends(get_entity_manager),
    service: EntityService = Depends(get_entity_service),
) -> Any:
    """Apply a name, area or hidden flag over the mapping (kept when persistence is on)."""
    if manager.get_entity(entity_id) is None:
        return _problem(EntityNotFoundError(entity_id))
    if override.area is not None and override.area not in manager.areas:
        known = list(manager.areas)
        return problem(
            422,
            f"area: unknown area {override.area!r}; areas: {', '.join(known)}",
            field="area",
            allowed=known,
        )
    entity = manager.apply_override(entity_id, override.name, override.area, override.hidden)
    if manager.override_store is not None:
        try:
            await manager.override_store(entity_id, override.name, override.area, override.hidden)
        except Exception as exc:
            logger.warning("Override of %s applied but not saved: %s", entity_id, exc)
            return problem(
                503, f"override applied but not saved: the database is unavailable ({exc})"
            )
    return service.entity_view(entity)


@router.post(
    "/{entity_id}/command",
    status_code=202,
    response_model=CommandAcceptedResponse,
    responses=_ERRORS,
    summary="Send a command",
)
async def command(
    entity_id: str,
    request: Request,
    body: EntityCommand = Body(...),
    service: EntityService = Depends(get_entity_service),
    security: SecurityService = Depends(get_security_service),
    principal: Principal | None = Depends(get_principal),
) -> Any:
    """Send a command; 202 with a ``command_id``. The result (confirmed when the device's
    status shows it, or timed out after the command timeout) appears in the entity and on the
    WebSocket."""
    client = request.client.host if request.client else None
    payload = {k: v for k, v in body.arguments().items() if v is not None}  # null: not given
    entity = service.manager.get_entity(entity_id)
    if entity is not None:
        try:
            security.authorize(principal, entity, payload, client)
        except NotAllowedError as exc:
            return JSONResponse(exc.to_dict(), status_code=exc.status_code)
    try:
        accepted = await service.execute_command(
            entity_id, payload, client=security.command_client(principal, client)
        )
    except EntityError as exc:
        security.record_command(principal, client, entity_id, payload, str(exc.status_code))
        return _problem(exc)
    security.record_command(
        principal, client, entity_id, payload, f"accepted {accepted.command_id}"
    )
    return {
        "command_id": accepted.command_id,
        "entity_id": accepted.entity_id,
        "status": accepted.status,
        "optimistic": accepted.optimistic,
    }


@router.get(
    "/{entity_id}/history",
    response_model=HistoryResponse,
    responses=_NOT_FOUND,
    summary="History",
)
async def history(
    entity_id: str,
    since: float | None = Query(None, description="Seconds since the epoch."),
    limit: int | None = Query(None, ge=1, le=10000, description="Newest N changes."),
    manager: EntityManager = Depends(get_entity_manager),
) -> Any:
    """The entity's state changes, oldest first (from the database when persistence is on)."""
    if manager.get_entity(entity_id) is None:
        return _problem(EntityNotFoundError(entity_id))
    if manager.history_provider is not None:
        rows = await manager.history_provider(entity_id, since, None, limit or 100)
        entries = [{"timestamp": t, "state": s, "available": a} for t, s, a in rows]
        return {"entity_id": entity_id, "source": "database", "entries": entries}
    entries = manager.history(entity_id, since=since, limit=limit)
    return {"entity_id": entity_id, "source": "memory", "entries": entries}


COMMAND_PATH = "/api/entities/{entity_id}/command"


def command_route_text(command_timeout: float, motor_run_seconds: int) -> str:
    """The command route's OpenAPI description with the app's settings in it."""
    return (
        "Send a command; 202 with a `command_id`. The command is **confirmed** when the "
        "device's status shows the requested state, or **timed out** after "
        f"{command_timeout:g} s (`COACHIQ_ENTITIES__COMMAND_TIMEOUT`); the result appears in "
        "the entity (`pending_command`, `last_command_result`) and on the WebSocket. Motors "
        f"(awnings, slides, shades, roof fan lids) run for at most {motor_run_seconds} s "
        "(`COACHIQ_ENTITIES__MOTOR_RUN_SECONDS`); `stop` is always accepted. The commands of "
        "each entity type are listed in the `EntityCommand` schema."
    )


def configure_app(app: FastAPI) -> None:
    """Put the app's settings into its OpenAPI text (the router itself is shared by apps)."""
    entities = app.state.settings.entities
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # caches itself in app.openapi_schema
            operation = schema.get("paths", {}).get(COMMAND_PATH, {}).get("post")
            if operation is not None:
                operation["description"] = command_route_text(
                    entities.command_timeout, entities.motor_run_seconds
                )
        schema = app.openapi_schema or build()
        _state_areas(app, schema)
        return schema

    app.openapi = openapi


def _state_areas(app: FastAPI, schema: dict[str, Any]) -> None:
    """The ``area`` enums of the filter and of an override: the coach's areas now."""
    try:
        manager = app.state.feature_manager.get_feature("entities").entity_manager
    except FeatureNotAvailableError:
        return
    operation = schema.get("paths", {}).get("/api/entities", {}).get("get", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "area":
            parameter["schema"] = {"type": "string", "enum": list(manager.areas)}
    override = schema.get("components", {}).get("schemas", {}).get("EntityOverride", {})
    area = override.get("properties", {}).get("area")
    if area is not None:
        area["anyOf"] = [{"type": "string", "enum": list(manager.areas)}, {"type": "null"}]
