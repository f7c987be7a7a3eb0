"""The recent commands, by ``command_id``: what ``GET /api/commands/{command_id}`` answers.

A script that got a 202 can ask what became of its command without re-reading the entity. The log
keeps the newest ``limit`` commands; an older one is evicted and counted.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class CommandLog:
    """Bounded record of recent commands: pending, then their outcome."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._records)

    def accepted(
        self,
        command_id: str,
        entity_id: str,
        command: dict[str, Any],
        requested_at: float,
        client: str | None,
    ) -> None:
        """Record a command sent and awaiting its result (the oldest goes when full)."""
        self._records[command_id] = {
            "command_id": command_id,
            "entity_id": entity_id,
            "command": dict(command),
            "status": "pending",
            "detail": "",
            "requested_at": requested_at,
            "completed_at": None,
            "client": client,
        }
        while len(self._records) > self.limit:
            self._records.popitem(last=False)
            self.evicted += 1

    def finished(self, result: dict[str, Any]) -> None:
        """Record a command's outcome (``CommandResult.to_dict()``); kept if still logged."""
        record = self._records.get(result["command_id"])
        if record is not None:
            record.update(result)

    def get(self, command_id: str) -> dict[str, Any] | None:
        """The command's record (a copy), or None when unknown or evicted."""
        record = self._records.get(command_id)
        return None if record is None else {**record, "command": dict(record["command"])}

    def stats(self) -> dict[str, int]:
        """Commands kept, the bound, and how many were evicted."""
        return {"kept": len(self._records), "limit": self.limit, "evicted": self.evicted}
