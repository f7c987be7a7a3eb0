"""The persistence feature in an application: enabling, restart, overrides, audit, status."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from backend.core.state import AppState
from backend.main import create_app
from backend.services.feature_manager import (
    FeatureDefinition,
    FeatureManager,
    load_feature_definitions,
)
from tests.factories import make_settings
from tests.persistence.fakes import FakeCommandResult, FakeEntitiesFeature

PERSISTENCE = "backend.services.persistence_service:PersistenceFeature"


def definitions() -> list[FeatureDefinition]:
    return [
        FeatureDefinition("entities", required=True, factory=FakeEntitiesFeature),
        FeatureDefinition(
            "persistence", enabled=False, depends_on=["entities"], factory=PERSISTENCE
        ),
    ]


def settings_for(data_dir: Path, database: dict[str, Any] | None = None, **persistence: Any):
    """Persistence on in ``data_dir``; ``database`` (e.g. ``{"url": ...}``) selects PostgreSQL."""
    return make_settings(
        persistence={"enabled": True, "data_dir": data_dir, **persistence},
        database=database or {},
    )


def feature(client: TestClient, name: str) -> Any:
    return client.app.state.feature_manager.get_feature(name)  # pyright: ignore[reportAttributeAccessIssue]


def on_loop(client: TestClient, fn: Any, *args: Any) -> Any:
    """Run ``fn`` on the application's event loop (where the hooks and the writer live)."""
    assert client.portal is not None
    return client.portal.call(fn, *args)


def test_persistence_enabled_setting_turns_the_feature_on() -> None:
    on = make_settings(persistence={"enabled": True})
    off = make_settings()
    assert FeatureManager.from_yaml(on, AppState(settings=on)).is_enabled("persistence")
    assert not FeatureManager.from_yaml(off, AppState(settings=off)).is_enabled("persistence")


def test_disabled_reason_names_both_switches() -> None:
    """feature_flags.yaml and COACHIQ_PERSISTENCE__ENABLED each turn persistence on."""
    definitions = [
        FeatureDefinition("entities", required=True, factory=FakeEntitiesFeature),
        *[d for d in load_feature_definitions() if d.name == "persistence"],
    ]
    with TestClient(create_app(make_settings(), definitions)) as client:
        listing = client.get("/api/features").json()["features"]
        persistence = next(f for f in listing if f["name"] == "persistence")
        reason = "disabled by feature_flags.yaml and COACHIQ_PERSISTENCE__ENABLED=false"
        assert (persistence["state"], persistence["reason"]) == ("disabled", reason)
        assert client.get("/api/persistence/status").json()["reason"] == reason
    forced_off = make_settings(
        persistence={"enabled": True}, features={"enable_persistence": False}
    )
    manager = FeatureManager.from_yaml(forced_off, AppState(settings=forced_off))
    by_name = {f["name"]: f for f in manager.status()}
    assert by_name["persistence"]["reason"] == "disabled by COACHIQ_FEATURES__ENABLE_PERSISTENCE"


def test_memory_only_status() -> None:
    with TestClient(create_app(make_settings(), definitions())) as client:
        body = client.get("/api/persistence/status").json()
        assert body["enabled"] is False
        assert body["state"] == "disabled"
        assert client.get("/api/persistence/backups").status_code == 503


def test_restart_keeps_history_overrides_audit_and_last_state(
    tmp_path: Path, database_settings: dict[str, Any]
) -> None:
    data = tmp_path / "data"
    backend = "postgresql" if database_settings else "sqlite"
    t0 = time.time() - 100  # history older than the retention (30 days) is pruned on start
    with TestClient(create_app(settings_for(data, database_settings), definitions())) as client:
        manager = feature(client, "entities").entity_manager
        service = feature(client, "entities").service
        manager.change("light_1", ts=t0, brightness=10)
        manager.change("light_1", ts=t0 + 1, brightness=20)
        manager.change("tank_fresh", ts=t0 + 2, level=55.0)
        service.finish(
            FakeCommandResult(
                "cmd-1",
                "light_1",
                {"command": "set", "brightness": 20},
                "confirmed",
                "",
                t0 - 1,
                t0 + 0.5,
                client="192.168.1.20",
            )
        )
        on_loop(client, manager.override_store, "light_1", "Reading lamp", None, True)
        status = client.get("/api/persistence/status").json()
        assert status["state"] == "running"
        assert status["backend"] == backend
        assert status["schema_revision"] == status["schema_head"] == "0002"
        assert status["writer"]["received"] == 3
    assert manager.listeners == [] and manager.history_provider is None  # detached on stop

    with TestClient(create_app(settings_for(data, database_settings), definitions())) as client:
        manager = feature(client, "entities").entity_manager
        light = manager.entities["light_1"]
        assert (light.name, light.hidden) == ("Reading lamp", True)
        assert (light.state, light.restored, light.available) == ({"brightness": 20}, True, False)
        assert light.last_updated == t0 + 1
        assert manager.entities["tank_fresh"].state == {"level": 55.0}
        history = on_loop(client, manager.history_provider, "light_1")
        assert history == [(t0, {"brightness": 10}, True), (t0 + 1, {"brightness": 20}, True)]
        persistence = feature(client, "persistence").service
        audit = on_loop(client, persistence.audit)
        assert [(a.command_id, a.status, a.client) for a in audit] == [
            ("cmd-1", "confirmed", "192.168.1.20")
        ]
        # The restored values are not written back as new history.
        assert client.get("/api/persistence/status").json()["writer"]["received"] == 0
    assert data.exists() == (backend == "sqlite")  # PostgreSQL needs no data directory


def test_history_older_than_retention_is_pruned(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", history_retention_days=1)
    with TestClient(create_app(settings, definitions())) as client:
        manager = feature(client, "entities").entity_manager
        now = time.time()
        manager.change("light_1", ts=now - 3 * 86400, brightness=1)
        manager.change("light_1", ts=now - 60, brightness=2)
        service = feature(client, "persistence").service
        on_loop(client, service.writer.flush)
        assert on_loop(client, service.prune_history) == 1
        history = on_loop(client, manager.history_provider, "light_1")
        assert [h[1] for h in history] == [{"brightness": 2}]
        assert client.get("/api/persistence/status").json()["last_pruned"] == 1


def test_history_answers_from_memory_when_the_database_is_gone(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path / "data"), definitions())) as client:
        manager = feature(client, "entities").entity_manager
        now = time.time()
        manager.change("light_1", ts=now - 2, brightness=1)
        manager.change("light_1", ts=now - 1, brightness=2)
        persistence = feature(client, "persistence")
        on_loop(client, persistence.service.writer.stop)  # nothing in flight, then pull the plug
        on_loop(client, persistence.database_manager.close)
        history = on_loop(client, manager.history_provider, "light_1")
        assert [h[1] for h in history] == [{"brightness": 1}, {"brightness": 2}]
        status = client.get("/api/persistence/status").json()
        assert status["healthy"] is False
        assert status["error"] == "database is not started"
