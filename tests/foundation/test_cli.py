"""The coachiq command line: version, config show and validate."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from backend import __version__
from backend.cli.main import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"coachiq {__version__}"


def test_config_show_is_redacted_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"port": 43114, "api_key": "topsecret"}')
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    summary = json.loads(result.output)
    assert summary["can"]["bus_options"] == {"port": 43114, "api_key": "***"}
    assert "topsecret" not in result.output
    assert summary["server"]["port"] == 8000


def test_config_validate_ok() -> None:
    result = runner.invoke(app, ["config", "validate"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_config_validate_bad_port_exits_1_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_SERVER__PORT", "70000")
    result = runner.invoke(app, ["config", "validate"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "configuration error: COACHIQ_SERVER__PORT: Input should be less than or equal to 65535 "
        "(got '70000')"
    ]
    assert "Traceback" not in result.output


def test_config_validate_unknown_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_FEATURES__ENABLE_TELEPORT", "true")
    result = runner.invoke(app, ["config", "validate"])
    assert result.exit_code == 1
    assert "COACHIQ_FEATURES__ENABLE_TELEPORT: no such feature" in result.output


def test_serve_stops_on_an_unwritable_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("COACHIQ_PERSISTENCE__ENABLED", "true")
    monkeypatch.setenv("COACHIQ_PERSISTENCE__DATA_DIR", str(blocker / "data"))
    result = runner.invoke(app, ["serve", "--port", "8999"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"configuration error: persistence data directory {blocker / 'data'} cannot be written "
        "(Not a directory); fix its permissions or free space, or set "
        "COACHIQ_PERSISTENCE__DATA_DIR"
    )


BAD_MAPPING = """\
coach:
  name: Test coach
areas:
  galley: Galley
entities:
  - entity_id: light.galley
    name: Galley light
    type: lamp
"""


@pytest.mark.parametrize(
    ("argv", "code"), [(["serve", "--port", "8998"], 2), (["config", "validate"], 1)]
)
def test_a_mapping_error_stops_start_up_with_file_and_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path, argv: list[str], code: int
) -> None:
    mapping = tmp_path / "coach.yml"
    mapping.write_text(BAD_MAPPING)
    monkeypatch.setenv("COACHIQ_RVC__COACH_MAPPING_PATH", str(mapping))
    result = runner.invoke(app, argv)
    assert result.exit_code == code
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines, result.output
    assert all(line.startswith(f"configuration error: {mapping}:") for line in lines), lines
    assert any("lamp" in line for line in lines)
    assert "Traceback" not in result.output


def test_an_unknown_bus_type_stops_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__BUSTYPE", "warpdrive")
    result = runner.invoke(app, ["serve", "--port", "8997"])
    assert result.exit_code == 2
    assert result.output.startswith("configuration error: COACHIQ_CAN__BUSTYPE:")
