"""``GET /metrics`` on the real application: names, values a user would graph, bounded labels."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import can
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backend.main import create_app
from tests.can.conftest import unique_channel
from tests.factories import make_settings

# Every family the issue names (frames, DGNs, decode errors, bus load, interface state and
# reconnects, error frames, entities, commands and latency, WebSocket, queues, process).
EXPECTED = {
    "coachiq_can_frames_received",
    "coachiq_can_frames_sent",
    "coachiq_can_frames_dropped",
    "coachiq_can_dgn_frames",
    "coachiq_can_decode_errors",
    "coachiq_can_bus_load_percent",
    "coachiq_can_interface_state",
    "coachiq_can_reconnects",
    "coachiq_can_error_frames",
    "coachiq_entities",
    "coachiq_commands",
    "coachiq_command_confirmation_seconds",
    "coachiq_websocket_clients",
    "coachiq_websocket_messages_sent",
    "coachiq_websocket_messages_dropped",
    "coachiq_queue_items",
    "coachiq_queue_capacity",
    "coachiq_process_cpu_seconds",
    "coachiq_process_resident_memory_bytes",
    "coachiq_asyncio_tasks",
}


def scrape(client: TestClient) -> dict[str, Any]:
    """{family name: {tuple(sorted label items) -> value}} of one scrape."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    result: dict[str, Any] = {}
    for family in text_string_to_metric_families(response.text):
        samples = result.setdefault(family.name, {})
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return result


def value(metrics: dict[str, Any], family: str, sample: str | None = None, **labels: str) -> float:
    """One sample's value (the family's own name unless ``sample`` names a suffixed one)."""
    key = (sample or family, tuple(sorted(labels.items())))
    return metrics[family][key]


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_default_app_counts_the_simulated_coach_and_names_everything_coachiq() -> None:
    channel = unique_channel("metrics")
    settings = make_settings(can={"interfaces": [channel]})
    with TestClient(create_app(settings)) as client:
        metrics = wait_until(
            lambda: (m := scrape(client))
            and value(m, "coachiq_can_frames_received", "coachiq_can_frames_received_total",
                      interface=channel) > 0
            and value(m, "coachiq_entities", state="available") > 0
            and any(("dgn", "1FEDA") in labels for _n, labels in m["coachiq_can_dgn_frames"])
            and m
        )  # fmt: skip
        assert all(name.startswith("coachiq_") for name in metrics)
        assert set(metrics) >= EXPECTED, sorted(EXPECTED - set(metrics))
        assert value(metrics, "coachiq_can_interface_state", interface=channel, state="up") == 1
        assert value(metrics, "coachiq_can_interface_state", interface=channel, state="failed") == 0
        assert value(metrics, "coachiq_can_bus_load_percent", interface=channel) >= 0
        assert value(metrics, "coachiq_entities", state="available") > 0
        # The simulator broadcasts DC_DIMMER_STATUS_3 (1FEDA) for its lights.
        dimmer = [
            v for (name, labels), v in metrics["coachiq_can_dgn_frames"].items()
            if ("dgn", "1FEDA") in labels and ("direction", "rx") in labels
        ]  # fmt: skip
        assert dimmer and dimmer[0] > 0
        rx_capacity = value(metrics, "coachiq_queue_capacity", queue="can_rx", interface=channel)
        assert rx_capacity == settings.can.rx_queue_size
        assert value(metrics, "coachiq_asyncio_tasks") > 0
        assert value(metrics, "coachiq_process_resident_memory_bytes") > 10_000_000


def test_a_confirmed_command_is_counted_with_its_latency() -> None:
    settings = make_settings(can={"interfaces": [unique_channel("metrics")]})
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/api/entities/light.galley_ceiling").json().get("available"))
        response = client.post(
            "/api/entities/light.galley_ceiling/command", json={"command": "set", "brightness": 60}
        )
        assert response.status_code == 202, response.text

        def confirmed() -> dict[str, Any] | None:
            m = scrape(client)
            return m if value(m, "coachiq_commands", "coachiq_commands_total",
                              outcome="confirmed") == 1 else None  # fmt: skip

        metrics = wait_until(confirmed)
        assert value(metrics, "coachiq_commands", "coachiq_commands_total", outcome="sent") == 1
        family = "coachiq_command_confirmation_seconds"
        assert value(metrics, family, f"{family}_count") == 1
        latency = value(metrics, family, f"{family}_sum")
        assert 0 < latency < settings.entities.command_timeout
        assert value(metrics, family, f"{family}_bucket", le="+Inf") == 1


