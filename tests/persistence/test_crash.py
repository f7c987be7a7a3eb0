"""A process killed with SIGKILL while writing history leaves a consistent database.

Two levels: a helper process that only runs the HistoryWriter (fast, exact invariants), and the
real ``coachiq serve`` with the simulated coach on the virtual bus, killed mid-stream and started
again on the same data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from backend.core.entity_manager import EntityChange
from backend.main import create_app
from backend.services.database_manager import SQLITE_FILENAME, DatabaseManager, head_revision
from backend.services.history_writer import HistoryWriter
from backend.services.repositories import HistoryRepository
from tests.factories import make_settings

REPO = Path(__file__).resolve().parents[2]
COACHIQ_SCRIPT = Path(sys.executable).with_name("coachiq")


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


# -- the real server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _coachiq_serve(data: Path, log: Path, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``coachiq serve`` with SQLite persistence in ``data`` on a free port; killed at exit."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
    environment.update(
        {
            "COACHIQ_PERSISTENCE__ENABLED": "true",
            "COACHIQ_PERSISTENCE__DATA_DIR": str(data),
            "COACHIQ_PERSISTENCE__HISTORY_FLUSH_INTERVAL": "0.05",
            "COACHIQ_CAN__BUSTYPE": "virtual",
            "COACHIQ_LOGGING__LEVEL": "WARNING",
            **env,
        }
    )
    if COACHIQ_SCRIPT.exists():
        command = [str(COACHIQ_SCRIPT), "serve", "--port", str(port)]
    else:  # the same entry point without the installed script
        command = [sys.executable, "-c", "from backend.cli.main import main; main()", "serve"]
        command += ["--port", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _poll(
    process: subprocess.Popen, log: Path, probe: Callable[[], Any], timeout: float = 60.0
) -> Any:
    """Call ``probe`` until it returns something true; fail with the server log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            result = probe()
            if result:
                return result
        if time.monotonic() > deadline:
            pytest.fail(f"server not ready in {timeout:g} s: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def _saved_rows(db_file: Path) -> dict[str, tuple[float, dict[str, Any], int]]:
    """Check the file after the kill; return each entity's (last_updated, state, history rows)."""
    connection = sqlite3.connect(db_file)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        saved = {
            entity_id: (last_updated, json.loads(state))
            for entity_id, last_updated, state in connection.execute(
                "SELECT entity_id, last_updated, state FROM entity_state"
            )
        }
        result = {}
        for entity_id, (last_updated, state) in saved.items():
            count, newest_id = connection.execute(
                "SELECT COUNT(*), MAX(id) FROM entity_history WHERE entity_id = ?", (entity_id,)
            ).fetchone()
            ts, newest_state = connection.execute(
                "SELECT ts, state FROM entity_history WHERE id = ?", (newest_id,)
            ).fetchone()
            # The last known state was committed in the same transaction as its history row.
            assert (ts, json.loads(newest_state)) == (last_updated, state), entity_id
            result[entity_id] = (last_updated, state, count)
    finally:
        connection.close()
    return result


@pytest.mark.slow
def test_sigkill_of_coachiq_serve_while_writing_history(tmp_path: Path) -> None:
    """Kill the real server mid-stream; it starts again on a consistent, restorable database."""
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    with _coachiq_serve(data, log) as (process, base):

        def written_more_than(rows: int) -> Callable[[], dict[str, Any] | None]:
            def probe() -> dict[str, Any] | None:
                body = httpx.get(f"{base}/api/persistence/status", timeout=5).json()
                writer = body.get("writer") or {}
                return writer if writer.get("written", 0) > rows else None

            return probe

        first = _poll(process, log, written_more_than(0))
        # History is still being committed (every 50 ms, as the coach speaks): kill it now.
        second = _poll(process, log, written_more_than(first["written"]))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
    assert (second["dropped"], second["failed_writes"]) == (0, 0)

    saved = _saved_rows(data / SQLITE_FILENAME)
    assert sum(count for _, _, count in saved.values()) >= second["written"]

    # Start again on the same directory with the bus silent (no simulator): migrations are at
    # head, the history is readable, the last known states are shown, marked restored.
    settings = make_settings(
        persistence={"enabled": True, "data_dir": data}, features={"enable_simulator": False}
    )
    with TestClient(create_app(settings)) as client:
        status = client.get("/api/persistence/status").json()
        assert (status["state"], status["healthy"]) == ("running", True)
        assert status["schema_revision"] == status["schema_head"] == head_revision()
        entities = {e["entity_id"]: e for e in client.get("/api/entities").json()}
        for entity_id, (last_updated, state, count) in saved.items():
            entity = entities[entity_id]
            assert (entity["restored"], entity["available"]) == (True, False), entity_id
            assert (entity["state"], entity["last_updated"]) == (state, last_updated), entity_id
            history = client.get(
                f"/api/entities/{entity_id}/history", params={"limit": 10000}
            ).json()
            assert history["source"] == "database"
            assert len(history["entries"]) == min(count, 10000), entity_id
            newest = history["entries"][-1]
            assert (newest["timestamp"], newest["state"]) == (last_updated, state), entity_id
        # Restored values are not new history: nothing was queued.
        assert client.get("/api/persistence/status").json()["writer"]["received"] == 0
