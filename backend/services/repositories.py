"""Repositories: the queries of the persistence tables, each over a session from the manager.

A repository never commits; ``DatabaseManager.get_session()`` commits the whole unit of work.
Rows cross this boundary as slotted dataclasses, never as ORM objects.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.services.db_models import (
    CommandAuditRow,
    EntityHistoryRow,
    EntityOverrideRow,
    EntityStateRow,
    FaultHistoryRow,
    UserSettingRow,
)

_HISTORY_COLUMNS = "INSERT INTO entity_history (entity_id, ts, state, available) VALUES "
_HISTORY_INSERT = {
    "qmark": _HISTORY_COLUMNS + "(?, ?, ?, ?)",
    "numeric_dollar": _HISTORY_COLUMNS + "($1, $2, $3, $4)",
    "format": _HISTORY_COLUMNS + "(%s, %s, %s, %s)",
}


@dataclass(frozen=True, slots=True)
class SavedState:
    """An entity's last known state."""

    entity_id: str
    state: dict[str, Any]
    last_updated: float
    available: bool = False
    entity_type: str | None = None
    area: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One recorded state change."""

    entity_id: str
    ts: float
    state: dict[str, Any]
    available: bool = True


@dataclass(frozen=True, slots=True)
class Override:
    """A person's changes to an entity; None leaves the mapping's value."""

    entity_id: str
    name: str | None = None
    area: str | None = None
    hidden: bool | None = None
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One command: who, what, when, result."""

    entity_id: str
    command: dict[str, Any]
    status: str
    requested_at: float
    command_id: str | None = None
    detail: str | None = None
    client: str | None = None
    user: str | None = None
    completed_at: float | None = None


@dataclass(frozen=True, slots=True)
class FaultLife:
    """One life of one DM_RV fault: what the device reported, from first seen to cleared.

    ``cleared_at`` is None while the fault is active; ``cleared_reason`` is ``cleared`` (the
    device stopped reporting it) or ``server_stopped`` (CoachIQ stopped while it was active;
    ``cleared_at`` is then the last time it was seen).
    """

    fault_id: str
    source: int
    dsa: int | None
    spn_raw: int
    fmi: int
    first_seen: float
    last_seen: float
    dsa_extension: int | None = None
    occurrence_count: int | None = None
    red_lamp: bool = False
    yellow_lamp: bool = False
    entities: tuple[str, ...] = ()
    cleared_at: float | None = None
    cleared_reason: str | None = None


def _upsert(session: AsyncSession, table: Any, key: str, columns: Sequence[str]) -> Any:
    """An INSERT ... ON CONFLICT (key) DO UPDATE for the session's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only the two databases above are supported
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={name: stmt.excluded[name] for name in columns}
    )


class EntityStateRepository:
    """Last known state per entity."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def save_many(self, states: Sequence[SavedState]) -> None:
        """Insert or replace the given states."""
        if not states:
            return
        columns = ("entity_type", "area", "state", "available", "last_updated")
        stmt = _upsert(self.session, EntityStateRow.__table__, "entity_id", columns)
        await self.session.execute(
            stmt,
            [
                {
                    "entity_id": s.entity_id,
                    "entity_type": s.entity_type,
                    "area": s.area,
                    "state": s.state,
                    "available": s.available,
                    "last_updated": s.last_updated,
                }
                for s in states
            ],
        )

    async def all(self) -> list[SavedState]:
        """Every saved state, by entity id."""
        result = await self.session.execute(
            select(EntityStateRow).order_by(EntityStateRow.entity_id)
        )
        return [
            SavedState(
                entity_id=row.entity_id,
                state=dict(row.state),
                last_updated=row.last_updated,
                available=row.available,
                entity_type=row.entity_type,
                area=row.area,
            )
            for row in result.scalars()
        ]