def test_unknown_dgns_do_not_grow_the_label_set_and_error_frames_are_counted() -> None:
    channel = unique_channel("metrics")
    settings = make_settings(can={"interfaces": [channel]}, features={"enable_simulator": False})
    with TestClient(create_app(settings)) as client:
        can_service = client.app.state.feature_manager.get_feature("can").service  # type: ignore[attr-defined]
        before = len(scrape(client)["coachiq_can_dgn_frames"])
        peer = can.Bus(interface="virtual", channel=channel)
        try:
            # 300 DGNs the specification does not define (0x0F000-0x0F12B) ...
            for n in range(300):
                dgn = 0x0F000 + n
                peer.send(can.Message(arbitration_id=(6 << 26) | (dgn << 8) | 0x42, data=b"\x00"))
            # ... and two error frames from the controller.
            for _ in range(2):
                peer.send(can.Message(is_error_frame=True, arbitration_id=0x20000004))
            wait_until(lambda: can_service.stats.unknown_frames >= 300)
        finally:
            peer.shutdown()
        metrics = wait_until(
            lambda: (m := scrape(client))
            and value(m, "coachiq_can_error_frames", "coachiq_can_error_frames_total",
                      interface=channel) == 2
            and m
        )  # fmt: skip
        samples = metrics["coachiq_can_dgn_frames"]
        assert len(samples) <= before + 2  # DGNs seen before plus at most unknown rx/tx
        unknown = value(metrics, "coachiq_can_dgn_frames", "coachiq_can_dgn_frames_total",
                        dgn="unknown", name="", direction="rx")  # fmt: skip
        assert unknown >= 300
        assert (
            value(metrics, "coachiq_can_unknown_frames", "coachiq_can_unknown_frames_total") >= 300
        )


def test_decode_errors_are_counted() -> None:
    settings = make_settings(
        can={"interfaces": [unique_channel("metrics")]}, features={"enable_simulator": False}
    )
    with TestClient(create_app(settings)) as client:
        can_service = client.app.state.feature_manager.get_feature("can").service  # type: ignore[attr-defined]
        # DC_DIMMER_STATUS_3 with data that cannot be read as bytes.
        can_service.process_frame("x", 0x19FEDA42, [300, 1])  # type: ignore[arg-type]
        metrics = scrape(client)
        assert value(metrics, "coachiq_can_decode_errors", "coachiq_can_decode_errors_total") == 1


def test_websocket_clients_and_history_writer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = make_settings(
        can={"interfaces": [unique_channel("metrics")]},
        persistence={"enabled": True, "data_dir": data, "history_flush_interval": 0.05},
    )
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws/entities"):
        metrics = wait_until(
            lambda: (
                (m := scrape(client))
                and value(m, "coachiq_history_rows_written", "coachiq_history_rows_written_total")
                > 0
                and m
            )
        )
        assert value(metrics, "coachiq_websocket_clients", endpoint="entities") == 1
        assert value(metrics, "coachiq_websocket_clients", endpoint="sniffer") == 0
        assert value(metrics, "coachiq_data_dir_bytes") > 0
        assert value(metrics, "coachiq_data_dir_free_bytes") > 0
        capacity = value(metrics, "coachiq_queue_capacity", queue="history", interface="")
        assert capacity == settings.persistence.history_queue_size
        capacity = value(metrics, "coachiq_queue_capacity", queue="fault_history", interface="")
        assert capacity == settings.persistence.fault_queue_size
        assert (
            value(metrics, "coachiq_fault_history_dropped", "coachiq_fault_history_dropped_total")
            == 0
        )
        assert (
            value(metrics, "coachiq_history_rows_dropped", "coachiq_history_rows_dropped_total")
            == 0
        )


def test_openmetrics_when_asked() -> None:
    settings = make_settings(
        can={"interfaces": [unique_channel("metrics")]}, features={"enable_simulator": False}
    )
    with TestClient(create_app(settings)) as client:
        response = client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.rstrip().endswith("# EOF")
        assert "coachiq_can_frames_received_total" in response.text


def test_metrics_off_answers_503_naming_the_switch() -> None:
    settings = make_settings(
        can={"interfaces": [unique_channel("metrics")]}, features={"enable_metrics": False}
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
        assert response.status_code == 503
        assert "COACHIQ_FEATURES__ENABLE_METRICS" in response.json()["detail"]


def test_metrics_starts_after_the_features_it_reads() -> None:
    settings = make_settings(can={"interfaces": [unique_channel("metrics")]})
    order = create_app(settings).state.feature_manager.order
    assert order[-1] == "metrics"


def test_metrics_need_a_viewer_when_auth_is_required(tmp_path: Path) -> None:
    from tests.security.conftest import bearer, token_for

    settings = make_settings(
        can={"interfaces": [unique_channel("metrics")]},
        features={"enable_simulator": False},
        security={"auth": "required"},
        persistence={"data_dir": tmp_path},
    )
    with TestClient(create_app(settings)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert "coachiq_" not in refused.text
        token = token_for(client, "prometheus", "viewer")
        allowed = client.get("/metrics", headers=bearer(token))
        assert allowed.status_code == 200
        assert "coachiq_can_frames_received_total" in allowed.text
