"""HistoryWriter: batches, drop-oldest with a counter, restored changes skipped, lifecycle."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from backend.core.entity_manager import EntityChange
from backend.services.database_manager import DatabaseManager
from backend.services.history_writer import HistoryWriter
from backend.services.repositories import EntityStateRepository, HistoryRepository


def change(entity_id: str, ts: float, restored: bool = False, **state: object) -> EntityChange:
    return EntityChange(entity_id, "light", "bedroom", dict(state), not restored, ts, restored)


async def test_batches_history_and_last_state(database: DatabaseManager) -> None:
    writer = HistoryWriter(database, batch_size=100)
    for i in range(250):
        writer.on_change(change(f"light_{i % 5}", 1000.0 + i, brightness=i))
    writer.on_change(change("light_0", 2000.0, restored=True, brightness=999))
    assert writer.queued == 250  # the restored change came from the database: not queued

    assert await writer.flush() == 250
    assert writer.stats()["written"] == 250
    async with database.get_session() as session:
        assert await HistoryRepository(session).count() == 250
        saved = {s.entity_id: s for s in await EntityStateRepository(session).all()}
    assert saved["light_4"].state == {"brightness": 249}
    assert saved["light_4"].last_updated == 1249.0
    assert saved["light_0"].state == {"brightness": 245}


async def test_database_down_drops_oldest_and_counts(tmp_path: Path) -> None:
    database = DatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'coachiq.sqlite3'}")
    writer = HistoryWriter(database, queue_size=50, batch_size=20)
    for i in range(40):
        writer.on_change(change("light_1", float(i), brightness=i))
    try:
        await writer.flush()  # not started: the write fails, the batch goes back in front
    except Exception as exc:
        assert "not started" in str(exc)
    else:
        raise AssertionError("flush to a stopped database succeeded")
    for i in range(40, 100):
        writer.on_change(change("light_1", float(i), brightness=i))
    stats = writer.stats()
    assert (stats["queued"], stats["dropped"], stats["failed_writes"]) == (50, 50, 1)
    assert stats["last_error"].startswith("DatabaseNotStartedError")

    await database.start()
    await database.upgrade()
    try:
        assert await writer.flush() == 50
        async with database.get_session() as session:
            rows = await HistoryRepository(session).for_entity("light_1", limit=1000)
        assert [r.state["brightness"] for r in rows] == list(range(50, 100))  # the newest kept
        assert writer.stats()["last_error"] == ""
    finally:
        await database.close()


async def test_background_task_writes_and_stops(tmp_path: Path) -> None:
    database = DatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'coachiq.sqlite3'}")
    await database.start()
    await database.upgrade()
    writer = HistoryWriter(database, flush_interval=0.02)
    writer.start()
    tasks = {t.get_name() for t in asyncio.all_tasks()}
    assert "persistence-history-writer" in tasks
    writer.on_change(change("light_1", 1.0, brightness=1))
    for _ in range(100):
        if writer.written:
            break
        await asyncio.sleep(0.02)
    assert writer.written == 1
    writer.on_change(change("light_1", 2.0, brightness=2))
    await writer.stop()  # the final flush writes what is left
    await writer.stop()
    assert not writer.running
    assert writer.written == 2
    assert "persistence-history-writer" not in {t.get_name() for t in asyncio.all_tasks()}
    await database.close()


async def test_slow_database_never_blocks_the_receive_path(tmp_path: Path) -> None:
    db_file = tmp_path / "coachiq.sqlite3"
    database = DatabaseManager(f"sqlite+aiosqlite:///{db_file}")
    await database.start()
    await database.upgrade()
    writer = HistoryWriter(database, queue_size=100, batch_size=50, flush_interval=0.01)
    blocker = sqlite3.connect(db_file, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database: ours must wait
    try:
        writer.start()
        writer.on_change(change("light_1", 0.0, brightness=0))
        await asyncio.sleep(0.1)  # the writer task is now stuck in its first write
        slowest = 0.0
        for i in range(1, 300):
            started = time.perf_counter()
            writer.on_change(change("light_1", float(i), brightness=i))
            slowest = max(slowest, time.perf_counter() - started)
            if i % 50 == 0:
                await asyncio.sleep(0.01)  # the receive loop goes on
        assert slowest < 0.01
        assert writer.written == 0
        assert writer.dropped >= 150  # the oldest went, and were counted
        # The status counts the row the stuck write holds as not written: 100 queued + 1.
        assert writer.stats()["queued"] == 101
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await writer.stop()
    async with database.get_session() as session:
        rows = await HistoryRepository(session).for_entity("light_1", limit=1000)
    await database.close()
    brightness = [r.state["brightness"] for r in rows]
    assert brightness[-100:] == list(range(200, 300))  # the newest were all kept
    assert writer.written + writer.dropped == 300
