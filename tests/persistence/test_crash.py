"""A process killed with SIGKILL while writing history leaves a consistent database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from backend.core.entity_manager import EntityChange
from backend.services.database_manager import DatabaseManager
from backend.services.history_writer import HistoryWriter
from backend.services.repositories import HistoryRepository

REPO = Path(__file__).resolve().parents[2]


def _kill_while_writing(url: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.persistence.crash_writer", url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", process.stderr.read() if process.stderr else ""
        time.sleep(0.15)  # mid-stream: batches are being committed right now
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


async def test_sigkill_during_history_writes_then_consistent_restart(tmp_path: Path) -> None:
    db_file = tmp_path / "data" / "coachiq.sqlite3"
    url = f"sqlite+aiosqlite:///{db_file}"
    _kill_while_writing(url)

    connection = sqlite3.connect(db_file)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        per_entity = connection.execute(
            "SELECT entity_id, COUNT(*), MIN(json_extract(state, '$.brightness')),"
            " MAX(json_extract(state, '$.brightness')), MAX(ts) FROM entity_history"
            " GROUP BY entity_id"
        ).fetchall()
        saved = dict(connection.execute("SELECT entity_id, last_updated FROM entity_state"))
    finally:
        connection.close()
    assert len(per_entity) == 20
    for entity_id, count, low, high, newest in per_entity:
        # Whole batches or nothing: every entity's history is a gap-free prefix 0..n-1 ...
        assert (low, high) == (0, count - 1), entity_id
        # ... and its last known state was committed in the same transaction as its history.
        assert saved[entity_id] == newest

    database = DatabaseManager(url)  # restart: migrations, then writing goes on
    await database.start()
    try:
        await database.upgrade()
        async with database.get_session() as session:
            before = await HistoryRepository(session).count("e0")
        writer = HistoryWriter(database)
        writer.on_change(EntityChange("e0", "light", None, {"brightness": -1}, True, 2e9, False))
        assert await writer.flush() == 1
        async with database.get_session() as session:
            assert await HistoryRepository(session).count("e0") == before + 1
    finally:
        await database.close()
