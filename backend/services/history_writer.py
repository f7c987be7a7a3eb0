"""HistoryWriter: entity changes and command results to the database, off the receive path.

``on_change`` and ``on_command`` are called from the receive loop and only append a tuple to a
bounded deque; a named background task writes what is queued every ``flush_interval`` seconds in
transactions of at most ``batch_size`` rows. When the database is slow or down the deque fills,
the oldest rows are dropped and counted, and the bus keeps flowing.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from backend.services.database_manager import DatabaseManager
from backend.services.periodic_writer import PeriodicWriter
from backend.services.repositories import (
    AuditEntry,
    AuditRepository,
    EntityStateRepository,
    HistoryRepository,
    SavedState,
)

# (entity_id, last_updated, state as JSON text, available, entity_type, area), as queued
_Row = tuple[str, Any, str, Any, str | None, str | None]
_tolerant_dumps = functools.partial(orjson.dumps, default=str, option=orjson.OPT_NON_STR_KEYS)


def _state_json(state: dict[str, Any]) -> str:
    """JSON text of a state; values JSON does not know become strings."""
    try:
        return orjson.dumps(state).decode()
    except TypeError:
        return _tolerant_dumps(state).decode()


def to_epoch(value: Any) -> float:
    """Seconds since the epoch from a float, a datetime or None (now)."""
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return getattr(value, "value", value)


def audit_entry(result: Any) -> AuditEntry:
    """An AuditEntry from an EntityService CommandResult (attributes read by name)."""
    command = _plain(getattr(result, "command", None))
    if not isinstance(command, dict):
        command = {"command": command}
    detail = getattr(result, "detail", None)
    completed = getattr(result, "completed_at", None)
    return AuditEntry(
        entity_id=str(result.entity_id),
        command=command,
        status=str(_plain(getattr(result, "status", "unknown"))),
        requested_at=to_epoch(getattr(result, "requested_at", None)),
        command_id=None if getattr(result, "command_id", None) is None else str(result.command_id),
        detail=None if detail is None else str(detail),
        client=getattr(result, "client", None),
        user=getattr(result, "user", None),
        completed_at=None if completed is None else to_epoch(completed),
    )


class HistoryWriter(PeriodicWriter):
    """Batches entity history, last known state and command audit into the database."""

    label = "History writer"

    def __init__(
        self,
        database: DatabaseManager,
        *,
        queue_size: int = 20000,
        batch_size: int = 1000,
        flush_interval: float = 0.5,
        audit_queue_size: int = 1000,
    ):
        super().__init__(flush_interval)
        self._db = database
        self._queue: deque[_Row] = deque(maxlen=queue_size)
        self._queue_size = queue_size
        self._audit: deque[AuditEntry] = deque(maxlen=audit_queue_size)
        self._batch_size = batch_size
        self.audit_written = 0
        self.audit_dropped = 0
        self.last_write_at: float | None = None

    # -- receive path: no awaits, no I/O -------------------------------------------------------

    def on_change(self, change: Any) -> None:
        """Queue an EntityChange (restored ones are skipped: they came from the database).

        The state is turned into JSON text here: the queued row is then a tuple of strings and
        numbers, which the garbage collector stops tracking, so a full queue adds no GC pauses.
        """
        if change.restored:
            return
        queue = self._queue
        if len(queue) == self._queue_size:
            self.dropped += 1
        queue.append(
            (
                change.entity_id,
                change.last_updated,
                _state_json(change.state),
                change.available,
                change.entity_type,
                change.area,
            )
        )
        self.received += 1

    def on_command(self, result: Any) -> None:
        """Queue a CommandResult for the audit trail."""
        if len(self._audit) == self._audit.maxlen:
            self.audit_dropped += 1
        self._audit.append(audit_entry(result))

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Rows not yet written: queued, plus those a write in progress holds."""
        return len(self._queue) + self._in_flight

    @property
    def backlog(self) -> int:
        """History rows and audit entries waiting to be written."""
        return len(self._queue) + len(self._audit) + self._in_flight

    def start(self) -> None:
        """Start the named background task."""
        self._start_task("persistence-history-writer")

    # -- writing -------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Write everything queued now; return the number of history rows written.

        Raises:
            Exception: the database error of a failed batch (its rows are queued again).
        """
        total = 0
        async with self._lock:
            while self._queue or self._audit:
                count = min(self._batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(count)]
                audit = [self._audit.popleft() for _ in range(len(self._audit))]
                self._in_flight = count
                try:
                    await self._write(batch, audit)
                except BaseException as exc:
                    self._in_flight = 0
                    self._requeue(batch, audit)
                    self._failed(exc)
                    raise
                self._in_flight = 0
                self.written += count
                self.audit_written += len(audit)
                self.last_write_at = time.time()
                self.last_error = ""
                total += count
        return total

    async def _write(self, batch: Sequence[_Row], audit: Sequence[AuditEntry]) -> None:
        rows = [(r[0], to_epoch(r[1]), r[2], bool(r[3])) for r in batch]
        latest = {row[0]: (queued, row) for queued, row in zip(batch, rows, strict=True)}
        states = [
            SavedState(row[0], orjson.loads(row[2]), row[1], row[3], queued[4], queued[5])
            for queued, row in latest.values()
        ]
        async with self._db.get_session() as session:
            await HistoryRepository(session).add_rows(rows)
            await EntityStateRepository(session).save_many(states)
            await AuditRepository(session).add_many(audit)

    def _requeue(self, batch: list[_Row], audit: list[AuditEntry]) -> None:
        """Put a failed batch back in front; what no longer fits (the oldest) is dropped."""
        self.dropped += self._put_back(self._queue, batch)
        self.audit_dropped += self._put_back(self._audit, audit)

    def stats(self) -> dict[str, Any]:
        """Counters for the status route."""
        return {
            "running": self.running,
            "queued": self.queued,
            "queue_size": self._queue.maxlen,
            "received": self.received,
            "written": self.written,
            "dropped": self.dropped,
            "audit_written": self.audit_written,
            "audit_dropped": self.audit_dropped,
            "failed_writes": self.failed_writes,
            "last_error": self.last_error,
            "last_write_at": self.last_write_at,
        }
