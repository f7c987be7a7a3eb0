"""Diagnostics route: the active DM_RV faults of every device (``/api/diagnostics``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from backend.core.dependencies import get_dashboard_service
from backend.models.dashboard import DiagnosticsResponse

router = APIRouter(prefix="/api", tags=["dashboard"])


@router.get("/diagnostics", response_model=DiagnosticsResponse, summary="Active device faults")
async def diagnostics(service: Any = Depends(get_dashboard_service)) -> dict[str, Any]:
    """Active DM_RV faults: source, device, DSA, SPN and FMI with their names, lamps, times."""
    return service.diagnostics()
