"""The /api/dashboard routes and the page, in an app with fake entity and CAN features."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from backend.main import create_app
from backend.services.dashboard_service import DashboardFeature
from backend.services.feature_base import Feature
from backend.services.feature_manager import FeatureDefinition
from backend.web import STATIC_DIR
from tests.dashboard.fakes import FakeCANService, FakeEntityManager, FakeEntityService, coach
from tests.factories import make_settings


class FakeEntities(Feature):
    """Feature ``entities`` with the attributes the dashboard reads."""

    async def start(self) -> None:
        self.entity_manager = FakeEntityManager(coach())
        self.service = FakeEntityService()


class FakeCAN(Feature):
    """Feature ``can`` with a CANService that takes listeners."""

    async def start(self) -> None:
        self.service = FakeCANService()


def features(dashboard: bool = True) -> list[FeatureDefinition]:
    definitions = [
        FeatureDefinition("can", factory=FakeCAN),
        FeatureDefinition("entities", depends_on=["can"], factory=FakeEntities),
    ]
    if dashboard:
        definitions.append(
            FeatureDefinition("dashboard", depends_on=["entities", "can"], factory=DashboardFeature)
        )
    return definitions


def client(**sections) -> TestClient:
    return TestClient(create_app(make_settings(**sections), features()))


def test_summary_counts_and_alerts_from_settings() -> None:
    with client(dashboard={"black_tank_high": 40}) as c:
        body = c.get("/api/dashboard/summary").json()
    assert body["entities"] == {"total": 11, "available": 11, "unavailable": 0}
    assert body["by_area"] == {"bedroom": 5, "galley": 1, "utility": 5}
    assert [a["alert_id"] for a in body["alerts"]] == ["tank_high:tank.black_water"]
    assert body["alerts"][0]["severity"] == "warning"
    assert [i["name"] for i in body["interfaces"]] == ["virtual0"]


def test_bulk_answers_per_entity_without_motor_loads() -> None:
    with client() as c:
        response = c.post("/api/dashboard/bulk", json={"action": "off", "area": "bedroom"})
        assert response.status_code == 200
        results = {r["entity_id"]: r["status"] for r in response.json()["results"]}
        assert results == {
            "light.bedroom_ceiling": "accepted",
            "light.bedroom_reading": "accepted",
            "awning.patio": "skipped",
            "slide.bedroom": "skipped",
            "shade.bedroom_night": "skipped",
        }
        feed = c.get("/api/dashboard/activity", params={"limit": 10}).json()
    assert feed["entries"][0]["kind"] == "bulk"
    assert feed["entries"][0]["message"] == "Bulk 'off': 2 accepted, 3 skipped, 0 failed"
    assert isinstance(feed["started_at"], float)
    commands = [e for e in feed["entries"] if e["kind"] == "command"]
    assert {e["entity_id"] for e in commands} == {"light.bedroom_ceiling", "light.bedroom_reading"}


def test_bulk_by_ids() -> None:
    with client() as c:
        response = c.post(
            "/api/dashboard/bulk",
            json={"action": "on", "entity_ids": ["light.galley_ceiling", "missing.one"]},
        )
        service = c.app.state.feature_manager.get_feature("entities").service  # pyright: ignore[reportAttributeAccessIssue]
    assert [(r["entity_id"], r["status"]) for r in response.json()["results"]] == [
        ("missing.one", "error"),
        ("light.galley_ceiling", "accepted"),
    ]
    # The command audit's "who" is the requesting client's address, as for REST commands.
    assert service.clients == ["testclient"]


def test_bad_bulk_requests_are_422_with_the_reason() -> None:
    with client() as c:
        empty = c.post("/api/dashboard/bulk", json={"action": "off"})
        assert empty.status_code == 422
        assert "give entity_ids, or a type and/or an area" in empty.json()["detail"]
        action = c.post("/api/dashboard/bulk", json={"action": "explode", "type": "light"})
        assert action.status_code == 422
        assert action.json()["errors"][0]["field"] == "action"
        limit = c.get("/api/dashboard/activity", params={"limit": 0})
        assert limit.status_code == 422


def test_routes_answer_503_when_the_dashboard_feature_is_off() -> None:
    app = create_app(make_settings(), features(dashboard=False))
    with TestClient(app) as c:
        response = c.get("/api/dashboard/summary")
    assert response.status_code == 503
    assert "dashboard" in response.json()["detail"]


def test_the_page_and_its_assets_are_served_by_coachiq() -> None:
    with client() as c:
        page = c.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/js/app.js">' in page.text
        for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
            assert c.get(path).status_code == 200, path
        script = c.get("/static/js/app.js")
        assert script.headers["content-type"].startswith(
            ("text/javascript", "application/javascript")
        )
        assert c.get("/favicon.ico").status_code == 200
        assert c.get("/static/../main.py").status_code == 404


def test_no_asset_refers_to_another_host() -> None:
    assets = [p for p in Path(STATIC_DIR).rglob("*") if p.is_file() and p.suffix != ".svg"]
    assert {p.suffix for p in assets} >= {".html", ".css", ".js"}
    for path in assets:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{path} names another host"
        assert "@import url(" not in text
        for module in re.findall(r'^import .* from "([^"]+)";$', text, re.MULTILINE):
            assert module.startswith("./"), f"{path} imports {module}"
