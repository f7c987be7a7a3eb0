"""The security audit: logins, account and token changes, token use, commands, refusals.

Entries are kept in a bounded ring (oldest dropped and counted). While authentication is active
they are also appended to ``security-audit.jsonl`` in the data directory (mode 0600), which rolls
over to ``.1`` at ``max_file_bytes``, and the newest entries are read back at start.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

AUDIT_FILE = "security-audit.jsonl"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited event."""

    id: int
    time: float
    event: str
    principal: str | None
    client: str | None
    result: str
    target: str | None = None
    detail: str | None = None


class AuditLog:
    """A bounded audit trail, optionally mirrored to a file."""

    def __init__(
        self,
        size: int = 2000,
        path: Path | None = None,
        *,
        max_file_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.time,
    ):
        self._entries: deque[AuditEntry] = deque(maxlen=size)
        self._path = path
        self._max_file_bytes = max_file_bytes
        self._clock = clock
        self._next_id = 1
        self.dropped = 0
        self.write_errors = 0
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        lines: deque[str] = deque(maxlen=self._entries.maxlen)
        for name in (path.with_name(path.name + ".1"), path):
            try:
                with name.open(encoding="utf-8") as handle:
                    lines.extend(handle)
            except FileNotFoundError:
                continue
            except OSError as exc:
                logger.warning("Security audit %s not read: %s", name, exc)
        for line in lines:
            try:
                entry = AuditEntry(**json.loads(line))
            except (ValueError, TypeError):
                continue
            self._entries.append(entry)
            self._next_id = max(self._next_id, entry.id + 1)

    def record(
        self,
        event: str,
        *,
        principal: str | None,
        client: str | None,
        result: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        """Add an entry (and append it to the file when there is one)."""
        entry = AuditEntry(
            self._next_id, self._clock(), event, principal, client, result, target, detail
        )
        self._next_id += 1
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        self._entries.append(entry)
        logger.info(
            "audit %s %s by %s from %s: %s%s",
            event,
            target or "",
            principal or "-",
            client or "-",
            result,
            f" ({detail})" if detail else "",
        )
        if self._path is not None:
            self._append(entry)
        return entry

    def _append(self, entry: AuditEntry) -> None:
        assert self._path is not None
        line = json.dumps(asdict(entry), separators=(",", ":")) + "\n"
        try:
            if self._path.exists() and self._path.stat().st_size > self._max_file_bytes:
                os.replace(self._path, self._path.with_name(self._path.name + ".1"))
            fd = os.open(self._path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as exc:
            self.write_errors += 1
            logger.warning("Security audit not written to %s: %s", self._path, exc)

    def entries(
        self, *, limit: int = 100, event: str | None = None, principal: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, optionally only one event kind or one principal."""
        out = []
        for entry in reversed(self._entries):
            if event is not None and entry.event != event:
                continue
            if principal is not None and entry.principal != principal:
                continue
            out.append(asdict(entry))
            if len(out) >= limit:
                break
        return out
