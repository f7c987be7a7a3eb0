"""The application: health, readiness, features, config, OpenAPI and the offline docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from backend.main import create_app
from backend.services.feature_base import Feature
from backend.services.feature_manager import FeatureDefinition
from tests.factories import make_settings


class Running(Feature):
    """A feature that starts."""


class Broken(Feature):
    """A feature that cannot start."""

    async def start(self) -> None:
        raise OSError("can0: No such device")


def features(can_factory=Running) -> list[FeatureDefinition]:
    return [
        FeatureDefinition("rvc", required=True, factory=Running, description="spec"),
        FeatureDefinition("can", depends_on=["rvc"], required=True, factory=can_factory),
        FeatureDefinition("extra", depends_on=["rvc"], factory=Running),
    ]


def test_healthz_and_readyz_ok() -> None:
    with TestClient(create_app(make_settings(), features())) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"


def test_readyz_503_names_the_failed_required_feature() -> None:
    with TestClient(create_app(make_settings(), features(can_factory=Broken))) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["not_ready"] == [
            {"feature": "can", "state": "failed", "reason": "OSError: can0: No such device"}
        ]
        # The rest of the server still came up.
        assert client.get("/healthz").status_code == 200
        listing = {f["name"]: f for f in client.get("/api/features").json()["features"]}
        assert listing["extra"]["state"] == "running"


def test_api_features_lists_state_dependencies_and_health() -> None:
    settings = make_settings(features={"enable_extra": False})
    with TestClient(create_app(settings, features())) as client:
        listing = client.get("/api/features").json()["features"]
    by_name = {f["name"]: f for f in listing}
    assert [f["name"] for f in listing] == ["rvc", "can", "extra"]
    assert by_name["can"]["depends_on"] == ["rvc"]
    assert by_name["can"]["state"] == "running"
    assert by_name["can"]["health"]["status"] == "healthy"
    assert by_name["extra"] == {
        "name": "extra",
        "description": "",
        "enabled": False,
        "required": False,
        "state": "disabled",
        "depends_on": ["rvc"],
        "health": {
            "status": "unknown",
            "reason": "disabled by COACHIQ_FEATURES__ENABLE_EXTRA",
            "details": {},
        },
        "reason": "disabled by COACHIQ_FEATURES__ENABLE_EXTRA",
    }


def test_config_summary_redacts_secrets() -> None:
    settings = make_settings(
        database={"url": "postgresql+asyncpg://coach:hunter2@db/coachiq"},
        can={"bus_options": {"password": "s3cret", "receive_own_messages": False}},
    )
    with TestClient(create_app(settings, features())) as client:
        config = client.get("/api/config").json()["config"]
    assert config["database"]["url"] == "***"
    assert config["can"]["bus_options"] == {"password": "***", "receive_own_messages": False}
    assert "api_key" not in config["security"]  # the setting that did nothing is gone
    assert "hunter2" not in str(config) and "s3cret" not in str(config)
    assert config["can"]["bitrate"] == 250000


def test_two_apps_in_one_process_are_independent() -> None:
    first = create_app(make_settings(app_name="Coach A"), features())
    second = create_app(
        make_settings(app_name="Coach B", features={"enable_extra": False}), features()
    )
    with TestClient(first) as a, TestClient(second) as b:
        assert a.get("/openapi.json").json()["info"]["title"] == "Coach A"
        assert b.get("/openapi.json").json()["info"]["title"] == "Coach B"
        states_a = {f["name"]: f["state"] for f in a.get("/api/features").json()["features"]}
        states_b = {f["name"]: f["state"] for f in b.get("/api/features").json()["features"]}
    assert states_a["extra"] == "running"
    assert states_b["extra"] == "disabled"
    assert first.state.feature_manager is not second.state.feature_manager


def test_every_route_is_documented() -> None:
    with TestClient(create_app(make_settings(), features())) as client:
        spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), f"{where} has no summary"
            assert operation.get("description"), f"{where} has no description"
            codes = operation["responses"]
            assert any(code.startswith("2") for code in codes), f"{where} has no success response"


def test_docs_are_served_without_any_other_host() -> None:
    with TestClient(create_app(make_settings(), features())) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert urls, "the docs page references its assets"
        for url in urls:
            assert not url.startswith(("http://", "https://", "//")), url
            assert client.get(url).status_code == 200, url
