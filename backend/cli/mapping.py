"""``coachiq mapping validate FILE``: check a coach mapping with the server's own loader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

mapping_app = typer.Typer(help="Check coach mapping files.", no_args_is_help=True)


@mapping_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The coach mapping YAML file.")],
) -> None:
    """Check FILE as start-up would; exit 1 with one ``file:line: where: what`` line each."""
    from backend.core.coach_mapping import Availability, load_mapping
    from backend.core.config import ConfigError, load_settings
    from backend.core.entity_errors import MappingError
    from backend.integrations.rvc.errors import SpecError
    from backend.integrations.rvc.loader import load_config_data

    try:
        settings = load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(2) from None
    try:
        spec = load_config_data(settings.rvc.spec_path).spec
    except SpecError as exc:
        typer.echo(f"RV-C specification: {exc}", err=True)
        raise typer.Exit(2) from None
    entities = settings.entities
    availability = Availability(entities.availability_floor, entities.availability_grace)
    try:
        mapping = load_mapping(file, spec, availability)
    except MappingError as exc:
        for line in exc.problems:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: valid, {len(mapping.entities)} entities, {len(mapping.areas)} areas")


def register(app: typer.Typer) -> None:
    """Add ``coachiq mapping`` to the root command."""
    app.add_typer(mapping_app, name="mapping")
