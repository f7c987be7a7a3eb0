"""CAN routes: status, interfaces, statistics, sniffer, raw send (``/api/can``)."""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request

from backend.api.errors import problem
from backend.core.dependencies import (
    get_can_service,
    get_entity_manager,
    get_principal,
    get_security_service,
)
from backend.integrations.can.errors import (
    InterfaceUnavailableError,
    TransmitQueueFullError,
    UnknownInterfaceError,
)
from backend.models.can import (
    DGN_PATTERN,
    CANInterfacesResponse,
    CANSendRequest,
    CANSendResponse,
    CANStatisticsResponse,
    CANStatusResponse,
    SnifferGroupsResponse,
    SnifferResponse,
)
from backend.models.errors import error_responses
from backend.security.cansend import motion_dimmer_instances, raw_send_problem
from backend.security.guard import client_of
from backend.services.can_interface_service import known_interface_names

router = APIRouter(prefix="/api/can", tags=["can"])


@router.get("/status", response_model=CANStatusResponse, summary="CAN status")
async def can_status(service: Any = Depends(get_can_service)) -> dict[str, Any]:
    """Overall state: up (all interfaces up), degraded or down, with totals."""
    return service.status()


@router.get("/interfaces", response_model=CANInterfacesResponse, summary="CAN interfaces")
async def can_interfaces(service: Any = Depends(get_can_service)) -> dict[str, Any]:
    """Each interface: channel, logical names, state, bitrate, counters, address claim."""
    return {"interfaces": service.interfaces_status()}


@router.get("/statistics", response_model=CANStatisticsResponse, summary="CAN statistics")
async def can_statistics(service: Any = Depends(get_can_service)) -> dict[str, Any]:
    """Counters, rates over 1/10/60 s, bus load, per-DGN and per-source counts."""
    return service.statistics()


def _hex_dgn(value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(DGN_PATTERN, value):
        raise HTTPException(
            422,
            {
                "detail": f"dgn: {value!r} is not a DGN in hex (0 to 1FFFF) such as 1FFFD",
                "errors": [{"field": "query.dgn", "message": "not a DGN in hex (0 to 1FFFF)"}],
            },
        )
    return int(value.lower().removeprefix("0x"), 16)


@router.get("/sniffer", response_model=SnifferResponse, summary="Sniffed frames")
async def can_sniffer(
    limit: int = Query(100, ge=1, le=1000, description="Frames to return (newest first)."),
    dgn: str | None = Query(
        None,
        description="Only this DGN (hex, 0 to 1FFFF, e.g. 1FFFD).",
        json_schema_extra={"pattern": DGN_PATTERN},
    ),
    source: int | None = Query(None, ge=0, le=255, description="Only this source address."),
    direction: Literal["rx", "tx"] | None = Query(None, description="Only rx or tx."),
    interface: str | None = Query(None, description="Only this physical interface."),
    service: Any = Depends(get_can_service),
) -> dict[str, Any]:
    """The last frames seen and sent, each a ``coachiq decode`` record."""
    filters = {
        "dgn": _hex_dgn(dgn),
        "source": source,
        "direction": direction,
        "interface": interface,
    }
    frames = service.sniffer_records(limit, filters)
    return {"frames": frames, "count": len(frames)}


@router.get("/sniffer/groups", response_model=SnifferGroupsResponse, summary="Command groups")
async def can_sniffer_groups(
    limit: int = Query(100, ge=1, le=500), service: Any = Depends(get_can_service)
) -> dict[str, Any]:
    """Command frames CoachIQ sent with the status that answered them (or expired)."""
    return service.sniffer_groups(limit)


@router.post(
    "/send",
    response_model=CANSendResponse,
    status_code=202,
    summary="Send a raw frame",
    responses=error_responses(
        s422="Bad frame or unknown interface.",
        s503="Interface not connected (failed, reconnecting) or its queue full, or the CAN "
        "feature is not running.",
    ),
)
async def can_send(
    request: CANSendRequest,
    http: Request,
    service: Any = Depends(get_can_service),
    security: Any = Depends(get_security_service),
    principal: Any = Depends(get_principal),
) -> Any:
    """Queue one raw frame on an interface (logical or physical; default house). Admin only.

    Refused (422): a source address other than CoachIQ's own, address claims, and the motion and
    chassis DGNs the motion-safety rules govern (slides, awnings, steps, leveling, shades, roof
    fans, chassis mobility; dimmer instances that drive a motor): those go through entity
    commands. A frame for an interface that is failed or reconnecting is refused at once (503
    naming the state and the last error) rather than queued to expire unseen. Every try is in the
    security audit with the frame.
    """
    arbitration_id, data = request.frame()
    frame = f"{arbitration_id:08X}#{data.hex().upper()}"

    def audit(result: str, detail: str | None = None) -> None:
        security.audit.record(
            "can_send", principal=principal.label if principal else None,
            client=client_of(http.scope), result=result, target=frame, detail=detail,
        )  # fmt: skip

    try:
        physical = service.interface_service.resolve_interface(request.interface)
        entities = _entities(http)
        why = raw_send_problem(
            arbitration_id,
            data,
            service.source_address(physical),
            motion_dimmer_instances(entities),
        )
        if why is not None:
            audit("422", why)
            return problem(422, why, field="can_id")
        await service.send_can_message(arbitration_id, data, interface=physical)
    except UnknownInterfaceError as exc:
        return problem(
            422,
            f"interface: {exc}",
            field="interface",
            allowed=service.interface_service.known_names(),
        )
    except (InterfaceUnavailableError, TransmitQueueFullError) as exc:
        audit("503", str(exc))
        return problem(503, str(exc))
    audit(f"queued on {physical}")
    return {
        "status": "queued",
        "interface": physical,
        "can_id": f"{arbitration_id:08X}",
        "data": data.hex().upper(),
    }


def _entities(http: Request) -> list[Any]:
    """The coach's entities (empty when the entities feature is not running)."""
    try:
        return list(get_entity_manager(http).get_all_entities())
    except HTTPException:
        return []


def own_source_id_pattern(source_address: int) -> str:
    """CAN_ID_PATTERN narrowed to ids whose source address (low byte) is ``source_address``."""
    digits = "".join(
        f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in f"{source_address:02X}"
    )
    return rf"^(0[xX])?0*(1[0-9A-Fa-f]{{5}}|[0-9A-Fa-f]{{0,5}}){digits}$"


def configure_app(app: FastAPI) -> None:
    """State this app's interface names and source address in the send request's schema."""
    names = known_interface_names(app.state.settings.can)
    id_pattern = own_source_id_pattern(app.state.settings.can.source_address)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            request = schema.get("components", {}).get("schemas", {}).get("CANSendRequest", {})
            interface = request.get("properties", {}).get("interface")
            if interface is not None:
                interface["anyOf"] = [{"type": "string", "enum": names}, {"type": "null"}]
            can_id = request.get("properties", {}).get("can_id")
            if can_id is not None:  # raw frames may not impersonate another node
                can_id["pattern"] = id_pattern
                can_id["description"] += (
                    " Its source address (low byte) is CoachIQ's own "
                    f"(`COACHIQ_CAN__SOURCE_ADDRESS`, {app.state.settings.can.source_address})."
                )
        return app.openapi_schema or build()

    app.openapi = openapi
