"""Dashboard routes: summary, activity feed and bulk actions under ``/api/dashboard``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from backend.api.errors import problem
from backend.core.dependencies import get_dashboard_service, get_principal, get_security_service
from backend.models.dashboard import (
    ActivityResponse,
    BulkRequest,
    BulkResponse,
    SummaryResponse,
)
from backend.models.errors import error_responses
from backend.services.dashboard_service import BulkRequestError

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])


@router.get("/summary", response_model=SummaryResponse, summary="The coach at a glance")
async def summary(service: Any = Depends(get_dashboard_service)) -> dict[str, Any]:
    """Counts by type and area, active alerts and CAN activity per interface."""
    return service.summary()


@router.get("/activity", response_model=ActivityResponse, summary="Recent activity")
async def activity(
    limit: int = Query(50, ge=1, le=1000, description="At most this many entries."),
    after: int | None = Query(None, ge=0, description="Only entries with a larger id."),
    service: Any = Depends(get_dashboard_service),
) -> dict[str, Any]:
    """Commands and results, alerts raised and cleared, availability changes; newest first."""
    return {"entries": service.activity(limit=limit, after=after), "started_at": service.started_at}


@router.post(
    "/bulk",
    response_model=BulkResponse,
    summary="One action on many entities",
    responses=error_responses(s422="No entities selected, or more than 200."),
)
async def bulk(
    body: BulkRequest,
    request: Request,
    service: Any = Depends(get_dashboard_service),
    security: Any = Depends(get_security_service),
    principal: Any = Depends(get_principal),
) -> Any:
    """Switch many entities on or off; motor loads are never included."""
    try:
        results = await service.bulk(
            body.action,
            entity_ids=body.entity_ids,
            entity_type=body.type,
            area=body.area,
            client=security.command_client(
                principal, request.client.host if request.client else None
            ),
        )
    except BulkRequestError as exc:
        return problem(422, str(exc), field="body")
    return {"action": body.action, "results": results}
