"""Which mapping file start-up loads once the owner has edited the coach with the wizard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.core import coach_mapping
from backend.core.coach_mapping import (
    DEFAULT_MAPPING_PATH,
    OWNER_MAPPING_NAME,
    active_mapping_path,
    owner_mapping_path,
)
from tests.factories import make_settings


def test_edits_to_a_read_only_mapping_path_are_loaded_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = tmp_path / "etc" / "coach.yml"
    shipped.parent.mkdir()
    shutil.copy(DEFAULT_MAPPING_PATH, shipped)
    data = tmp_path / "data"
    data.mkdir()
    settings = make_settings(
        rvc={"coach_mapping_path": str(shipped)}, persistence={"data_dir": str(data)}
    )
    # The tests run as root, for whom every file is writable: say what a service user sees.
    monkeypatch.setattr(coach_mapping, "_writable", lambda path: Path(path) != shipped)
    assert owner_mapping_path(settings) == data / OWNER_MAPPING_NAME
    assert active_mapping_path(settings) == shipped  # nothing edited yet
    (data / OWNER_MAPPING_NAME).write_text(shipped.read_text())
    assert active_mapping_path(settings) == data / OWNER_MAPPING_NAME


def test_a_writable_mapping_path_is_edited_in_place(tmp_path: Path) -> None:
    shipped = tmp_path / "coach.yml"
    shutil.copy(DEFAULT_MAPPING_PATH, shipped)
    settings = make_settings(
        rvc={"coach_mapping_path": str(shipped)}, persistence={"data_dir": str(tmp_path / "d")}
    )
    assert owner_mapping_path(settings) == shipped
    assert active_mapping_path(settings) == shipped
