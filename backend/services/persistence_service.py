"""PersistenceService and the ``persistence`` feature.

The feature prepares the data directory, starts the DatabaseManager, applies the migrations,
restores last known states and user overrides into the EntityManager, and subscribes the
HistoryWriter to entity changes and command results. The service answers the API: status,
backups, history, overrides, audit; and prunes history older than the retention once a day.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from backend.core.config import Settings
from backend.integrations.can.tasks import cancel_and_wait
from backend.services.backup import (
    BackupError,
    BackupFile,
    DataDirLock,
    apply_retention,
    backup_sqlite,
    list_backups,
)
from backend.services.database_manager import (
    BACKUP_DIRNAME,
    DatabaseManager,
    head_revision,
    prepare_directory,
    resolve_data_dir,
)
from backend.services.entity_bridge import EntityBridge
from backend.services.fault_history import FaultHistoryWriter
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus
from backend.services.feature_manager import FeatureNotAvailableError
from backend.services.history_writer import HistoryWriter
from backend.services.repositories import (
    AuditEntry,
    AuditRepository,
    FaultHistoryRepository,
    FaultLife,
    HistoryEntry,
    HistoryRepository,
    Override,
    OverrideRepository,
)

logger = logging.getLogger(__name__)

PRUNE_INTERVAL = 24 * 3600.0
PG_DUMP_HINT = (
    "backups of PostgreSQL are made with pg_dump; see docs/persistence.md "
    "(pg_dump -Fc -d URL -f coachiq.dump)"
)


class BackupNotSupportedError(BackupError):
    """The database is not a SQLite file; PostgreSQL is backed up with pg_dump."""


class PersistenceService:
    """History, overrides, audit, backups and retention over one DatabaseManager."""

    def __init__(self, settings: Settings, database: DatabaseManager, data_dir: Path | None):
        persistence = settings.persistence
        self.settings = settings
        self.database = database
        self.data_dir = data_dir
        self.backup_dir = None if data_dir is None else data_dir / BACKUP_DIRNAME
        self.writer = HistoryWriter(
            database,
            queue_size=persistence.history_queue_size,
            batch_size=persistence.history_batch_size,
            flush_interval=persistence.history_flush_interval,
        )
        self.fault_writer = FaultHistoryWriter(
            database,
            queue_size=persistence.fault_queue_size,
            flush_interval=persistence.history_flush_interval,
        )
        self._diagnostics: Any = None
        self._unsubscribe_faults: Any = None
        self.retention_days = persistence.history_retention_days
        self.backup_retention = persistence.backup_retention
        self.last_prune_at: float | None = None
        self.last_pruned = 0
        self._backup_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.database.backend

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the history and fault writers and the daily retention task."""
        self.writer.start()
        await self.fault_writer.start()
        if not self._tasks:
            task = asyncio.create_task(self._retention_loop(), name="persistence-retention")
            self._tasks.add(task)

    def attach_diagnostics(self, dashboard: Any) -> None:
        """Record the DM_RV faults of the dashboard service (``add_fault_listener``) from now on.

        The dashboard is kept to close the lives of the faults still active when the server stops.
        """
        if self._diagnostics is dashboard:
            return
        self.detach_diagnostics()
        self._diagnostics = dashboard
        self._unsubscribe_faults = dashboard.add_fault_listener(self.fault_writer.on_diagnostic)

    def detach_diagnostics(self) -> None:
        """Stop listening; the faults still active are closed as ``server_stopped``."""
        dashboard, self._diagnostics = self._diagnostics, None
        unsubscribe, self._unsubscribe_faults = self._unsubscribe_faults, None
        if unsubscribe is not None:
            unsubscribe()
        if dashboard is not None:
            self.fault_writer.on_server_stop(dashboard.active_fault_messages())

    async def stop(self) -> None:
        """Cancel and await the retention task, then stop the writers (which flush)."""
        self.detach_diagnostics()
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            await cancel_and_wait(task)
        await self.writer.stop()
        await self.fault_writer.stop()

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.prune_history()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.error("History retention failed: %s", exc)
            await asyncio.sleep(PRUNE_INTERVAL)

    async def prune_history(self, now: float | None = None) -> int:
        """Delete history (and faults that cleared) older than the retention; return how many."""
        cutoff = (now or time.time()) - self.retention_days * 86400
        async with self.database.get_session() as session:
            removed = await HistoryRepository(session).prune(cutoff)
            removed += await FaultHistoryRepository(session).prune(cutoff)
        self.last_prune_at = time.time()
        self.last_pruned = removed
        if removed:
            logger.info("Pruned %d history rows older than %d days", removed, self.retention_days)
        return removed

    # -- backups -------------------------------------------------------------------------------

    def _require_sqlite(self) -> tuple[Path, Path]:
        db_path = self.database.sqlite_path
        if db_path is None or self.backup_dir is None:
            raise BackupNotSupportedError(PG_DUMP_HINT)
        return db_path, self.backup_dir

    async def backup(self) -> BackupFile:
        """Make a backup now and apply the retention (newest N kept).

        Raises:
            BackupNotSupportedError: on PostgreSQL.
            BackupError: when the copy fails.
        """
        db_path, backup_dir = self._require_sqlite()
        async with self._backup_lock:
            await self.writer.flush()
            made = await asyncio.to_thread(backup_sqlite, db_path, backup_dir)
            removed = await asyncio.to_thread(apply_retention, backup_dir, self.backup_retention)
        logger.info("Backup %s made (%d old ones removed)", made.name, len(removed))
        return made

    def list_backups(self) -> list[BackupFile]:
        """Backups on disk, newest first (none on PostgreSQL)."""
        return [] if self.backup_dir is None else list_backups(self.backup_dir)

    # -- reads and writes for the API ----------------------------------------------------------

    async def history(
        self,
        entity_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        """Stored history of one entity, oldest first, including what is still queued."""
        await self._flush_quietly()
        async with self.database.get_session() as session:
            return await HistoryRepository(session).for_entity(
                entity_id, since=since, until=until, limit=limit
            )

    async def fault_history(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        source: int | None = None,
        active: bool | None = None,
        limit: int = 100,
    ) -> list[FaultLife]:
        """Stored fault lives overlapping the window, newest first (queued ones written first)."""
        try:
            await self.fault_writer.flush()
        except Exception as exc:
            logger.debug("Flush before read failed: %s", exc)
        async with self.database.get_session() as session:
            return await FaultHistoryRepository(session).query(
                since=since, until=until, source=source, active=active, limit=limit
            )

    async def _flush_quietly(self) -> None:
        """Write what is queued before a read; a failure is for the writer to retry."""
        try:
            await self.writer.flush()
        except Exception as exc:
            logger.debug("Flush before read failed: %s", exc)

    async def save_override(
        self,
        entity_id: str,
        *,
        name: str | None = None,
        area: str | None = None,
        hidden: bool | None = None,
    ) -> Override:
        """Store an entity's override; a field given as None keeps its stored value."""
        async with self.database.get_session() as session:
            repository = OverrideRepository(session)
            old = await repository.get(entity_id) or Override(entity_id)
            override = Override(
                entity_id,
                old.name if name is None else name,
                old.area if area is None else area,
                old.hidden if hidden is None else hidden,
                time.time(),
            )
            await repository.save(override)
        return override

    async def overrides(self) -> list[Override]:
        """Every stored override."""
        async with self.database.get_session() as session:
            return await OverrideRepository(session).all()

    async def audit(self, *, entity_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Recent command audit entries, newest first (queued ones are written first)."""
        await self._flush_quietly()
        async with self.database.get_session() as session:
            return await AuditRepository(session).recent(entity_id=entity_id, limit=limit)

    async def status(self) -> dict[str, Any]:
        """Everything /api/persistence/status reports."""
        health = await self.database.health()
        try:
            revision = await self.database.current_revision() if health.ok else None
        except Exception:
            revision = None
        db_path = self.database.sqlite_path
        size = db_path.stat().st_size if db_path is not None and db_path.exists() else None
        backups = self.list_backups()
        return {
            "enabled": True,
            "state": "running",
            "backend": self.backend,
            "database_url": self.database.redacted_url,
            "data_dir": None if self.data_dir is None else str(self.data_dir),
            "database_size_bytes": size,
            "healthy": health.ok,
            "latency_ms": health.latency_ms,
            "error": health.error,
            "schema_revision": revision,
            "schema_head": head_revision(),
            "history_retention_days": self.retention_days,
            "last_prune_at": self.last_prune_at,
            "last_pruned": self.last_pruned,
            "backup_retention": self.backup_retention,
            "backup_count": len(backups),
            "last_backup": backups[0].name if backups else None,
            "writer": self.writer.stats(),
            "fault_writer": self.fault_writer.stats(),
        }


class PersistenceFeature(Feature):
    """The ``persistence`` feature: database, migrations, entity wiring, history, backups."""

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "Persistence")
        self.service: PersistenceService | None = None
        self.database_manager: DatabaseManager | None = None
        self._lock: DataDirLock | None = None
        self._bridge: EntityBridge | None = None

    async def start(self) -> None:
        """Prepare the data directory, migrate, restore, subscribe, start writing."""
        settings = self.settings
        data_dir: Path | None = None
        if settings.database.url is None:
            data_dir = prepare_directory(resolve_data_dir(settings))
            self._lock = DataDirLock(data_dir)
            self._lock.acquire()
        database = DatabaseManager.from_settings(settings, data_dir)
        self.database_manager = database
        await database.start()
        await database.upgrade()
        service = PersistenceService(settings, database, data_dir)
        self.service = service
        entities = self._entities_feature()
        if entities is not None:
            self._bridge = EntityBridge(service, entities)
            await self._bridge.attach()
        await service.start()
        self._attach_dashboard(service)
        logger.info("Persistence on %s", database.redacted_url)

    def _attach_dashboard(self, service: PersistenceService) -> None:
        """Record DM_RV faults when the dashboard runs (else it attaches us when it starts)."""
        try:
            dashboard = self.context.feature_manager.get_feature("dashboard")
        except FeatureNotAvailableError:
            return
        dashboard_service = getattr(dashboard, "service", None)
        if dashboard_service is not None:
            service.attach_diagnostics(dashboard_service)

    def _entities_feature(self) -> Any:
        try:
            return self.context.dependency("entities")
        except Exception as exc:
            logger.warning("Persistence runs without entities: %s", exc)
            return None

    async def stop(self) -> None:
        """Unsubscribe, flush and stop the writer, close the database, free the lock."""
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge.detach()
        service = self.service
        if service is not None:
            await service.stop()
        database = self.database_manager
        if database is not None:
            await database.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def check_health(self) -> FeatureHealth:
        """Degraded while database writes fail; details carry the writer's counters."""
        if self.service is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        stats = self.service.writer.stats()
        details = {"backend": self.service.backend, **stats}
        if stats["last_error"]:
            return FeatureHealth(
                HealthStatus.DEGRADED, f"database writes failing: {stats['last_error']}", details
            )
        if not stats["running"]:
            return FeatureHealth(HealthStatus.UNHEALTHY, "history writer stopped", details)
        return FeatureHealth(HealthStatus.HEALTHY, "", details)
