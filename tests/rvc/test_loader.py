"""Loading once, cache clearing, spec errors, the stdlib-only rule, any working directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backend.integrations.rvc import (
    DEFAULT_SPEC_PATH,
    SpecError,
    clear_config_cache,
    load_config_data,
)

REPO = Path(__file__).resolve().parents[2]
TINY_SPEC = {
    "spec": {"title": "RV-C", "edition": "2023-11-06"},
    "layouts": {},
    "dgns": {
        "1FFB7": {
            "name": "TANK_STATUS",
            "priority": 6,
            "broadcast": {"normal_ms": 5000, "max_ms": 5000, "min_ms": 50},
            "frames": 1,
            "pdu1": False,
            "instance": "instance",
            "kind": "status",
            "signals": [
                {"name": "instance", "byte": 0, "type": "uint8"},
                {"name": "relative_level", "byte": 1, "type": "uint8"},
            ],
        }
    },
}


def test_loaded_once_and_cleared() -> None:
    first = load_config_data()
    assert load_config_data() is first
    clear_config_cache()
    second = load_config_data()
    assert second is not first
    assert second.spec_path == DEFAULT_SPEC_PATH


def test_other_spec_path(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY_SPEC))
    config = load_config_data(path)
    assert len(config.spec) == 1
    assert config.decode(0x19FFB742, b"\x01\x32").signals == {"instance": 1, "relative_level": 50}


def test_mapping_json_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"version": 1}')
    (tmp_path / "m.yml").write_text("version: 1\nentities: []\n")
    assert load_config_data(None, tmp_path / "m.json").mapping == {"version": 1}
    assert load_config_data(None, tmp_path / "m.yml").mapping == {"version": 1, "entities": []}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "not found"),
        ("{not json", "cannot read"),
        ('{"dgns": {"1FFFD": {"name": "X"}}}', "not a valid"),
        (
            '{"dgns": {"1FFFD": {"name": "X", "priority": 6, "layout": "NOPE", "signals": []}}}',
            "layout",
        ),
    ],
)
def test_bad_spec_files(tmp_path: Path, content: str | None, match: str) -> None:
    path = tmp_path / "spec.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SpecError, match=match):
        load_config_data(path)


def test_works_from_any_cwd_with_the_standard_library_only(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from backend.integrations.rvc import load_config_data\n"
        "m = load_config_data().decode(0x19FFFD42, '0164020100943577')\n"
        "print(m.signals['dc_voltage'])\n"
        "bad = [n for n in ('can', 'fastapi', 'pydantic', 'sqlalchemy', 'yaml', 'typer')"
        " if n in sys.modules]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO)},
    )
    assert result.stdout.split("\n")[:2] == ["12.9", "[]"]
