"""DatabaseManager: the one place that owns a database engine, its sessions and migrations.

The embedded default is a SQLite file (aiosqlite, WAL journal) in the persistence data directory;
``COACHIQ_DATABASE__URL`` selects another database, PostgreSQL through asyncpg in practice.
Nothing is created at import time: an application builds a manager, starts it and closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from backend.core.config import PRODUCTION_DATA_DIR as _PRODUCTION_DATA_DIR
from backend.services.config_service import REDACTED, SECRET_KEY

if TYPE_CHECKING:
    from alembic.config import Config

    from backend.core.config import Settings

logger = logging.getLogger(__name__)

SQLITE_FILENAME = "coachiq.sqlite3"
BACKUP_DIRNAME = "backups"
PRODUCTION_DATA_DIR = _PRODUCTION_DATA_DIR  # re-exported
REPO_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_DIR = REPO_ROOT / "alembic"
ALEMBIC_INI = REPO_ROOT / "alembic.ini"


class PersistenceError(Exception):
    """Base of the persistence layer's errors; the message is one line a person can act on."""


class DataDirError(PersistenceError):
    """The data directory cannot be created or written."""


class DatabaseNotStartedError(PersistenceError):
    """The manager was used before ``start`` or after ``close``."""


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """Result of a health probe."""

    ok: bool
    latency_ms: float | None
    error: str = ""


def redact_url(url: URL) -> str:
    """``url`` as text with its password and secret-looking query values (password=,
    sslpassword=, ...) shown as ``***``."""
    hidden = {key for key in url.query if SECRET_KEY.search(key)}
    text = url.render_as_string(hide_password=True)
    if not hidden:
        return text
    base, _, query = text.partition("?")
    parts = []
    for item in query.split("&"):
        key, sep, _value = item.partition("=")
        parts.append(f"{key}{sep}{REDACTED}" if key in hidden else item)
    return f"{base}?{'&'.join(parts)}"


def resolve_data_dir(settings: Settings) -> Path:
    """The data directory: the configured one, else /var/lib/coachiq in production."""
    return settings.data_dir()


def prepare_directory(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and prove it can be written.

    An existing directory is left as it is (it may be shared); loose modes are logged.

    Raises:
        DataDirError: one line naming the directory, the reason and what to do.
    """
    try:
        existed = path.is_dir()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        mode = path.stat().st_mode & 0o777
        if existed and mode & 0o077:
            logger.warning(
                "Data directory %s is open to other users (mode %o); chmod 700 it", path, mode
            )
        probe = path / f".write-test-{os.getpid()}"
        try:
            with probe.open("wb") as handle:
                handle.write(b"coachiq")
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            with contextlib.suppress(OSError):  # created but not written: a full disk
                probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataDirError(
            f"persistence data directory {path} cannot be written ({reason}); fix its "
            "permissions or free space, or set COACHIQ_PERSISTENCE__DATA_DIR"
        ) from None
    return path


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the migrations in ``alembic/`` (URL optional)."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, config: Config, revision: str) -> None:
    from alembic import command

    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest migration revision shipped with this code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class DatabaseManager:
    """Owns one engine: sessions, migrations, health. ``close`` may be called twice."""

    def __init__(self, url: str, *, pool_size: int = 5):
        self._url = make_url(url)
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, data_dir: Path | None = None) -> DatabaseManager:
        """The database the settings select: COACHIQ_DATABASE__URL, else SQLite in DATA_DIR."""
        if settings.database.url is not None:
            url = settings.database.url.get_secret_value()
        else:
            directory = data_dir or resolve_data_dir(settings)
            url = f"sqlite+aiosqlite:///{(directory / SQLITE_FILENAME).absolute()}"
        return cls(url, pool_size=settings.database.pool_size)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (the dialect name)."""
        return self._url.get_backend_name()

    @property
    def url(self) -> str:
        """The URL with its password (for Alembic and pg_dump; never log it)."""
        return self._url.render_as_string(hide_password=False)

    @property
    def redacted_url(self) -> str:
        """The URL with the password hidden, also one given in the query string."""
        return redact_url(self._url)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for other databases."""
        if self.backend != "sqlite" or not self._url.database:
            return None
        return Path(self._url.database)

    @property
    def engine(self) -> AsyncEngine:
        """The running engine.

        Raises:
            DatabaseNotStartedError: before ``start`` or after ``close``.
        """
        if self._engine is None:
            raise DatabaseNotStartedError("database is not started")
        return self._engine

    async def start(self) -> None:
        """Create the engine and check that the database answers."""
        if self._engine is not None:
            return
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "pool_pre_ping": True}
        if self.backend == "sqlite":
            path = self.sqlite_path
            if path is not None:
                prepare_directory(path.parent)
                if not path.exists():
                    path.touch(mode=0o600)
            kwargs["connect_args"] = {"timeout": 15}
        else:
            kwargs["pool_size"] = self._pool_size
        engine = create_async_engine(self._url, **kwargs)
        if self.backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except BaseException:
            await self.close()
            raise
        logger.info("Database %s ready", self.redacted_url)

    async def close(self) -> None:
        """Dispose of the engine; safe to call twice."""
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    @asynccontextmanager
    async def get_session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        if self._sessions is None:
            raise DatabaseNotStartedError("database is not started")
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def health(self, limit: float = 2.0) -> DatabaseHealth:
        """Run ``SELECT 1`` and report whether and how fast the database answered."""
        if self._engine is None:
            return DatabaseHealth(False, None, "database is not started")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                async with self._engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError:
            return DatabaseHealth(False, None, f"no answer within {limit:g} s")
        except Exception as exc:
            return DatabaseHealth(False, None, f"{type(exc).__name__}: {exc}")
        return DatabaseHealth(True, round((time.perf_counter() - started) * 1000, 3))

    async def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config(), revision)

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``base`` empties the schema)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_downgrade, alembic_config(), revision)

    async def current_revision(self) -> str | None:
        """The migration revision the database is at (None when never migrated)."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(_current)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while the history writer commits; NORMAL is durable across crashes
    # of the process (a power cut may lose the last commits, never corrupt the file).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
