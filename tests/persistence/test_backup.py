"""Backups: made while running, listed, kept to the newest N, restored with the server stopped."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.cli.main import app as cli
from backend.main import create_app
from backend.services.persistence_service import PG_DUMP_HINT
from tests.factories import make_settings
from tests.persistence.fakes import FakeCommandResult
from tests.persistence.test_feature import definitions, feature, on_loop, settings_for

REPO = Path(__file__).resolve().parents[2]
TABLES = ("entity_history", "entity_state", "entity_override", "command_audit")


def rows(db_file: Path) -> dict[str, list[Any]]:
    connection = sqlite3.connect(db_file)
    try:
        return {t: connection.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    finally:
        connection.close()


def test_backup_then_restore_gives_the_same_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"COACHIQ_PERSISTENCE__DATA_DIR": str(data)}
    now = time.time()
    with TestClient(create_app(settings_for(data), definitions())) as client:
        manager = feature(client, "entities").entity_manager
        for i in range(50):
            manager.change("light_1", ts=now + i, brightness=i)
        feature(client, "entities").service.finish(
            FakeCommandResult("c1", "light_1", {"command": "on"}, "confirmed", "", now, now + 1)
        )
        on_loop(client, manager.override_store, "light_1", "Lamp", "bedroom", None)

        response = client.post("/api/persistence/backup")
        assert response.status_code == 201, response.text
        backup = response.json()
        assert backup["name"].startswith("coachiq-") and backup["size_bytes"] > 0
        assert backup["path"] == f"backups/{backup['name']}"  # never an absolute path
        assert (data / backup["path"]).stat().st_mode & 0o777 == 0o600
        listing = client.get("/api/persistence/backups").json()
        assert [b["name"] for b in listing["backups"]] == [backup["name"]]
        at_backup = rows(data / "coachiq.sqlite3")
        assert len(at_backup["entity_history"]) == 50

        # The server holds the data directory: restore is refused while it runs.
        refused = CliRunner().invoke(cli, ["db", "restore", backup["name"]], env=env)
        assert refused.exit_code == 1
        assert "stop it first" in refused.output

        for i in range(50, 60):
            manager.change("light_1", ts=now + i, brightness=i)
        on_loop(client, manager.override_store, "light_1", "Changed", None, True)
    assert rows(data / "coachiq.sqlite3") != at_backup

    result = CliRunner().invoke(cli, ["db", "restore", backup["name"]], env=env)
    assert result.exit_code == 0, result.output
    assert "previous database saved as" in result.output
    assert rows(data / "coachiq.sqlite3") == at_backup

    # And the server starts on the restored database.
    with TestClient(create_app(settings_for(data), definitions())) as client:
        light = feature(client, "entities").entity_manager.entities["light_1"]
        assert (light.name, light.area, light.state) == ("Lamp", "bedroom", {"brightness": 49})


def test_a_backup_is_one_self_contained_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TestClient(create_app(settings_for(data), definitions())) as client:
        feature(client, "entities").entity_manager.change("light_1", ts=time.time(), brightness=7)
        backup = data / client.post("/api/persistence/backup").json()["path"]
    # The live database is in WAL mode; the copy is not (header bytes 18-19: 1 = rollback
    # journal, 2 = WAL), so opening it leaves nothing beside it for retention to miss.
    assert backup.read_bytes()[18:20] == b"\x01\x01"
    connection = sqlite3.connect(backup)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert connection.execute("SELECT count(*) FROM entity_state").fetchone()[0] >= 0
    finally:
        connection.close()
    assert sorted(p.name for p in backup.parent.iterdir()) == [backup.name]


def test_retention_keeps_the_newest_n(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", backup_retention=2)
    with TestClient(create_app(settings, definitions())) as client:
        made = [client.post("/api/persistence/backup").json()["name"] for _ in range(3)]
        listing = client.get("/api/persistence/backups").json()
        assert listing["retention"] == 2
        assert [b["name"] for b in listing["backups"]] == [made[2], made[1]]
        assert client.get("/api/persistence/status").json()["backup_count"] == 2


def test_restore_rejects_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("not a database")
    env = {"COACHIQ_PERSISTENCE__DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["db", "restore", str(bogus)], env=env)
    assert result.exit_code == 1
    assert f"{bogus} is not a SQLite database" in result.output


@pytest.mark.postgres
def test_postgresql_backup_points_to_pg_dump(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        persistence={"enabled": True, "data_dir": tmp_path / "unused"}, database={"url": pg_url}
    )
    with TestClient(create_app(settings, definitions())) as client:
        status = client.get("/api/persistence/status").json()
        assert (status["backend"], status["healthy"], status["data_dir"]) == (
            "postgresql",
            True,
            None,
        )
        assert status["database_url"].startswith("postgresql+asyncpg://postgres@")
        response = client.post("/api/persistence/backup")
        assert response.status_code == 409
        detail = response.json()["detail"]
        assert detail == PG_DUMP_HINT  # points to the recipe, which exists
        assert "pg_dump" in detail and "docs/persistence.md" in detail
        recipe = (REPO / "docs" / "persistence.md").read_text()
        assert "pg_dump --format=custom" in recipe and "pg_restore" in recipe
        assert client.get("/api/persistence/backups").json()["backups"] == []
    assert not (tmp_path / "unused").exists()
