"""Repositories against a SQLite file and PostgreSQL."""

from __future__ import annotations

from backend.services.database_manager import DatabaseManager
from backend.services.repositories import (
    AuditEntry,
    AuditRepository,
    EntityStateRepository,
    HistoryEntry,
    HistoryRepository,
    Override,
    OverrideRepository,
    SavedState,
    SettingsRepository,
)


async def test_history_append_read_window_and_prune(database: DatabaseManager) -> None:
    entries = [HistoryEntry("light_1", 1000.0 + i, {"brightness": i}, True) for i in range(10)]
    entries.append(HistoryEntry("tank_fresh", 1005.0, {"level": 55.5}, False))
    async with database.get_session() as session:
        await HistoryRepository(session).add_many(entries)

    async with database.get_session() as session:
        repo = HistoryRepository(session)
        newest = await repo.for_entity("light_1", limit=3)
        window = await repo.for_entity("light_1", since=1002.0, until=1004.0)
        assert await repo.count() == 11
    assert [e.state["brightness"] for e in newest] == [7, 8, 9]
    assert [e.ts for e in window] == [1002.0, 1003.0, 1004.0]

    async with database.get_session() as session:
        assert await HistoryRepository(session).prune(before=1005.0) == 5
    async with database.get_session() as session:
        repo = HistoryRepository(session)
        assert await repo.count("light_1") == 5
        assert await repo.for_entity("tank_fresh") == [
            HistoryEntry("tank_fresh", 1005.0, {"level": 55.5}, False)
        ]


async def test_saved_state_upsert_keeps_one_row_per_entity(database: DatabaseManager) -> None:
    async with database.get_session() as session:
        await EntityStateRepository(session).save_many(
            [SavedState("light_1", {"on": True}, 10.0, True, "light", "bedroom")]
        )
    async with database.get_session() as session:
        await EntityStateRepository(session).save_many(
            [SavedState("light_1", {"on": False}, 20.0, True, "light", "bedroom")]
        )
    async with database.get_session() as session:
        assert await EntityStateRepository(session).all() == [
            SavedState("light_1", {"on": False}, 20.0, True, "light", "bedroom")
        ]


async def test_overrides_settings_and_audit(database: DatabaseManager) -> None:
    async with database.get_session() as session:
        await OverrideRepository(session).save(Override("light_1", "Reading lamp", None, True, 5))
        await SettingsRepository(session).set("units", {"temperature": "F"})
        await AuditRepository(session).add_many(
            [
                AuditEntry("light_1", {"command": "set", "state": "on"}, "success", 100.0, "c1"),
                AuditEntry(
                    "light_1",
                    {"command": "set", "state": "off"},
                    "timeout",
                    101.0,
                    "c2",
                    detail="no status within 2 s",
                    client="192.168.1.20",
                    completed_at=103.0,
                ),
            ]
        )
    async with database.get_session() as session:
        assert await OverrideRepository(session).get("light_1") == Override(
            "light_1", "Reading lamp", None, True, 5
        )
        assert await SettingsRepository(session).get("units") == {"temperature": "F"}
        assert await SettingsRepository(session).get("missing", 3) == 3
        audit = await AuditRepository(session).recent(entity_id="light_1")
        assert [a.command_id for a in audit] == ["c2", "c1"]
        assert audit[0].client == "192.168.1.20"
        assert audit[0].detail == "no status within 2 s"
        assert await OverrideRepository(session).delete("light_1")
        assert await OverrideRepository(session).all() == []
