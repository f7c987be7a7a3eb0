"""Mapping routes under ``/api/mapping``: the discovery wizard, reload, edit, undo, import.

Every change is checked by the start-up loader first: a refused mapping answers 422 with one
``file:line: where: what`` line per problem and the running mapping stays.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from backend.api.errors import problem
from backend.core.dependencies import get_device_identifier, get_mapping_service, get_principal
from backend.core.entity_errors import MappingError
from backend.core.entity_manager import MappingChange
from backend.core.mapping_edit import MappingEditError
from backend.core.mapping_identify import DeviceIdentifier, IdentifyError
from backend.core.mapping_service import (
    MappingService,
    MappingWriteError,
    NoVersionError,
    device_kinds,
)
from backend.models.errors import error_responses
from backend.models.mapping import (
    DeviceGroup,
    IdentifyRequest,
    MappingChangeResponse,
    MappingText,
    NameDevice,
)
from backend.security.principal import NotAllowedError, Principal, Role

router = APIRouter(prefix="/api/mapping", tags=["mapping"])

_REFUSED = error_responses(
    s409="The mapping file cannot be written, or there is nothing to undo.",
    s422="Refused: `problems` has one `file:line: where: what` line per problem (the running "
    "mapping stays), or the request does not fit the device (`errors` names the field).",
)


def _refused(exc: MappingError) -> JSONResponse:
    return problem(
        422, f"the mapping was not applied: {exc.problems[0]}", problems=list(exc.problems)
    )


def _one_line(status: int, message: str) -> JSONResponse:
    field, sep, _ = message.partition(":")
    is_field = bool(sep) and field.isidentifier()
    return problem(status, message, field=field if is_field else None)


def _changed(
    service: MappingService, change: MappingChange, entity_id: str | None = None
) -> dict[str, Any]:
    return {
        **change.to_dict(),
        "entities": len(service.manager.get_all_entities()),
        "entity_id": entity_id,
    }


def _guarded(service: MappingService, action: Any, entity_id: str | None = None) -> Any:
    try:
        return _changed(service, action(), entity_id)
    except MappingError as exc:
        return _refused(exc)
    except (MappingWriteError, NoVersionError) as exc:
        return _one_line(409, str(exc))
    except (ValueError, MappingEditError) as exc:
        return _one_line(422, str(exc))


@router.get("", summary="The running mapping")
async def summary(service: MappingService = Depends(get_mapping_service)) -> dict[str, Any]:
    """Where the running mapping comes from, where edits go, versions kept for undo."""
    return service.summary()


@router.get("/devices", response_model=list[DeviceGroup], summary="Unmapped devices by kind")
async def devices(service: MappingService = Depends(get_mapping_service)) -> list[dict[str, Any]]:
    """Every unmapped (DGN, instance) seen, grouped by what the spec says it is, with its last
    values, when they last changed and what it can be mapped as; DGNs the specification does
    not define come last (kind ``unknown``: they cannot be mapped, only watched)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in service.manager.unmapped():
        kinds = device_kinds(record["name"])
        kind = kinds[0]["type"] if kinds else "other"
        groups.setdefault(kind, []).append({**record, "kinds": kinds})
    for record in service.manager.unknown_dgns():
        groups.setdefault("unknown", []).append(
            {
                **record,
                "name": record["dgn"],
                "instance": None,
                "changed_at": record["last_seen"],
                "signals": {"data": record.get("last_data")},
                "kinds": [],
            }
        )
    order = {k: i for i, k in enumerate(_kind_order())}
    return [
        {"kind": kind, "devices": sorted(items, key=lambda d: (d["name"], d["instance"] or 0))}
        for kind, items in sorted(groups.items(), key=lambda kv: order.get(kv[0], 999))
    ]


def _kind_order() -> list[str]:
    from backend.core.entity_types import ENTITY_TYPES

    return [*ENTITY_TYPES, "other", "unknown"]


@router.post(
    "/reload",
    response_model=MappingChangeResponse,
    responses=_REFUSED,
    summary="Reload the mapping file",
)
async def reload(service: MappingService = Depends(get_mapping_service)) -> Any:
    """Load the mapping file again and apply it in place: unchanged entities keep their state
    and history, removed ones disappear. A file that fails validation is refused (422) and the
    running mapping stays."""
    return _guarded(service, service.reload)


@router.post(
    "/entities",
    response_model=MappingChangeResponse,
    responses=_REFUSED,
    summary="Name a device (wizard)",
)
async def name_device(
    body: NameDevice, service: MappingService = Depends(get_mapping_service)
) -> Any:
    """Add the named device to the owner's mapping file and apply it at once."""
    request = body.model_dump(exclude_none=True)
    holder: dict[str, str] = {}

    def action() -> MappingChange:
        entity_id, change = service.name_device(request)
        holder["entity_id"] = entity_id
        return change

    result = _guarded(service, action)
    if isinstance(result, dict):
        result["entity_id"] = holder.get("entity_id")
    return result


