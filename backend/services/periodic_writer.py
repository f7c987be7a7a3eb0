"""PeriodicWriter: the background half shared by the bounded database writers.

A writer queues rows on the receive path (no awaits, no I/O) and a named background task writes
them every ``flush_interval`` seconds, backing off (doubling, at most ``MAX_BACKOFF`` s) while the
database fails. Stopping cancels the task and writes what is still queued, within a deadline.
Subclasses give :meth:`flush`, :attr:`backlog` and :attr:`label`; the counters, the record of a
failed write and putting a failed batch back in front of its queue are shared here.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from typing import Any

from backend.integrations.can.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

MAX_BACKOFF = 10.0


class PeriodicWriter(ABC):
    """A named task that flushes a writer's queue every interval; stop writes the rest."""

    label = "Writer"
    """How log lines name the writer."""

    def __init__(self, flush_interval: float) -> None:
        self._interval = flush_interval
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        """Items taken from the queue by a write that has not finished (still not written)."""
        self.received = 0
        self.written = 0
        self.dropped = 0
        self.failed_writes = 0
        self.last_error = ""

    @property
    def running(self) -> bool:
        """True while the background task runs."""
        return self._task is not None and not self._task.done()

    @property
    @abstractmethod
    def backlog(self) -> int:
        """Items queued and not yet written."""

    @abstractmethod
    async def flush(self) -> int:
        """Write what is queued; return how many items were written."""

    def _failed(self, exc: BaseException) -> None:
        """Count a failed write and log it once per distinct error (a cancellation is neither)."""
        if isinstance(exc, asyncio.CancelledError):
            return
        self.failed_writes += 1
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if message != self.last_error:
            logger.error("%s: write failed, will retry: %s", self.label, message)
        self.last_error = message

    @staticmethod
    def _put_back(queue: deque[Any], items: Sequence[Any]) -> int:
        """Put a failed batch back in front of ``queue``; what no longer fits (the oldest) is
        dropped. Returns how many were dropped, for the caller's drop counter."""
        room = (queue.maxlen or 0) - len(queue)
        keep = items[len(items) - room :] if room < len(items) else items
        queue.extendleft(reversed(keep))
        return len(items) - len(keep)

    def _start_task(self, name: str) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self, final_flush_timeout: float = 5.0) -> None:
        """Cancel and await the task, then write what is still queued. Safe to call twice."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self.backlog:
            try:
                async with asyncio.timeout(final_flush_timeout):
                    await self.flush()
            except TimeoutError:
                logger.warning("%s: %d items not written at stop", self.label, self.backlog)
            except Exception as exc:
                logger.warning("%s: final write failed: %s", self.label, exc)

    async def _run(self) -> None:
        delay = self._interval
        while True:
            await asyncio.sleep(delay)
            try:
                await self.flush()
                delay = self._interval
            except Exception:
                delay = min(max(delay * 2, self._interval), MAX_BACKOFF)
