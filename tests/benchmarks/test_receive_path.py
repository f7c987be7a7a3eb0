"""Smoke test of the receive-path benchmark: the real app's processing path measured per frame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_receive_path_reports_cpu_per_frame_and_entity_changes(tmp_path: Path) -> None:
    profile = tmp_path / "receive.prof"
    command = [sys.executable, str(ROOT / "benchmarks" / "receive_path.py"), "--buses", "2",
               "--frames", "720", "--rounds", "3", "--profile", str(profile)]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["frames"] == 720 and report["rounds"] == 3 and report["buses"] == 2
    assert 0 < report["us_per_frame_min"] <= report["us_per_frame_median"]
    assert report["changes"] > 0  # the mix changes entities: the whole path ran
    assert profile.stat().st_size > 0
