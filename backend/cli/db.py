"""``coachiq db``: migrations, backup and restore of the persistence database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from backend.core.config import ConfigError, Settings, load_settings
from backend.services.database_manager import (
    BACKUP_DIRNAME,
    DatabaseManager,
    PersistenceError,
    head_revision,
    resolve_data_dir,
)

db_app = typer.Typer(
    help="The persistence database: migrations, backups, restore.", no_args_is_help=True
)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


async def _with_database(settings: Settings, action: str, revision: str) -> str | None:
    manager = DatabaseManager.from_settings(settings)
    await manager.start()
    try:
        if action == "upgrade":
            await manager.upgrade(revision)
        elif action == "downgrade":
            await manager.downgrade(revision)
        return await manager.current_revision()
    finally:
        await manager.close()


def _run(action: str, revision: str = "head") -> str | None:
    settings = _settings()
    try:
        return asyncio.run(_with_database(settings, action, revision))
    except PersistenceError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise _fail(f"database {action} failed: {type(exc).__name__}: {first}") from None


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations (the server also does this on start)."""
    current = _run("upgrade", revision)
    typer.echo(f"database at revision {current}")


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops every table.")],
) -> None:
    """Revert migrations down to REVISION."""
    current = _run("downgrade", revision)
    typer.echo(f"database at revision {current or 'base'}")


@db_app.command("current")
def current() -> None:
    """Print the database's migration revision and the newest one shipped."""
    revision = _run("current")
    head = head_revision()
    note = "up to date" if revision == head else f"run 'coachiq db upgrade' to reach {head}"
    typer.echo(f"current: {revision or 'none (empty database)'}; head: {head} ({note})")


@db_app.command("backup")
def backup() -> None:
    """Back up the SQLite database to DATA_DIR/backups (works while the server runs)."""
    from backend.services.backup import apply_retention, backup_sqlite

    settings = _settings()
    manager = DatabaseManager.from_settings(settings)
    db_path = manager.sqlite_path
    if db_path is None:
        raise _fail("the database is PostgreSQL: back it up with pg_dump (docs/persistence.md)")
    backup_dir = db_path.parent / BACKUP_DIRNAME
    try:
        made = backup_sqlite(db_path, backup_dir)
        apply_retention(backup_dir, settings.persistence.backup_retention)
    except PersistenceError as exc:
        raise _fail(str(exc)) from None
    typer.echo(str(made.path))


@db_app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A backup file, or the name of one in backups/.")],
) -> None:
    """Replace the SQLite database with a backup; the server must be stopped."""
    from backend.services.backup import restore_sqlite

    settings = _settings()
    manager = DatabaseManager.from_settings(settings)
    db_path = manager.sqlite_path
    if db_path is None:
        raise _fail("the database is PostgreSQL: restore it with pg_restore (docs/persistence.md)")
    backup_dir = resolve_data_dir(settings) / BACKUP_DIRNAME
    source = file if file.exists() or file.is_absolute() else backup_dir / file
    try:
        saved = restore_sqlite(source, db_path, backup_dir)
    except PersistenceError as exc:
        raise _fail(str(exc)) from None
    if saved is not None:
        typer.echo(f"previous database saved as {saved.path}")
    typer.echo(f"restored {db_path} from {source}")


def register(app: typer.Typer) -> None:
    """Add ``coachiq db`` to the command line."""
    app.add_typer(db_app, name="db")
