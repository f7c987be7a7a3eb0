"""API models of the persistence routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class HistoryWriterStatus(BaseModel):
    """Counters of the history writer."""

    running: bool
    queued: int = Field(..., description="Rows waiting to be written.")
    queue_size: int | None = Field(default=None, description="Bound of the queue (oldest dropped).")
    received: int
    written: int
    dropped: int = Field(..., description="Rows dropped because the queue was full.")
    audit_written: int
    audit_dropped: int
    failed_writes: int
    last_error: str = ""
    last_write_at: float | None = Field(default=None, description="Seconds since the epoch.")


class FaultWriterStatus(BaseModel):
    """Counters of the fault history writer (DM_RV faults becoming active and clearing)."""

    running: bool
    queued: int = Field(..., description="Fault changes waiting to be written.")
    queue_size: int | None = Field(default=None, description="Bound of the queue (oldest dropped).")
    received: int
    written: int
    dropped: int = Field(..., description="Fault changes dropped because the queue was full.")
    failed_writes: int
    closed_at_start: int = Field(
        0, description="Faults left active by a server that did not stop cleanly, closed on start."
    )
    last_error: str = ""


class PersistenceStatus(BaseModel):
    """Whether persistence runs, on what database, and how the history writer keeps up."""

    enabled: bool = Field(..., examples=[True])
    state: str = Field(..., examples=["running", "disabled", "failed"])
    reason: str = ""
    backend: str | None = Field(default=None, examples=["sqlite", "postgresql"])
    database_url: str | None = Field(default=None, description="Password hidden.")
    data_dir: str | None = None
    database_size_bytes: int | None = None
    healthy: bool | None = None
    latency_ms: float | None = None
    error: str = ""
    schema_revision: str | None = None
    schema_head: str | None = None
    history_retention_days: int | None = None
    last_prune_at: float | None = None
    last_pruned: int = 0
    backup_retention: int | None = None
    backup_count: int = 0
    last_backup: str | None = None
    writer: HistoryWriterStatus | None = None
    fault_writer: FaultWriterStatus | None = None


class BackupInfo(BaseModel):
    """A backup file."""

    name: str = Field(..., examples=["coachiq-20250101T120000-000000Z.sqlite3"])
    path: str = Field(
        ...,
        description="Relative to the data directory (never an absolute path).",
        examples=["backups/coachiq-20250101T120000-000000Z.sqlite3"],
    )
    size_bytes: int
    created_at: datetime


class BackupListResponse(BaseModel):
    """Backups, newest first."""

    backups: list[BackupInfo]
    retention: int = Field(..., description="Newest N kept.")


class AuditEntryModel(BaseModel):
    """One command: who asked, what, when, and how it ended."""

    command_id: str | None = None
    entity_id: str
    command: dict[str, Any]
    status: str = Field(..., examples=["confirmed", "timed_out", "failed"])
    detail: str | None = None
    client: str | None = Field(default=None, description="Client address.")
    user: str | None = Field(default=None, description="User, once authentication exists.")
    requested_at: float = Field(..., description="Seconds since the epoch.")
    completed_at: float | None = None


class AuditResponse(BaseModel):
    """Command audit entries, newest first."""

    entries: list[AuditEntryModel]
