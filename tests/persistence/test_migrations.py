"""Migrations: upgrade from empty, downgrade to empty, and the ``coachiq db`` commands."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from typer.testing import CliRunner

from backend.cli.main import app
from backend.services.database_manager import DatabaseManager, head_revision

TABLES_0001 = {"entity_state", "entity_history", "entity_override", "command_audit", "user_setting"}
TABLES = TABLES_0001 | {"fault_history"}


async def _tables(manager: DatabaseManager) -> set[str]:
    async with manager.engine.connect() as connection:
        names = await connection.run_sync(lambda c: inspect(c).get_table_names())
    return set(names) - {"alembic_version"}


async def test_upgrade_from_empty_then_downgrade_and_again(db_url: str) -> None:
    manager = DatabaseManager(db_url)
    await manager.start()
    try:
        assert await manager.current_revision() is None
        assert await _tables(manager) == set()

        await manager.upgrade()
        assert await manager.current_revision() == head_revision() == "0002"
        assert await _tables(manager) == TABLES

        await manager.downgrade("base")
        assert await manager.current_revision() is None
        assert await _tables(manager) == set()

        await manager.upgrade()
        await manager.upgrade()  # a second upgrade is a no-op
        assert await _tables(manager) == TABLES
    finally:
        await manager.close()
        await manager.close()


async def test_a_0001_database_upgrades_to_the_fault_history(db_url: str) -> None:
    manager = DatabaseManager(db_url)
    await manager.start()
    try:
        await manager.upgrade("0001")
        assert await manager.current_revision() == "0001"
        assert await _tables(manager) == TABLES_0001
        await manager.upgrade()
        assert await manager.current_revision() == "0002"
        assert await _tables(manager) == TABLES
        await manager.downgrade("0001")
        assert await _tables(manager) == TABLES_0001
    finally:
        await manager.close()


async def test_sqlite_file_uses_wal_and_private_modes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    manager = DatabaseManager(f"sqlite+aiosqlite:///{data / 'coachiq.sqlite3'}")
    await manager.start()
    try:
        async with manager.engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert mode == "wal"
        assert (await manager.health()).ok
    finally:
        await manager.close()
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "coachiq.sqlite3").stat().st_mode & 0o777 == 0o600


async def test_health_reports_a_closed_manager() -> None:
    manager = DatabaseManager("sqlite+aiosqlite:///:memory:")
    health = await manager.health()
    assert not health.ok
    assert health.error == "database is not started"


def test_cli_upgrade_current_downgrade(tmp_path: Path) -> None:
    env = {"COACHIQ_PERSISTENCE__DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.exit_code == 0, result.output
    assert "current: none (empty database); head: 0002" in result.output

    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert "database at revision 0002" in result.output

    result = runner.invoke(app, ["db", "current"], env=env)
    assert "current: 0002; head: 0002 (up to date)" in result.output

    result = runner.invoke(app, ["db", "downgrade", "base"], env=env)
    assert result.exit_code == 0, result.output
    assert "database at revision base" in result.output


def test_urls_hide_the_password() -> None:
    manager = DatabaseManager("postgresql+asyncpg://coachiq:s3cret@db.local/coachiq")
    assert manager.backend == "postgresql"
    assert "s3cret" not in manager.redacted_url
    assert manager.sqlite_path is None
