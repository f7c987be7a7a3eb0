"""Smoke tests of the benchmark scripts: they run, report every key, and nothing is lost.

The budget itself (issue 9) is checked by running the benchmarks, never by a timed test: these
use a tiny load and generous timeouts so that a busy two-core CI machine passes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.core.entity_readers import solar
from backend.integrations.rvc import load_config_data
from backend.services.simulator.load import probe_frame, probe_sent_at
from benchmarks.pipeline import KEYS

ROOT = Path(__file__).resolve().parents[2]


def test_probe_carries_its_send_time_through_decoder_and_reader() -> None:
    config = load_config_data()
    sent = 1_750_000_000.123_4
    can_id, data = probe_frame(config.spec, sent)
    message = config.decoder.decode(can_id, data)
    assert message.name == "SOLAR_CONTROLLER_STATUS"
    assert message.instance == 1
    state = solar(message.signals, None)
    assert probe_sent_at(state, sent + 0.02) == pytest.approx(sent, abs=2e-4)
    # Not a probe: a real controller's values decode to some time, never to a crash.
    assert probe_sent_at({"voltage": None, "current": 3.5}, sent) is None


@pytest.mark.timeout(400)
def test_pipeline_smoke_reports_every_key_and_loses_nothing() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "pipeline.py")]
    command += ["--buses", "1", "--seconds", "0.25", "--clients", "2", "--probe-rate", "40"]
    command += ["--timeout", "120"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=380)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(KEYS) <= set(report)
    assert report["buses"] == 1 and report["clients"] == 2
    assert 300 <= report["sent"] <= 600  # 1,800 frames/s for a quarter of a second
    assert report["received"] == report["sent"]
    assert report["lost"] == 0
    assert report["server_cpu_percent"] >= 0
    assert report["rss_mb_end"] > 0 and report["rss_mb_start"] > 0
    assert report["ws_messages"] >= 0 and report["ws_dropped"] == 0
    assert time.monotonic() - started < 380


@pytest.mark.timeout(300)
def test_decode_benchmark_smoke() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "decode.py"), "--frames", "500"]
    command += ["--repeat", "1"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["frames"] == 500
    assert report["ns_per_frame"] > 0
