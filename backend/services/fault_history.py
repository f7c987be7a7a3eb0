"""FaultHistoryWriter: the life of every DM_RV fault to the database, off the receive path.

The dashboard service tells its fault listeners when a fault becomes active and when it clears
(``diagnostic_fault`` messages). ``on_diagnostic`` turns one into a :class:`FaultLife` and appends
it to a bounded deque (the oldest is dropped and counted when the database cannot keep up); a
named background task writes what is queued every ``flush_interval`` seconds. A raised fault is
a new row with ``cleared_at`` null; its clearing fills in ``cleared_at`` and the last occurrence
count, lamps and last-seen time. When the server stops with faults active, their lives are
closed with ``cleared_reason`` ``server_stopped`` at their last-seen time (and on the next start,
rows a crash left open are closed the same way).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from backend.services.database_manager import DatabaseManager
from backend.services.periodic_writer import PeriodicWriter
from backend.services.repositories import FaultHistoryRepository, FaultLife

logger = logging.getLogger(__name__)

CLEARED = "cleared"
SERVER_STOPPED = "server_stopped"


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def fault_life(record: dict[str, Any], lamps_seen: dict[str, Any] | None = None) -> FaultLife:
    """A FaultLife from a fault record of ``GET /api/diagnostics`` (or a ``diagnostic_fault``).

    A lamp is recorded lit when the record shows it lit or ``lamps_seen`` says it was lit in
    any report of the fault (a red lamp that went back to yellow stays red in the history).
    """
    seen = lamps_seen or {}
    entities = tuple(
        str(e.get("entity_id")) for e in record.get("entities") or () if isinstance(e, dict)
    )
    return FaultLife(
        fault_id=str(record["fault_id"]),
        source=int(record["source"]),
        dsa=_int_or_none(record.get("dsa")),
        spn_raw=int(record["spn_raw"]),
        fmi=int(record["fmi"]),
        first_seen=float(record["first_seen"]),
        last_seen=float(record["last_seen"]),
        dsa_extension=_int_or_none(record.get("dsa_extension")),
        occurrence_count=_int_or_none(record.get("occurrence_count")),
        red_lamp=bool(record.get("red_lamp") or seen.get("red")),
        yellow_lamp=bool(record.get("yellow_lamp") or seen.get("yellow")),
        entities=entities,
    )


def _message_life(message: dict[str, Any]) -> FaultLife | None:
    """The FaultLife of a ``diagnostic_fault`` message (None when it holds no fault record)."""
    record = message.get("fault")
    if not isinstance(record, dict):
        return None
    seen = message.get("lamps_seen")
    return fault_life(record, lamps_seen=seen if isinstance(seen, dict) else None)


class FaultHistoryWriter(PeriodicWriter):
    """Queues fault lives (bounded, drops counted) and writes them in the background."""

    label = "Fault history"

    def __init__(
        self,
        database: DatabaseManager,
        *,
        queue_size: int = 1000,
        flush_interval: float = 0.5,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(flush_interval)
        self._db = database
        self._queue: deque[FaultLife] = deque(maxlen=queue_size)
        self._clock = clock
        self.closed_at_start = 0

    # -- receive path: no awaits, no I/O -------------------------------------------------------

    def on_diagnostic(self, message: dict[str, Any]) -> None:
        """Queue a ``diagnostic_fault`` message: a fault became active or cleared."""
        life = _message_life(message)
        if life is None:
            return
        if not message.get("active"):
            life = replace(life, cleared_at=self._clock(), cleared_reason=CLEARED)
        self._append(life)

    def on_server_stop(self, messages: Iterable[dict[str, Any]]) -> None:
        """Close the lives of the faults still active as the server stops (at their last seen);
        ``messages`` are their ``diagnostic_fault`` messages."""
        for message in messages:
            life = _message_life(message)
            if life is not None:
                self._append(
                    replace(life, cleared_at=life.last_seen, cleared_reason=SERVER_STOPPED)
                )

    def _append(self, life: FaultLife) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(life)
        self.received += 1

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Fault lives waiting to be written."""
        return len(self._queue) + self._in_flight

    async def start(self) -> None:
        """Close the lives a crash left open, then start the named background task."""
        async with self._db.get_session() as session:
            self.closed_at_start = await FaultHistoryRepository(session).close_open(SERVER_STOPPED)
        if self.closed_at_start:
            logger.info("Fault history: %d faults left open were closed", self.closed_at_start)
        self._start_task("persistence-fault-writer")

    # -- writing -------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Write everything queued now, in order; return how many changes were written.

        Raises:
            Exception: the database error of a failed write (its lives are queued again).
        """
        async with self._lock:
            batch = list(self._queue)
            self._queue.clear()
            if not batch:
                return 0
            self._in_flight = len(batch)
            try:
                # One write per life: its latest change (a clear carries all a raise does).
                latest = {(life.fault_id, life.first_seen): life for life in batch}
                async with self._db.get_session() as session:
                    repository = FaultHistoryRepository(session)
                    for life in latest.values():
                        await repository.record(life)
            except BaseException as exc:
                self._in_flight = 0
                self.dropped += self._put_back(self._queue, batch)
                self._failed(exc)
                raise
            self._in_flight = 0
            self.written += len(batch)
            self.last_error = ""
            return len(batch)

    def stats(self) -> dict[str, Any]:
        """Counters for the status route."""
        return {
            "running": self.running,
            "queued": self.backlog,
            "queue_size": self._queue.maxlen,
            "received": self.received,
            "written": self.written,
            "dropped": self.dropped,
            "failed_writes": self.failed_writes,
            "closed_at_start": self.closed_at_start,
            "last_error": self.last_error,
        }
