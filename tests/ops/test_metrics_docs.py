"""docs/metrics.md and the Grafana dashboard name only metrics a running server exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backend.main import create_app
from tests.can.conftest import unique_channel
from tests.factories import make_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\bcoachiq_[a-z0-9_]+")


def _exported(tmp_path: Path) -> set[str]:
    settings = make_settings(
        can={"interfaces": [unique_channel("metricsdoc")]},
        persistence={"enabled": True, "data_dir": tmp_path / "data"},
        # No broker on port 1: the bridge runs (backing off), so its families are exported.
        mqtt={"enabled": True, "url": "mqtt://127.0.0.1:1", "reconnect_min": 5.0},
    )
    with TestClient(create_app(settings)) as client:
        text = client.get("/metrics").text
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_every_documented_and_graphed_metric_is_exported(tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    dashboard = json.loads((DOCS / "grafana" / "coachiq-dashboard.json").read_text())
    graphed = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in NAME.findall(target["expr"])
    }
    documented = set(NAME.findall((DOCS / "metrics.md").read_text()))
    assert len(graphed) >= 20
    assert graphed - exported == set()
    assert documented - exported == set()
    # ... and the table documents every family the server exports.
    families = {n for n in exported if not n.endswith(("_bucket", "_count", "_sum", "_created"))}
    undocumented = {n for n in families if n not in documented and f"{n}_total" not in documented}
    allowed = {"coachiq_process_virtual_memory_bytes", "coachiq_process_start_time_seconds",
               "coachiq_process_max_fds"}  # fmt: skip
    assert undocumented <= allowed, sorted(undocumented - allowed)
