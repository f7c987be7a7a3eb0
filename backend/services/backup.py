"""SQLite backups: online backup to timestamped files, listing, retention, offline restore.

Backups use SQLite's online backup API, which copies a consistent snapshot while the server
keeps writing (WAL readers do not block the writer). Restore replaces the live database and
needs the server stopped: the running server holds an exclusive lock on ``DATA_DIR/coachiq.lock``.
PostgreSQL is backed up with ``pg_dump`` (docs/persistence.md).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from backend.services.database_manager import PersistenceError, prepare_directory

BACKUP_PREFIX = "coachiq-"
BACKUP_SUFFIX = ".sqlite3"
LOCK_FILENAME = "coachiq.lock"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(PersistenceError):
    """A backup could not be made, found or restored."""


class ServerRunningError(BackupError):
    """The server holds the data directory; stop it first."""


@dataclass(frozen=True, slots=True)
class BackupFile:
    """A backup on disk."""

    name: str
    path: Path
    size_bytes: int
    created_at: datetime


class DataDirLock:
    """An exclusive lock on ``DATA_DIR/coachiq.lock``, freed when the process dies."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / LOCK_FILENAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            ServerRunningError: another process (a running server) holds it.
        """
        if self._handle is not None:
            return
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ServerRunningError(
                f"a CoachIQ server is using {self.path.parent} ({self.path} is locked); "
                "stop it first"
            ) from None
        os.chmod(self.path, 0o600)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Free the lock; safe to call twice."""
        handle, self._handle = self._handle, None
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def _timestamp_name(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{BACKUP_PREFIX}{now:%Y%m%dT%H%M%S-%f}Z{BACKUP_SUFFIX}"


def _describe(path: Path) -> BackupFile:
    stat = path.stat()
    return BackupFile(
        name=path.name,
        path=path,
        size_bytes=stat.st_size,
        created_at=datetime.fromtimestamp(stat.st_mtime, UTC),
    )


def backup_sqlite(db_path: Path, backup_dir: Path) -> BackupFile:
    """Copy the live database to a new timestamped file in ``backup_dir`` (mode 0600).

    Raises:
        BackupError: the database is missing or the copy failed.
        DataDirError: the backup directory cannot be written.
    """
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path} to back up")
    prepare_directory(backup_dir)
    target = backup_dir / _timestamp_name()
    partial = target.with_name(target.name + ".partial")
    try:
        source = sqlite3.connect(db_path, timeout=15)
        try:
            destination = sqlite3.connect(partial)
            try:
                source.backup(destination)
                # The copy carries the live database's WAL mode; a backup is one self-contained
                # file, so opening it later leaves no -wal/-shm files beside it.
                destination.execute("PRAGMA journal_mode=DELETE")
            finally:
                destination.close()
        finally:
            source.close()
        partial.chmod(0o600)
        partial.replace(target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {db_path} failed: {exc}") from exc
    return _describe(target)


def list_backups(backup_dir: Path) -> list[BackupFile]:
    """Backups in ``backup_dir``, newest first."""
    if not backup_dir.is_dir():
        return []
    files = [
        p
        for p in backup_dir.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}")
        if p.is_file() and not p.name.endswith(".partial")
    ]
    return [_describe(p) for p in sorted(files, key=lambda p: p.name, reverse=True)]


def apply_retention(backup_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` backups; return the names deleted."""
    removed = []
    for backup in list_backups(backup_dir)[keep:]:
        backup.path.unlink(missing_ok=True)
        removed.append(backup.name)
    return removed


def check_backup_file(path: Path) -> None:
    """Check that ``path`` is an intact CoachIQ SQLite database.

    Raises:
        BackupError: with what is wrong with the file.
    """
    if not path.is_file():
        raise BackupError(f"no such backup file: {path}")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise BackupError(f"{path} is not a SQLite database")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")
    if "alembic_version" not in tables:
        raise BackupError(f"{path} is not a CoachIQ database (no alembic_version table)")


def restore_sqlite(backup_path: Path, db_path: Path, backup_dir: Path) -> BackupFile | None:
    """Replace the database with ``backup_path``; the server must be stopped.

    The current database is first saved as a backup, whose description is returned.

    Raises:
        ServerRunningError: a server holds the data directory.
        BackupError: the backup is not a usable CoachIQ database or the copy failed.
    """
    check_backup_file(backup_path)
    lock = DataDirLock(db_path.parent)
    lock.acquire()
    try:
        saved = backup_sqlite(db_path, backup_dir) if db_path.is_file() else None
        try:
            source = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
            try:
                destination = sqlite3.connect(db_path)
                try:
                    source.backup(destination)
                    destination.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    destination.close()
            finally:
                source.close()
            db_path.chmod(0o600)
        except (sqlite3.Error, OSError) as exc:
            raise BackupError(f"restore of {backup_path} into {db_path} failed: {exc}") from exc
        return saved
    finally:
        lock.release()
