"""``coachiq mapping validate FILE`` and the owner's mapping file in the data directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import can
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, OWNER_MAPPING_NAME, shipped_models
from backend.main import create_app
from tests.factories import make_settings
from tests.mapping.conftest import send, wait_for

runner = CliRunner()
COACHIQ = Path(sys.executable).with_name("coachiq")


def test_validate_a_good_file_exits_0() -> None:
    result = subprocess.run(
        [str(COACHIQ), "mapping", "validate", str(DEFAULT_MAPPING_PATH)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{DEFAULT_MAPPING_PATH}: valid, ")


def test_validate_a_broken_file_names_file_and_line(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if "status: [TANK_STATUS]" in line)
    lines[index] = lines[index].replace("TANK_STATUS", "TANK_STATUS_9")
    broken = tmp_path / "broken.yml"
    broken.write_text("".join(lines), encoding="utf-8")
    result = subprocess.run(
        [str(COACHIQ), "mapping", "validate", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{broken}:{index + 1}: ")
    assert "unknown DGN 'TANK_STATUS_9'" in first
    assert "Traceback" not in result.stderr


def test_validate_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mapping", "validate", str(tmp_path / "none.yml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


@pytest.mark.parametrize("model", shipped_models())
def test_every_shipped_mapping_validates(model: str) -> None:
    path = DEFAULT_MAPPING_PATH.with_name(f"coach_mapping.{model}.yml")
    result = runner.invoke(app, ["mapping", "validate", str(path)])
    assert result.exit_code == 0, result.output


def test_edits_go_to_the_data_directory_and_are_loaded_at_the_next_start(tmp_path: Path) -> None:
    """Without COACHIQ_RVC__COACH_MAPPING_PATH the owner's file lives in the data directory;
    the next start loads it instead of the shipped mapping, which is never written."""
    shipped_before = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
    data_dir = tmp_path / "data"
    channel = f"mapping-dir-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        persistence={"data_dir": data_dir},
        features={"enable_simulator": False, "enable_persistence": False},
    )
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        with TestClient(create_app(settings)) as client:

            def seen() -> bool:
                send(peer, 0x19FEDA83, "1EFFC8FCFF00FFFF")  # dimmer instance 30: unmapped
                return any(r["instance"] == 30 for r in client.get("/api/entities/unmapped").json())

            wait_for(seen)
            summary = client.get("/api/mapping").json()
            assert summary["path"] == str(DEFAULT_MAPPING_PATH)
            assert summary["target"] == str(data_dir / OWNER_MAPPING_NAME)
            answer = client.post(
                "/api/mapping/entities",
                json={"dgn": "DC_DIMMER_STATUS_3", "instance": 30, "name": "Step light"},
            )
            assert answer.status_code == 200, answer.text
        assert (data_dir / OWNER_MAPPING_NAME).is_file()
        assert DEFAULT_MAPPING_PATH.read_text(encoding="utf-8") == shipped_before
        with TestClient(create_app(settings)) as client:
            assert client.get("/api/entities/light.step_light").status_code == 200
            assert client.get("/api/mapping").json()["path"] == str(data_dir / OWNER_MAPPING_NAME)
    finally:
        peer.shutdown()


def test_a_writable_mapping_path_is_edited_in_place(tmp_path: Path) -> None:
    owner = tmp_path / "mine.yml"
    owner.write_text(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(
        rvc={"coach_mapping_path": owner}, persistence={"data_dir": tmp_path / "data"}
    )
    from backend.core.coach_mapping import active_mapping_path, owner_mapping_path

    assert owner_mapping_path(settings) == owner
    assert active_mapping_path(settings) == owner
