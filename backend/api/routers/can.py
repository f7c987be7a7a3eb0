"""CAN routes: status, interfaces, statistics, sniffer, raw send (``/api/can``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from backend.core.dependencies import get_can_service
from backend.integrations.can.errors import (
    InterfaceUnavailableError,
    TransmitQueueFullError,
    UnknownInterfaceError,
)
from backend.models.can import (
    CANInterfacesResponse,
    CANSendRequest,
    CANSendResponse,
    CANStatisticsResponse,
    CANStatusResponse,
    SnifferGroupsResponse,
    SnifferResponse,
)

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
    try:
        dgn = int(value.strip().removeprefix("0x"), 16)
    except ValueError:
        dgn = -1
    if not 0 <= dgn <= 0x1FFFF:
        raise HTTPException(422, f"dgn: {value!r} is not a DGN in hex such as 1FFFD")
    return dgn


@router.get("/sniffer", response_model=SnifferResponse, summary="Sniffed frames")
async def can_sniffer(
    limit: int = Query(100, ge=1, le=1000, description="Frames to return (newest first)."),
    dgn: str | None = Query(None, description="Only this DGN (hex, e.g. 1FFFD)."),
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
    responses={
        422: {"description": "Bad frame or interface"},
        503: {"description": "Interface not connected (failed, reconnecting) or its queue full"},
    },
)
async def can_send(
    request: CANSendRequest, service: Any = Depends(get_can_service)
) -> dict[str, Any]:
    """Queue one raw frame on an interface (logical or physical; default house).

    A frame for an interface that is failed or reconnecting is refused at once (503 naming the
    state and the last error) rather than queued to expire unseen.
    """
    arbitration_id, data = request.frame()
    try:
        physical = service.interface_service.resolve_interface(request.interface)
        await service.send_can_message(arbitration_id, data, interface=physical)
    except UnknownInterfaceError as exc:
        raise HTTPException(422, f"interface: {exc}") from None
    except (InterfaceUnavailableError, TransmitQueueFullError) as exc:
        raise HTTPException(503, str(exc)) from None
    return {
        "status": "queued",
        "interface": physical,
        "can_id": f"{arbitration_id:08X}",
        "data": data.hex().upper(),
    }