class HistoryRepository:
    """Entity history: appended in batches, read per entity, pruned by age."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def add_many(self, entries: Sequence[HistoryEntry]) -> None:
        """Append entries with one executemany."""
        dumps = orjson.dumps
        await self.add_rows(
            [(e.entity_id, e.ts, dumps(e.state).decode(), e.available) for e in entries]
        )

    async def add_rows(self, rows: Sequence[tuple[str, float, str, bool]]) -> None:
        """Append ``(entity_id, ts, state as JSON text, available)`` rows with one executemany.

        This is the history writer's hot statement: plain tuples go to the driver, which costs
        the event loop a fifth of what the ORM insert does.
        """
        if not rows:
            return
        connection = await self.session.connection()
        sql = _HISTORY_INSERT.get(connection.dialect.paramstyle)
        if sql is None:  # pragma: no cover - a driver with another parameter style
            await self.session.execute(
                insert(EntityHistoryRow),
                [
                    {"entity_id": r[0], "ts": r[1], "state": orjson.loads(r[2]), "available": r[3]}
                    for r in rows
                ],
            )
            return
        await connection.exec_driver_sql(sql, list(rows))

    async def for_entity(
        self,
        entity_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        """The newest ``limit`` entries of an entity in the time window, oldest first."""
        query = select(EntityHistoryRow).where(EntityHistoryRow.entity_id == entity_id)
        if since is not None:
            query = query.where(EntityHistoryRow.ts >= since)
        if until is not None:
            query = query.where(EntityHistoryRow.ts <= until)
        query = query.order_by(EntityHistoryRow.ts.desc(), EntityHistoryRow.id.desc()).limit(limit)
        rows = list((await self.session.execute(query)).scalars())
        rows.reverse()
        return [HistoryEntry(r.entity_id, r.ts, dict(r.state), r.available) for r in rows]

    async def count(self, entity_id: str | None = None) -> int:
        """Number of entries (of one entity, or all)."""
        query = select(func.count()).select_from(EntityHistoryRow)
        if entity_id is not None:
            query = query.where(EntityHistoryRow.entity_id == entity_id)
        return int((await self.session.execute(query)).scalar_one())

    async def prune(self, before: float) -> int:
        """Delete entries older than ``before``; return how many went."""
        result: Any = await self.session.execute(
            delete(EntityHistoryRow).where(EntityHistoryRow.ts < before)
        )
        return int(result.rowcount or 0)


class OverrideRepository:
    """User overrides of entity name, area and visibility."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, entity_id: str) -> Override | None:
        """The override of one entity, if any."""
        row = await self.session.get(EntityOverrideRow, entity_id)
        return None if row is None else _override(row)

    async def all(self) -> list[Override]:
        """Every override, by entity id."""
        result = await self.session.execute(
            select(EntityOverrideRow).order_by(EntityOverrideRow.entity_id)
        )
        return [_override(row) for row in result.scalars()]

    async def save(self, override: Override) -> None:
        """Insert or replace an override (all three fields as given)."""
        stmt = _upsert(
            self.session,
            EntityOverrideRow.__table__,
            "entity_id",
            ("name", "area", "hidden", "updated_at"),
        )
        await self.session.execute(
            stmt,
            {
                "entity_id": override.entity_id,
                "name": override.name,
                "area": override.area,
                "hidden": override.hidden,
                "updated_at": override.updated_at or time.time(),
            },
        )

    async def delete(self, entity_id: str) -> bool:
        """Remove an override; True when one existed."""
        result: Any = await self.session.execute(
            delete(EntityOverrideRow).where(EntityOverrideRow.entity_id == entity_id)
        )
        return bool(result.rowcount)


def _override(row: EntityOverrideRow) -> Override:
    return Override(row.entity_id, row.name, row.area, row.hidden, row.updated_at)


