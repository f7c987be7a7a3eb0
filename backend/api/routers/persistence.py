"""Persistence routes: status, backups."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, HTTPException, Query

from backend.core.dependencies import get_feature_manager, get_persistence_service
from backend.models.persistence import (
    AuditResponse,
    BackupInfo,
    BackupListResponse,
    PersistenceStatus,
)
from backend.services.backup import BackupFile
from backend.services.database_manager import BACKUP_DIRNAME, PersistenceError
from backend.services.feature_manager import FeatureManager, FeatureNotAvailableError
from backend.services.persistence_service import BackupNotSupportedError, PersistenceService

router = APIRouter(prefix="/api/persistence", tags=["persistence"])


def _backup_info(backup: BackupFile) -> BackupInfo:
    return BackupInfo(
        name=backup.name,
        path=f"{BACKUP_DIRNAME}/{backup.name}",
        size_bytes=backup.size_bytes,
        created_at=backup.created_at,
    )


@router.get(
    "/status",
    response_model=PersistenceStatus,
    summary="Persistence status",
    description=(
        "Whether persistence is on (`enabled: false` means memory only), the database and its "
        "health, the schema revision, retention, backups and the history writer's counters "
        "(`dropped` counts rows lost because the database could not keep up)."
    ),
)
async def persistence_status(
    manager: FeatureManager = Depends(get_feature_manager),
) -> PersistenceStatus:
    """Persistence status."""
    try:
        feature = manager.get_feature("persistence")
    except FeatureNotAvailableError as exc:
        return PersistenceStatus(
            enabled=manager.is_enabled("persistence"), state=exc.state, reason=exc.reason
        )
    service: PersistenceService | None = getattr(feature, "service", None)
    if service is None:
        return PersistenceStatus(enabled=True, state="starting")
    return PersistenceStatus.model_validate(await service.status())


@router.post(
    "/backup",
    response_model=BackupInfo,
    status_code=201,
    summary="Make a backup",
    description=(
        "Copies the SQLite database with SQLite's online backup API to a timestamped file under "
        "`DATA_DIR/backups` while the server keeps running, then keeps the newest "
        "`COACHIQ_PERSISTENCE__BACKUP_RETENTION`. On PostgreSQL answers 409: use `pg_dump`."
    ),
    responses={
        409: {"description": "The database is PostgreSQL (use pg_dump)"},
        503: {"description": "Persistence is not running"},
    },
)
async def make_backup(
    service: PersistenceService = Depends(get_persistence_service),
) -> BackupInfo:
    """Make a backup."""
    try:
        return _backup_info(await service.backup())
    except BackupNotSupportedError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except PersistenceError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None


@router.get(
    "/backups",
    response_model=BackupListResponse,
    summary="List backups",
    description="Backups under `DATA_DIR/backups`, newest first. Restore one with "
    "`coachiq db restore FILE` while the server is stopped.",
    responses={503: {"description": "Persistence is not running"}},
)
async def backups(
    service: PersistenceService = Depends(get_persistence_service),
) -> BackupListResponse:
    """List backups."""
    return BackupListResponse(
        backups=[_backup_info(b) for b in service.list_backups()],
        retention=service.backup_retention,
    )


@router.get(
    "/audit",
    response_model=AuditResponse,
    summary="Command audit",
    description="Commands sent through CoachIQ, newest first: who (client address), what, when "
    "and the result. Kept in the database; 503 when persistence is off.",
    responses={503: {"description": "Persistence is not running"}},
)
async def audit(
    entity_id: str | None = Query(None, description="Only this entity's commands."),
    limit: int = Query(100, ge=1, le=10000, description="Newest N entries."),
    service: PersistenceService = Depends(get_persistence_service),
) -> AuditResponse:
    """Command audit trail."""
    entries = await service.audit(entity_id=entity_id, limit=limit)
    return AuditResponse.model_validate({"entries": [asdict(e) for e in entries]})
