"""Tables of the persistence database (the schema is created by the Alembic migrations).

Times are seconds since the epoch (UTC) as floats: one portable type on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EntityStateRow(Base):
    """The last known state of an entity, restored on start."""

    __tablename__ = "entity_state"

    entity_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity_type: Mapped[str | None] = mapped_column(String(100))
    area: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    available: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_updated: Mapped[float] = mapped_column(Float, nullable=False)


class EntityHistoryRow(Base):
    """One state change of one entity."""

    __tablename__ = "entity_history"
    __table_args__ = (Index("ix_entity_history_entity_id_ts", "entity_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity_id: Mapped[str] = mapped_column(String(200), nullable=False)
    ts: Mapped[float] = mapped_column(Float, nullable=False, index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    available: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class EntityOverrideRow(Base):
    """What a person changed about an entity: its name, area, or whether it is hidden."""

    __tablename__ = "entity_override"

    entity_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    area: Mapped[str | None] = mapped_column(String(200))
    hidden: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class CommandAuditRow(Base):
    """A command: who asked, what, when, and what came of it."""

    __tablename__ = "command_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    command_id: Mapped[str | None] = mapped_column(String(100), index=True)
    entity_id: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    command: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(50), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(200))
    user: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[float] = mapped_column(Float, nullable=False, index=True)
    completed_at: Mapped[float | None] = mapped_column(Float)


class UserSettingRow(Base):
    """A setting a person stored through the API (key and JSON value)."""

    __tablename__ = "user_setting"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class FaultHistoryRow(Base):
    """One life of one DM_RV fault (RV-C 3.2.5): from first seen until it cleared."""

    __tablename__ = "fault_history"
    __table_args__ = (Index("ix_fault_history_fault_id_first_seen", "fault_id", "first_seen"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fault_id: Mapped[str] = mapped_column(String(100), nullable=False)
    source: Mapped[int] = mapped_column(Integer, nullable=False)
    dsa: Mapped[int | None] = mapped_column(Integer)
    dsa_extension: Mapped[int | None] = mapped_column(Integer)
    spn_raw: Mapped[int] = mapped_column(Integer, nullable=False)
    fmi: Mapped[int] = mapped_column(Integer, nullable=False)
    occurrence_count: Mapped[int | None] = mapped_column(Integer)
    red_lamp: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    yellow_lamp: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    entities: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    first_seen: Mapped[float] = mapped_column(Float, nullable=False, index=True)
    last_seen: Mapped[float] = mapped_column(Float, nullable=False)
    cleared_at: Mapped[float | None] = mapped_column(Float, index=True)
    cleared_reason: Mapped[str | None] = mapped_column(String(30))
