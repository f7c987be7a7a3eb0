"""FeatureManager: ordering, cycles, unknown dependencies, overrides, failures."""

from __future__ import annotations

import pytest

from backend.core.state import AppState
from backend.services.feature_base import Feature, FeatureHealth, HealthStatus
from backend.services.feature_manager import (
    FEATURE_FLAGS_PATH,
    FeatureConfigError,
    FeatureDefinition,
    FeatureManager,
    load_feature_definitions,
)
from tests.factories import make_settings

EVENTS: list[str] = []


class Recorder(Feature):
    """Records start and stop order."""

    async def start(self) -> None:
        EVENTS.append(f"start:{self.name}")

    async def stop(self) -> None:
        EVENTS.append(f"stop:{self.name}")


class Broken(Feature):
    """Fails to start."""

    async def start(self) -> None:
        raise RuntimeError("adapter not found")


class Degraded(Recorder):
    """Runs but reports itself degraded."""

    def check_health(self) -> FeatureHealth:
        return FeatureHealth(HealthStatus.DEGRADED, "no CAN activity for 10 s")


def definition(name: str, *deps: str, factory=Recorder, **kwargs) -> FeatureDefinition:
    return FeatureDefinition(name=name, depends_on=list(deps), factory=factory, **kwargs)


def manager(definitions: list[FeatureDefinition], **features) -> FeatureManager:
    settings = make_settings(features=features)
    return FeatureManager(definitions, settings, AppState(settings=settings))


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


async def test_start_in_dependency_order_and_stop_in_reverse() -> None:
    fm = manager(
        [definition("entities", "rvc", "can"), definition("can", "rvc"), definition("rvc")]
    )
    assert fm.order == ["rvc", "can", "entities"]
    await fm.start_all()
    await fm.stop_all()
    assert EVENTS == [
        "start:rvc",
        "start:can",
        "start:entities",
        "stop:entities",
        "stop:can",
        "stop:rvc",
    ]


def test_cycle_is_an_error_naming_the_features() -> None:
    with pytest.raises(FeatureConfigError, match=r"cycle: a -> c -> b -> a"):
        manager([definition("a", "c"), definition("b", "a"), definition("c", "b")])


def test_unknown_dependency_is_an_error_naming_both() -> None:
    with pytest.raises(FeatureConfigError, match="'can' depends on unknown feature 'rvcc'"):
        manager([definition("can", "rvcc")])


def test_unknown_feature_override_is_an_error() -> None:
    with pytest.raises(FeatureConfigError, match="COACHIQ_FEATURES__ENABLE_WARP"):
        manager([definition("rvc")], enable_warp=True)


async def test_disabled_feature_disables_dependents_with_reason() -> None:
    fm = manager(
        [definition("rvc"), definition("can", "rvc"), definition("entities", "can")],
        enable_can=False,
    )
    await fm.start_all()
    status = {item["name"]: item for item in fm.status()}
    assert status["rvc"]["state"] == "running"
    assert status["can"]["state"] == "disabled"
    assert status["can"]["reason"] == "disabled by COACHIQ_FEATURES__ENABLE_CAN"
    assert status["entities"]["state"] == "disabled"
    assert status["entities"]["reason"] == "dependency 'can' is disabled"
    assert EVENTS == ["start:rvc"]


async def test_env_override_enables_a_feature_off_in_yaml() -> None:
    fm = manager([definition("rvc"), definition("sim", enabled=False)], enable_sim=True)
    await fm.start_all()
    assert fm.state("sim").value == "running"


async def test_failed_feature_stops_its_dependents_but_not_the_rest() -> None:
    fm = manager(
        [
            definition("rvc"),
            definition("can", "rvc", factory=Broken, required=True),
            definition("entities", "can", required=True),
            definition("other", "rvc"),
        ]
    )
    await fm.start_all()
    status = {item["name"]: item for item in fm.status()}
    assert status["can"]["state"] == "failed"
    assert status["can"]["reason"] == "RuntimeError: adapter not found"
    assert status["can"]["health"]["status"] == "unhealthy"
    assert status["entities"]["state"] == "stopped"
    assert "dependency 'can' not running" in status["entities"]["reason"]
    assert status["other"]["state"] == "running"
    assert [p["feature"] for p in fm.not_ready()] == ["can", "entities"]


def test_shipped_yaml_names_the_core_features() -> None:
    names = {d.name for d in load_feature_definitions(FEATURE_FLAGS_PATH)}
    assert {"can", "rvc", "entities", "websocket", "simulator", "persistence"} <= names


def test_simulator_defaults_on_with_the_virtual_bus_only() -> None:
    definitions = [definition("can"), definition("simulator", "can", enabled="auto")]
    assert manager(definitions).is_enabled("simulator")
    settings = make_settings(can={"bustype": "socketcan", "interfaces": "can0"})
    fm = FeatureManager(definitions, settings, AppState(settings=settings))
    assert not fm.is_enabled("simulator")


def test_simulator_in_replay_mode_is_disabled_with_the_reason(tmp_path) -> None:
    from fastapi.testclient import TestClient

    from backend.main import create_app

    log = tmp_path / "capture.log"
    log.write_text("(1700000000.000000) can0 19FFFD42#0164020100943577\n")
    settings = make_settings(
        can={"interfaces": f"replay:{log}"},
        features={"enable_persistence": False, "enable_dashboard": False},
    )
    with TestClient(create_app(settings)) as client:
        features = {f["name"]: f for f in client.get("/api/features").json()["features"]}
    simulator = features["simulator"]
    assert simulator["state"] == "disabled"
    assert simulator["enabled"] is False
    assert simulator["reason"].startswith("not applicable: no bus to simulate on")
    assert simulator["health"]["status"] != "healthy"


def test_simulator_off_a_virtual_bus_says_why() -> None:
    definitions = [definition("can"), definition("simulator", "can", enabled="auto")]
    settings = make_settings(can={"bustype": "socketcan", "interfaces": "can0"})
    fm = FeatureManager(definitions, settings, AppState(settings=settings))
    [status] = [s for s in fm.status() if s["name"] == "simulator"]
    assert status["state"] == "disabled"
    assert "'socketcan'" in status["reason"]
