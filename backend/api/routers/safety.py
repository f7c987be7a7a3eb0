"""Motion safety routes under ``/api/safety``: the interlock state, leases, lockouts, stop-all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from backend.core.dependencies import get_entity_service
from backend.services.entity_service import EntityService

router = APIRouter(prefix="/api/safety", tags=["safety"])


@router.get("", summary="Motion safety state")
async def safety_state(service: EntityService = Depends(get_entity_service)) -> dict[str, Any]:
    """The coach-is-moving interlock (parked or why not, the mobility status and its age), the
    active hold leases, the lockouts devices announce, the moving-with-a-load-out alert and the
    last lease ends."""
    return service.safety_view()


@router.post("/stop-all", summary="Stop every motion load")
async def stop_all(
    request: Request, service: EntityService = Depends(get_entity_service)
) -> dict[str, Any]:
    """Send ``stop`` to every slide, awning, shade, roof fan lid and other motion entity.

    Never refused by the interlock, a lockout or a pending command; each entity's result is
    listed (``sent``, or ``error`` with the reason when its frame could not be queued).
    """
    client = request.client.host if request.client else None
    results = await service.stop_all(client=client)
    return {"stopped": results, "count": sum(1 for r in results if r["status"] == "sent")}
