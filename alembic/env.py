"""Alembic environment: runs on a connection the server passes in, or opens one itself.

The server (``DatabaseManager.upgrade``) hands its connection in ``config.attributes``; the
``alembic`` command line opens one from ``sqlalchemy.url`` or the CoachIQ settings.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from sqlalchemy.engine import Connection

from alembic import context
from backend.services.db_models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    from backend.core.config import load_settings
    from backend.services.database_manager import DatabaseManager

    url = config.get_main_option("sqlalchemy.url")
    manager = DatabaseManager(url) if url else DatabaseManager.from_settings(load_settings())
    await manager.start()
    try:
        async with manager.engine.begin() as connection:
            await connection.run_sync(_configure)
    finally:
        await manager.close()


def run_migrations_offline() -> None:
    """Emit SQL for ``alembic upgrade --sql``."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or "sqlite://",
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the given connection, else on one of our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_with_own_engine())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
