"""Diagnostics routes: the active DM_RV faults of every device (``/api/diagnostics``) and, with
persistence on, every fault's life (``/api/diagnostics/history``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from backend.core.dependencies import get_dashboard_service, get_persistence_service
from backend.models.dashboard import DiagnosticsResponse, FaultHistoryResponse
from backend.services.diagnostics import FMI_MEANINGS, decode_spn
from backend.services.persistence_service import PersistenceService
from backend.services.repositories import FaultLife

router = APIRouter(prefix="/api", tags=["dashboard"])


@router.get("/diagnostics", response_model=DiagnosticsResponse, summary="Active device faults")
async def diagnostics(service: Any = Depends(get_dashboard_service)) -> dict[str, Any]:
    """Active DM_RV faults: source, device, DSA, SPN and FMI with their names, lamps, times."""
    return service.diagnostics()


def _entry(life: FaultLife) -> dict[str, Any]:
    return {
        "fault_id": life.fault_id,
        "source": life.source,
        "dsa": life.dsa,
        "dsa_extension": life.dsa_extension,
        **decode_spn(life.spn_raw, life.dsa),
        "fmi": life.fmi,
        "fmi_meaning": FMI_MEANINGS.get(life.fmi, "Reserved"),
        "occurrence_count": life.occurrence_count,
        "red_lamp": life.red_lamp,
        "yellow_lamp": life.yellow_lamp,
        "severity": "critical" if life.red_lamp else "warning",
        "entity_ids": list(life.entities),
        "first_seen": life.first_seen,
        "last_seen": life.last_seen,
        "active": life.cleared_at is None,
        "cleared_at": life.cleared_at,
        "cleared_reason": life.cleared_reason,
    }


@router.get(
    "/diagnostics/history",
    response_model=FaultHistoryResponse,
    summary="Fault history",
    description=(
        "Every DM_RV fault's life kept in the database: when it became active (`first_seen`), "
        "its last occurrence count and lamps, and when it cleared (`cleared_at`, null while "
        "active). A fault is listed when its life overlaps `since`..`until` (an `until` before "
        "`since` is an empty window); newest first. "
        "Faults that cleared longer ago than `COACHIQ_PERSISTENCE__HISTORY_RETENTION_DAYS` are "
        "pruned. 503 when persistence is off (faults are then only in `GET /api/diagnostics`)."
    ),
)
async def fault_history(
    since: float | None = Query(
        None, ge=0, description="Seconds since the epoch: faults active at or after this time."
    ),
    until: float | None = Query(
        None, ge=0, description="Seconds since the epoch: faults that became active by then."
    ),
    source: int | None = Query(None, ge=0, le=255, description="Only this source address."),
    active: bool | None = Query(
        None, description="true: only faults still active; false: only cleared ones."
    ),
    limit: int = Query(100, ge=1, le=10000, description="Newest N faults."),
    service: PersistenceService = Depends(get_persistence_service),
) -> Any:
    """Stored DM_RV fault lives, newest first."""
    lives = await service.fault_history(
        since=since, until=until, source=source, active=active, limit=limit
    )
    faults = [_entry(life) for life in lives]
    return {
        "faults": faults,
        "count": len(faults),
        "since": since,
        "until": until,
        "limit": limit,
        "retention_days": service.retention_days,
    }
