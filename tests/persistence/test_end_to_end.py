"""The whole server (simulated coach on the virtual bus) with persistence, across a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.factories import make_settings

pytestmark = pytest.mark.slow

LIGHT = "light.living_ceiling"


def _settings(data: Path, database: dict[str, Any]):
    return make_settings(
        persistence={"enabled": True, "data_dir": data, "history_flush_interval": 0.05},
        database=database,
    )


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_history_override_and_audit_survive_a_restart(
    tmp_path: Path, database_settings: dict[str, Any]
) -> None:
    """On a SQLite file and on a fresh PostgreSQL database (dropped afterwards)."""
    data = tmp_path / "data"
    backend = "postgresql" if database_settings else "sqlite"
    with TestClient(create_app(_settings(data, database_settings))) as client:
        assert client.get("/api/persistence/status").json()["backend"] == backend
        if client.get(f"/api/entities/{LIGHT}").status_code != 200:
            pytest.skip(f"the default coach mapping has no {LIGHT}")
        response = client.patch(f"/api/entities/{LIGHT}", json={"name": "Reading light"})
        assert response.status_code == 200, response.text
        _wait_for(lambda: client.get(f"/api/entities/{LIGHT}").json()["available"])
        accepted = client.post(
            f"/api/entities/{LIGHT}/command", json={"command": "set", "state": "on"}
        )
        assert accepted.status_code == 202, accepted.text

        def history() -> list[dict]:
            body = client.get(f"/api/entities/{LIGHT}/history").json()
            assert body["source"] == "database"
            return body["entries"]

        _wait_for(lambda: len(history()) >= 1)
        before = history()
        _wait_for(
            lambda: client.get("/api/persistence/audit", params={"entity_id": LIGHT}).json()[
                "entries"
            ]
        )
        stopped_at = time.time()

    with TestClient(create_app(_settings(data, database_settings))) as client:
        entity = client.get(f"/api/entities/{LIGHT}").json()
        assert entity["name"] == "Reading light"
        entries = client.get(f"/api/entities/{LIGHT}/history").json()["entries"]
        kept = [e for e in entries if e["timestamp"] <= stopped_at]
        assert kept[: len(before)] == before
        audit = client.get("/api/persistence/audit", params={"entity_id": LIGHT}).json()
        assert audit["entries"][0]["command"]["command"] == "set"
        assert audit["entries"][0]["client"] == "testclient"
