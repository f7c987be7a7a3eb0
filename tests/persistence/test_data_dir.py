"""Data directory modes; a directory that cannot be written fails with one clear line."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.core.state import AppState
from backend.main import create_app
from backend.services.database_manager import (
    PRODUCTION_DATA_DIR,
    DataDirError,
    prepare_directory,
    resolve_data_dir,
)
from backend.services.feature_manager import FeatureManager, load_feature_definitions
from tests.factories import make_settings
from tests.persistence.fakes import FakeEntitiesFeature
from tests.persistence.test_feature import definitions, settings_for

REPO = Path(__file__).resolve().parents[2]


def test_modes_memory_development_production(tmp_path: Path) -> None:
    assert resolve_data_dir(make_settings()) == Path("backend/data")
    assert resolve_data_dir(make_settings(environment="production")) == PRODUCTION_DATA_DIR
    chosen = make_settings(environment="production", persistence={"data_dir": tmp_path})
    assert resolve_data_dir(chosen) == tmp_path


def test_created_with_restrictive_permissions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "a" / "data"
    assert prepare_directory(target) == target
    assert target.stat().st_mode & 0o777 == 0o700
    assert not caplog.records
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    prepare_directory(loose)
    assert loose.stat().st_mode & 0o777 == 0o755  # an existing directory is not changed ...
    assert f"Data directory {loose} is open to other users (mode 755)" in caplog.text  # ... but


def test_path_that_is_a_file_fails_the_feature_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(DataDirError) as raised:
        prepare_directory(blocker / "data")
    message = str(raised.value)
    assert "\n" not in message
    assert f"persistence data directory {blocker / 'data'} cannot be written" in message

    with TestClient(create_app(settings_for(blocker / "data"), definitions())) as client:
        status = client.get("/api/persistence/status").json()
        assert status["state"] == "failed"
        assert "cannot be written" in status["reason"]
        assert client.get("/healthz").status_code == 200  # the rest of the server runs


def test_enabled_but_failed_persistence_is_not_ready(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    settings = make_settings(persistence={"enabled": True, "data_dir": blocker / "data"})
    definitions = load_feature_definitions()  # feature_flags.yaml, the others stand-ins
    for definition in definitions:
        if definition.name != "persistence":
            definition.factory = FakeEntitiesFeature
    manager = FeatureManager(definitions, settings, AppState(settings=settings))
    assert manager.is_enabled("persistence")

    async def start() -> list[dict[str, str]]:
        await manager.start_all()
        try:
            return manager.not_ready()
        finally:
            await manager.stop_all()

    problems = [p for p in asyncio.run(start()) if p["feature"] == "persistence"]
    assert len(problems) == 1
    assert problems[0]["state"] == "failed"
    assert problems[0]["reason"].startswith(
        f"DataDirError: persistence data directory {blocker / 'data'} cannot be written"
    )


def _unprivileged(command: list[str]) -> list[str]:
    """As root, drop the capability to override file permissions (root ignores modes)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]


def test_read_only_data_dir_gives_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "readonly"
    data.mkdir()
    data.chmod(0o500)
    env = {**os.environ, "COACHIQ_PERSISTENCE__DATA_DIR": str(data)}
    try:
        result = subprocess.run(
            _unprivileged([sys.executable, "-m", "backend.cli.main", "db", "upgrade"]),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        data.chmod(0o700)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: persistence data directory {data} cannot be written (Permission denied); fix "
        "its permissions or free space, or set COACHIQ_PERSISTENCE__DATA_DIR"
    ]
