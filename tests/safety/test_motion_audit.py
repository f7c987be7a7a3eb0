"""With persistence on, every accepted motion command has its audit row before its first frame:
the real ``coachiq serve`` under a command load, killed with SIGKILL, leaves none missing."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from backend.services.database_manager import SQLITE_FILENAME
from tests.persistence.test_crash import _coachiq_serve, _poll

MOTION = [
    ("awning.patio", "extend"),
    ("slide.living", "retract"),
    ("slide.bedroom", "extend"),
    ("awning.patio", "retract"),
    ("slide.living", "extend"),
    ("slide.bedroom", "retract"),
]


@pytest.mark.slow
def test_accepted_motion_commands_all_have_audit_rows_after_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    env = {"COACHIQ_SAFETY__COMMAND_RATE": "100000", "COACHIQ_SAFETY__COMMAND_BURST": "100000"}
    with _coachiq_serve(data, log, **env) as (process, base):

        def ready() -> bool:
            safety = httpx.get(f"{base}/api/safety", timeout=5).json()
            entities = httpx.get(f"{base}/api/entities", timeout=5).json()
            available = {e["entity_id"] for e in entities if e["available"]}
            return safety["interlock"]["parked"] and {m[0] for m in MOTION} <= available

        _poll(process, log, ready)
        accepted: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def load(worker: int) -> None:
            with httpx.Client(base_url=base, timeout=5) as client:
                for i in itertools.count(worker):
                    if stop.is_set():
                        return
                    entity_id, command = MOTION[i % len(MOTION)]
                    light = {"command": "set", "state": "on", "brightness": i % 100}
                    try:
                        client.post("/api/entities/light.galley_ceiling/command", json=light)
                        r = client.post(
                            f"/api/entities/{entity_id}/command", json={"command": command}
                        )
                    except httpx.HTTPError:
                        return  # the server was killed mid-request
                    if r.status_code == 202:
                        with lock:
                            accepted.append(r.json()["command_id"])

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(load, w) for w in range(4)]
            time.sleep(2.0)
            os.kill(process.pid, signal.SIGKILL)  # mid-stream, requests in flight
            process.wait(timeout=10)
            stop.set()
            for future in futures:
                future.result()
        assert process.returncode == -signal.SIGKILL
    assert len(accepted) >= 20, "too little load to mean anything"
    connection = sqlite3.connect(data / SQLITE_FILENAME)
    try:
        rows = {
            command_id
            for (command_id,) in connection.execute(
                "SELECT command_id FROM command_audit WHERE status = 'sent'"
            )
        }
    finally:
        connection.close()
    missing = sorted(set(accepted) - rows)
    assert missing == [], f"{len(missing)} of {len(set(accepted))} accepted without an audit row"
