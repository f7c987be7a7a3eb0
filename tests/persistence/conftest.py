"""Fixtures of the persistence tests: a SQLite file per test, a fresh PostgreSQL database.

PostgreSQL tests skip when the server cannot be reached or started, except when
``COACHIQ_REQUIRE_SERVICES=1`` (CI): then they fail, so that CI never passes by skipping them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from backend.services.database_manager import DatabaseManager

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REQUIRE_SERVICES = "COACHIQ_REQUIRE_SERVICES"


def _pg_up() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def _ensure_postgres() -> None:
    if _pg_up():
        return
    subprocess.run(PG_START, shell=True, check=False, capture_output=True, timeout=60)
    if not _pg_up():
        reason = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} and could not be started"
        if os.environ.get(REQUIRE_SERVICES) == "1":
            pytest.fail(f"{reason} ({REQUIRE_SERVICES}=1: services are required)")
        pytest.skip(reason)


async def _admin(sql: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(user="postgres", host=PG_HOST, port=PG_PORT, database="postgres")
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def _run_admin(sql: str) -> None:
    # A thread of its own: the test's event loop may already run in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin(sql)).result()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    _ensure_postgres()
    name = f"coachiq_test_{uuid.uuid4().hex[:12]}"
    _run_admin(f'CREATE DATABASE "{name}"')
    yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in a fresh data directory."""
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'coachiq.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test once on a SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'coachiq.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``database`` settings section: SQLite in the data directory, or a fresh PostgreSQL."""
    if request.param == "sqlite":
        return {}
    return {"url": request.getfixturevalue("pg_url")}


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[DatabaseManager]:
    """A started, migrated DatabaseManager on ``db_url``."""
    manager = DatabaseManager(db_url)
    await manager.start()
    await manager.upgrade()
    yield manager
    await manager.close()