class AuditRepository:
    """Command audit trail."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit entries."""
        if not entries:
            return
        await self.session.execute(
            insert(CommandAuditRow),
            [
                {
                    "command_id": e.command_id,
                    "entity_id": e.entity_id,
                    "command": e.command,
                    "status": e.status,
                    "detail": e.detail,
                    "client": e.client,
                    "user": e.user,
                    "requested_at": e.requested_at,
                    "completed_at": e.completed_at,
                }
                for e in entries
            ],
        )

    async def recent(self, *, entity_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries (of one entity, or all), newest first."""
        query = select(CommandAuditRow)
        if entity_id is not None:
            query = query.where(CommandAuditRow.entity_id == entity_id)
        query = query.order_by(CommandAuditRow.requested_at.desc(), CommandAuditRow.id.desc())
        rows = (await self.session.execute(query.limit(limit))).scalars()
        return [
            AuditEntry(
                entity_id=r.entity_id,
                command=dict(r.command),
                status=r.status,
                requested_at=r.requested_at,
                command_id=r.command_id,
                detail=r.detail,
                client=r.client,
                user=r.user,
                completed_at=r.completed_at,
            )
            for r in rows
        ]


class SettingsRepository:
    """Settings a person stored (JSON values by key)."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default``."""
        row = await self.session.get(UserSettingRow, key)
        return default if row is None else row.value

    async def set(self, key: str, value: Any) -> None:
        """Store a value."""
        stmt = _upsert(self.session, UserSettingRow.__table__, "key", ("value", "updated_at"))
        await self.session.execute(stmt, {"key": key, "value": value, "updated_at": time.time()})

    async def all(self) -> dict[str, Any]:
        """Every stored setting."""
        result = await self.session.execute(select(UserSettingRow).order_by(UserSettingRow.key))
        return {row.key: row.value for row in result.scalars()}


_FAULT_UPDATED = ("occurrence_count", "red_lamp", "yellow_lamp", "last_seen", "dsa_extension")


def _fault_values(life: FaultLife) -> dict[str, Any]:
    return {
        "fault_id": life.fault_id,
        "source": life.source,
        "dsa": life.dsa,
        "dsa_extension": life.dsa_extension,
        "spn_raw": life.spn_raw,
        "fmi": life.fmi,
        "occurrence_count": life.occurrence_count,
        "red_lamp": life.red_lamp,
        "yellow_lamp": life.yellow_lamp,
        "entities": list(life.entities),
        "first_seen": life.first_seen,
        "last_seen": life.last_seen,
        "cleared_at": life.cleared_at,
        "cleared_reason": life.cleared_reason,
    }


def _fault_life(row: FaultHistoryRow) -> FaultLife:
    return FaultLife(
        fault_id=row.fault_id,
        source=row.source,
        dsa=row.dsa,
        spn_raw=row.spn_raw,
        fmi=row.fmi,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        dsa_extension=row.dsa_extension,
        occurrence_count=row.occurrence_count,
        red_lamp=row.red_lamp,
        yellow_lamp=row.yellow_lamp,
        entities=tuple(str(e) for e in row.entities or ()),
        cleared_at=row.cleared_at,
        cleared_reason=row.cleared_reason,
    )


class FaultHistoryRepository:
    """DM_RV fault lives: one row per fault from first seen until it cleared."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def record(self, life: FaultLife) -> None:
        """Store what is known of a life: update its row (same fault and first seen) or add it.

        A row already closed is left as it is (a late, queued change does not reopen it). A lamp
        once recorded lit stays lit: the row keeps the worst the fault showed.
        """
        table = FaultHistoryRow
        values: dict[str, Any] = {name: getattr(life, name) for name in _FAULT_UPDATED}
        for lamp in ("red_lamp", "yellow_lamp"):
            if not values[lamp]:
                del values[lamp]  # an unlit lamp leaves the stored one as it is
        if life.cleared_at is not None:
            values |= {"cleared_at": life.cleared_at, "cleared_reason": life.cleared_reason}
        result: Any = await self.session.execute(
            update(table)
            .where(table.fault_id == life.fault_id, table.first_seen == life.first_seen)
            .where(table.cleared_at.is_(None))
            .values(**values)
        )
        if result.rowcount:
            return
        exists = await self.session.execute(
            select(table.id).where(
                table.fault_id == life.fault_id, table.first_seen == life.first_seen
            )
        )
        if exists.first() is None:
            await self.session.execute(insert(table), _fault_values(life))

    async def close_open(self, reason: str = "server_stopped") -> int:
        """Close every life still open (left by a server that stopped); cleared at last seen."""
        table = FaultHistoryRow
        result: Any = await self.session.execute(
            update(table)
            .where(table.cleared_at.is_(None))
            .values(cleared_at=table.last_seen, cleared_reason=reason)
        )
        return int(result.rowcount or 0)

    async def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        source: int | None = None,
        active: bool | None = None,
        limit: int = 100,
    ) -> list[FaultLife]:
        """The newest ``limit`` lives (by first seen) that overlap ``[since, until]``."""
        table = FaultHistoryRow
        query = select(table)
        if since is not None:
            query = query.where(or_(table.cleared_at.is_(None), table.cleared_at >= since))
        if until is not None:
            query = query.where(table.first_seen <= until)
        if source is not None:
            query = query.where(table.source == source)
        if active is not None:
            query = query.where(
                table.cleared_at.is_(None) if active else table.cleared_at.is_not(None)
            )
        query = query.order_by(table.first_seen.desc(), table.id.desc()).limit(limit)
        return [_fault_life(row) for row in (await self.session.execute(query)).scalars()]

    async def prune(self, before: float) -> int:
        """Delete lives that cleared before ``before`` (an active one is kept); return how many."""
        result: Any = await self.session.execute(
            delete(FaultHistoryRow).where(FaultHistoryRow.cleared_at < before)
        )
        return int(result.rowcount or 0)
