"""``coachiq doctor``: check the installation and say what to do, as text or JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``doctor`` command to the CLI."""

    @app.command()
    def doctor(
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the findings as JSON (for machines).")
        ] = False,
        seconds: Annotated[
            float, typer.Option(help="Seconds to listen to each interface (0.5-60).")
        ] = 5.0,
        passive: Annotated[
            bool,
            typer.Option(help="Send nothing on the bus (no REQUEST for address claims)."),
        ] = False,
        url: Annotated[
            str | None,
            typer.Option(help="Base URL of the running server (default from the settings)."),
        ] = None,
    ) -> None:
        """Check configuration, CAN interfaces, traffic, addresses, disk and the server.

        Each finding is one line: OK, WARN or FAIL, and what to do. Exits 1 when any FAIL.
        """
        from backend.core.config import ConfigError, load_settings
        from backend.ops.doctor import DoctorOptions, Report, Status, run_doctor

        if not 0.5 <= seconds <= 60:
            typer.echo(f"--seconds: must be 0.5-60 (got {seconds:g})", err=True)
            raise typer.Exit(2)
        try:
            settings = load_settings()
        except ConfigError as exc:
            report = Report()
            for line in exc.lines:
                report.add("config", Status.FAIL, line, "fix the variable named")
        else:
            options = DoctorOptions(seconds=seconds, ask_claims=not passive, server_url=url)
            report = run_doctor(settings, options)
        typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.to_text())
        raise typer.Exit(report.exit_code)