@router.delete(
    "/entities/{entity_id}",
    response_model=MappingChangeResponse,
    responses={**_REFUSED, **error_responses(s404="No entity of that id in the mapping.")},
    summary="Remove an entity from the mapping",
)
async def remove_entity(
    entity_id: str, service: MappingService = Depends(get_mapping_service)
) -> Any:
    """Remove the entity from the owner's mapping file (undo brings it back)."""
    if service.manager.get_entity(entity_id) is None:
        return problem(404, f"no entity '{entity_id}' in the mapping")
    return _guarded(service, lambda: service.remove(entity_id))


@router.post("/undo", response_model=MappingChangeResponse, responses=_REFUSED, summary="Undo")
async def undo(service: MappingService = Depends(get_mapping_service)) -> Any:
    """Restore the previous mapping version and apply it."""
    return _guarded(service, service.undo)


@router.get(
    "/export",
    responses={
        200: {
            "description": "The mapping's YAML (a YAML mapping: areas, entities, ...).",
            "content": {"application/yaml": {"schema": {"type": "object"}}},
        },
        **error_responses(s409="The running mapping file cannot be read."),
    },
    summary="Download the mapping",
)
async def export(service: MappingService = Depends(get_mapping_service)) -> Any:
    """The running mapping's YAML, as a file download."""
    try:
        text = service.running_text()
    except MappingWriteError as exc:
        return _one_line(409, str(exc))
    return PlainTextResponse(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="coach_mapping.yml"'},
    )


def _text_of(body: MappingText, service: MappingService) -> str:
    if (body.text is None) == (body.example is None):
        raise ValueError("give either text (a mapping's YAML) or example (a shipped model)")
    if body.example is not None:
        return service.example_text(body.example)
    assert body.text is not None
    return body.text


@router.post(
    "/preview",
    responses=error_responses(s409="The running mapping file cannot be read."),
    summary="Check a mapping and show its differences",
)
async def preview(body: MappingText, service: MappingService = Depends(get_mapping_service)) -> Any:
    """Validate an uploaded mapping (or a shipped example) and show what applying it would
    change: a unified diff and the entity ids added, removed and changed. Nothing is applied."""
    try:
        return service.preview(_text_of(body, service))
    except ValueError as exc:
        return _one_line(422, str(exc))
    except MappingWriteError as exc:
        return _one_line(409, str(exc))


@router.post(
    "/import",
    response_model=MappingChangeResponse,
    responses=_REFUSED,
    summary="Apply an uploaded mapping",
)
async def import_mapping(
    body: MappingText, service: MappingService = Depends(get_mapping_service)
) -> Any:
    """Write an uploaded mapping (or start from a shipped example) and apply it in place; the
    previous one is kept for undo."""

    def action() -> MappingChange:
        text = _text_of(body, service)
        what = f"start from {body.example}" if body.example else "import"
        return service.apply(text, what)

    return _guarded(service, action)


_IDENTIFY_ERRORS = error_responses(
    s403="The caller lacks the motion grant (an unmapped output may drive a motor).",
    s409="Refused by the coach-is-moving interlock: `detail` names the reason.",
    s422="The device cannot be identified this way: `errors` names the field.",
)


@router.post(
    "/identify",
    status_code=202,
    summary="Blink an unmapped light or load",
    responses=_IDENTIFY_ERRORS,
)
async def identify(
    body: IdentifyRequest,
    identifier: DeviceIdentifier = Depends(get_device_identifier),
    principal: Principal | None = Depends(get_principal),
) -> Any:
    """The device switches on and off three times, then back to its previous level. Motors
    never move from here (422): watch which instance changes while using the coach's switch.

    An unmapped output may be half of a motor pair, so identify is under motion safety: it
    needs the caller's ``motion`` grant (403) and a parked coach (409 naming the reason, as for
    a slide); the blinking ends, output off, when the coach stops being parked."""
    if principal is not None and not principal.motion:
        denied = NotAllowedError(
            f"{principal.label} may not identify {body.dgn} {body.instance}: an unmapped output "
            "may drive a motor, so identify needs the motion grant (given by an admin)",
            role_needed=Role.ADMIN,
            motion_needed=True,
        )
        return JSONResponse(denied.to_dict(), status_code=denied.status_code)
    try:
        return identifier.start(body.dgn, body.instance, body.type)
    except IdentifyError as exc:
        return _one_line(exc.status_code, str(exc))
