"""Smoke test of the soak benchmark: it runs, samples, and reports the verdict's figures.

The soak itself (30 minutes, RSS within 5 %, no rise in tasks or descriptors) is run by hand,
never in the test run; this only checks that the script works end to end on a short run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_soak_smoke_samples_process_queues_and_clients(tmp_path: Path) -> None:
    output = tmp_path / "soak.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--seconds", "12",
               "--interval", "4", "--warmup", "4", "--output", str(output)]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    body = json.loads(output.read_text())
    samples = body["samples"]
    assert [s["t"] for s in samples][:1] == [0.0] and samples[-1]["t"] >= 12
    for sample in samples:
        assert sample["rss_bytes"] > 0 and sample["fds"] > 0 and sample["tasks"] > 0
    assert samples[-1]["ws_clients"] == 2
    assert all(count > 0 for count in samples[-1]["client_messages"])
    queues = body["summary"]["queues"]
    for name in (
        "can_rx:virtual0",
        "can_tx:virtual0",
        "sniffer",
        "history",
        "websocket_outbox_max",
    ):
        assert queues[name]["capacity"] > 0, name
    summary = body["summary"]
    assert summary["frames_received"] > 0
    assert set(summary) >= {"rss_change_percent", "fds", "tasks", "flat"}
