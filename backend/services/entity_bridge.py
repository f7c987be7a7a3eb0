"""EntityBridge: connects the persistence service to the ``entities`` feature.

On attach it applies stored overrides and restores last known states into the EntityManager
(entities then show their last values, marked restored, until the bus speaks), subscribes the
HistoryWriter to entity changes and command results, and registers two hooks on the manager:

- ``history_provider(entity_id, since, until, limit)`` -> awaitable list of
  ``(ts, state, available)`` tuples, oldest first, read from the database;
- ``override_store(entity_id, name, area, hidden)`` -> awaitable, called after an override is
  applied so that it survives a restart (None leaves a field as stored).

It also sets the EntityService's ``motion_audit``: a motion command is written to the audit (and
committed) before its first frame goes out; other commands stay batched by the HistoryWriter.

Hooks are registered through ``set_history_provider``/``set_override_store`` when the manager
has them, else through attributes of those names; the bridge removes them on detach.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backend.services.repositories import (
    AuditEntry,
    AuditRepository,
    EntityStateRepository,
    OverrideRepository,
)

if TYPE_CHECKING:
    from backend.services.persistence_service import PersistenceService

logger = logging.getLogger(__name__)

HistoryRow = tuple[float, dict[str, Any], bool]


class EntityBridge:
    """Restores into, listens to and serves the entities feature; ``detach`` undoes it all."""

    def __init__(self, service: PersistenceService, entities_feature: Any):
        self.service = service
        self.manager = getattr(entities_feature, "entity_manager", None)
        self.entity_service = getattr(entities_feature, "service", None)
        self._unsubscribe: list[Callable[[], Any]] = []
        self._hooks: list[str] = []
        self.restored = 0
        self.overrides_applied = 0

    @property
    def hooks(self) -> list[str]:
        """Names of the hooks registered on the EntityManager."""
        return list(self._hooks)

    async def attach(self) -> None:
        """Apply overrides, restore states, subscribe, register hooks."""
        manager = self.manager
        if manager is None:
            logger.warning("Entities feature has no entity_manager; history is not recorded")
            return
        async with self.service.database.get_session() as session:
            overrides = await OverrideRepository(session).all()
            saved = await EntityStateRepository(session).all()
        for override in overrides:
            try:
                manager.apply_override(
                    override.entity_id,
                    name=override.name,
                    area=override.area,
                    hidden=override.hidden,
                )
                self.overrides_applied += 1
            except Exception as exc:  # an entity removed from the mapping since
                logger.info("Override of %s not applied: %s", override.entity_id, exc)
        for state in saved:
            try:
                manager.restore_state(state.entity_id, state.state, state.last_updated)
                self.restored += 1
            except Exception as exc:
                logger.info("State of %s not restored: %s", state.entity_id, exc)
        self._unsubscribe.append(manager.add_change_listener(self.service.writer.on_change))
        listen = getattr(self.entity_service, "add_command_listener", None)
        if listen is not None:
            self._unsubscribe.append(listen(self.service.writer.on_command))
        else:
            logger.warning("EntityService has no add_command_listener; commands are not audited")
        self._register("history_provider", self.history)
        self._register("override_store", self.store_override)
        if self.entity_service is not None and hasattr(self.entity_service, "motion_audit"):
            self.entity_service.motion_audit = self.write_motion_audit
        logger.info(
            "Restored %d entity states and %d overrides", self.restored, self.overrides_applied
        )

    def _register(self, name: str, hook: Any) -> None:
        setter = getattr(self.manager, f"set_{name}", None)
        if callable(setter):
            setter(hook)
        elif hasattr(self.manager, name):
            setattr(self.manager, name, hook)
        else:
            logger.warning("EntityManager has no %s hook; the API will not use the database", name)
            return
        self._hooks.append(name)

    def detach(self) -> None:
        """Unsubscribe and remove the hooks; safe to call twice."""
        unsubscribe, self._unsubscribe = self._unsubscribe, []
        for undo in unsubscribe:
            if callable(undo):
                undo()
        if getattr(self.entity_service, "motion_audit", None) == self.write_motion_audit:
            self.entity_service.motion_audit = None  # type: ignore[union-attr]
        hooks, self._hooks = self._hooks, []
        for name in hooks:
            setter = getattr(self.manager, f"set_{name}", None)
            if callable(setter):
                setter(None)
            else:
                setattr(self.manager, name, None)

    async def history(
        self,
        entity_id: str,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[HistoryRow]:
        """The entity's stored history as ``(ts, state, available)``, oldest first.

        When the database cannot answer, the EntityManager's memory history answers instead.
        """
        try:
            entries = await self.service.history(entity_id, since=since, until=until, limit=limit)
        except Exception as exc:
            logger.warning("History from the database failed (%s); answering from memory", exc)
            if self.manager is None:
                raise
            rows = self.manager.history(entity_id, since=since, limit=None)
            kept = [r for r in rows if until is None or r["timestamp"] <= until][-limit:]
            return [(r["timestamp"], r["state"], r["available"]) for r in kept]
        return [(e.ts, e.state, e.available) for e in entries]

    async def store_override(
        self,
        entity_id: str,
        name: str | None = None,
        area: str | None = None,
        hidden: bool | None = None,
    ) -> None:
        """Keep an override the EntityManager just applied."""
        await self.service.save_override(entity_id, name=name, area=area, hidden=hidden)

    async def write_motion_audit(self, entry: dict[str, Any]) -> None:
        """Write one motion command's audit row and commit it (before its first frame)."""
        row = AuditEntry(
            entity_id=str(entry["entity_id"]),
            command=dict(entry["command"]),
            status=str(entry["status"]),
            requested_at=float(entry["requested_at"]),
            command_id=entry.get("command_id"),
            detail=entry.get("detail"),
            client=entry.get("client"),
        )
        async with self.service.database.get_session() as session:
            await AuditRepository(session).add_many([row])
