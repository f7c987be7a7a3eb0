"""The ``coachiq`` command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from backend import __version__
from backend.core.config import ConfigError, Settings, load_settings
from backend.core.optional_modules import present_modules

app = typer.Typer(
    name="coachiq",
    help="CoachIQ: the RV-C control server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Show and check the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

# Command modules of other parts, each exposing ``register(app)``; absent ones are skipped.
COMMAND_MODULES: tuple[str, ...] = (
    "backend.cli.decode",
    "backend.cli.simulate",
    "backend.cli.db",
    "backend.cli.security",
    "backend.cli.mapping",
    "backend.cli.doctor",
)


def _settings_or_exit(code: int = 2) -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(code) from None


def _preflight_problems(settings: Settings) -> list[str]:
    """What would stop the server before it starts: CAN settings and the coach mapping."""
    from backend.core.coach_mapping import validate_coach_mapping
    from backend.services.can_config import validate_can_settings

    problems = validate_can_settings(settings)
    entities_on = settings.features.overrides().get("entities", True)
    if entities_on:
        problems += validate_coach_mapping(settings)
    return problems


def _check_data_dir(settings: Settings) -> None:
    """With SQLite persistence on, an unwritable data directory stops start-up with one line."""
    enabled = settings.features.overrides().get("persistence", settings.persistence.enabled)
    if not enabled or settings.database.url is not None:
        return
    from backend.services.database_manager import (
        DataDirError,
        prepare_directory,
        resolve_data_dir,
    )

    try:
        prepare_directory(resolve_data_dir(settings))
    except DataDirError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"coachiq {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """CoachIQ: the RV-C control server."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8000).")] = None,
) -> None:
    """Run the server."""
    import uvicorn

    from backend.core.logging_config import configure_logging
    from backend.main import create_app
    from backend.ops.notify import run_server
    from backend.security.connections import ConnectionStats, guarded_protocol
    from backend.services.feature_manager import FeatureConfigError

    settings = _settings_or_exit()
    if port is not None and not 1 <= port <= 65535:
        typer.echo("configuration error: --port: must be 1-65535", err=True)
        raise typer.Exit(2)
    problems = _preflight_problems(settings)
    if problems:
        for line in problems:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(2)
    _check_data_dir(settings)
    # The security policy decides by the address actually bound (auth auto: open on loopback).
    settings.server.host = host or settings.server.host
    settings.server.port = port or settings.server.port
    log_config = configure_logging(settings.logging)
    try:
        application = create_app(settings)
    except (FeatureConfigError, ConfigError) as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    config = uvicorn.Config(
        application,
        host=settings.server.host,
        port=settings.server.port,
        log_config=log_config,
        access_log=settings.server.access_log,
        # Per-message compression works per client and undoes encode-once fan-out (+5-11 % CPU
        # and a longer latency tail at one full bus, docs/performance.md); coach Wi-Fi is local.
        ws_per_message_deflate=False,
        # Slow-header and descriptor-exhaustion guard (docs/security.md): h11 with a deadline.
        http=guarded_protocol(
            settings.server.header_timeout, settings.server.max_connections, ConnectionStats()
        ),
    )
    # Under systemd (Type=notify) READY=1 goes out once the socket listens, then WATCHDOG=1 from
    # the event loop; without NOTIFY_SOCKET nothing is sent.
    if not run_server(config):
        raise typer.Exit(3)


@config_app.command("show")
def config_show() -> None:
    """Print the active configuration (secrets redacted) as JSON."""
    from backend.services.config_service import ConfigService

    settings = _settings_or_exit()
    typer.echo(json.dumps(ConfigService(settings).get_config_summary(), indent=2))


@config_app.command("validate")
def config_validate() -> None:
    """Check the configuration; exit 1 with one line per problem."""
    from backend.core.state import AppState
    from backend.services.feature_manager import FeatureConfigError, FeatureManager

    settings = _settings_or_exit(code=1)
    problems = _preflight_problems(settings)
    if problems:
        for line in problems:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(1)
    try:
        FeatureManager.from_yaml(settings, AppState(settings=settings))
    except (FeatureConfigError, ConfigError) as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("configuration is valid")


def _register_commands() -> None:
    for module in present_modules(COMMAND_MODULES):
        module.register(app)


_register_commands()


def main() -> None:
    """Entry point of the ``coachiq`` script."""
    app(prog_name="coachiq")


if __name__ == "__main__":
    sys.exit(main())
