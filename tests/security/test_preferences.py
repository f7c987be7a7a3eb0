"""Per-account display units: ``GET``/``PUT /api/security/me/preferences``."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from backend.main import create_app
from tests.factories import make_settings
from tests.security.conftest import PASSWORD, bearer, secure_settings, token_for

ROUTE = "/api/security/me/preferences"


def _login(client: TestClient, name: str) -> None:
    response = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text


def test_each_account_keeps_its_own_units_across_a_restart(tmp_path: Path) -> None:
    app = create_app(secure_settings(tmp_path))
    with TestClient(app) as anna, TestClient(app) as ben:
        accounts = app.state.security.accounts
        accounts.add_user("anna", PASSWORD, "viewer")
        accounts.add_user("ben", PASSWORD, "operator")
        _login(anna, "anna")
        _login(ben, "ben")
        assert anna.get(ROUTE).json() == {"units": None, "default_units": "metric"}
        changed = anna.put(ROUTE, json={"units": "us"})
        assert changed.status_code == 200, changed.text
        assert changed.json() == {"units": "us", "default_units": "metric"}
        assert anna.get(ROUTE).json()["units"] == "us"
        assert ben.get(ROUTE).json()["units"] is None  # anna's choice is hers only
        assert ben.put(ROUTE, json={"units": "metric"}).json()["units"] == "metric"
    stored = json.loads((tmp_path / "security.json").read_text())
    assert stored["users"]["anna"]["preferences"] == {"units": "us"}
    with TestClient(create_app(secure_settings(tmp_path))) as anna:
        _login(anna, "anna")
        assert anna.get(ROUTE).json()["units"] == "us"


def test_bad_values_are_422_naming_the_field(tmp_path: Path) -> None:
    app = create_app(secure_settings(tmp_path))
    with TestClient(app) as client:
        app.state.security.accounts.add_user("anna", PASSWORD, "viewer")
        _login(client, "anna")
        for body in ({"units": "imperial"}, {"units": None}, {}, {"units": 1}):
            response = client.put(ROUTE, json=body)
            assert response.status_code == 422, body
            assert [e["field"] for e in response.json()["errors"]] == ["units"], response.json()
        wrong = client.put(ROUTE, json={"units": "imperial"}).json()
        assert wrong["errors"][0]["message"] == "Input should be 'metric' or 'us'"
        response = client.put(ROUTE, json={"units": "metric", "theme": "dark"})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["theme"]
        assert client.get(ROUTE).json()["units"] is None  # nothing was stored


def test_not_logged_in_is_401_and_a_token_or_auth_off_is_409(tmp_path: Path) -> None:
    app = create_app(secure_settings(tmp_path))
    with TestClient(app) as client:
        assert client.get(ROUTE).status_code == 401
        assert client.put(ROUTE, json={"units": "us"}).status_code == 401
        secret = token_for(client, "ha", "admin")
        refused = client.put(ROUTE, json={"units": "us"}, headers=bearer(secret))
        assert refused.status_code == 409
        assert "per account" in refused.json()["detail"]
    open_settings = make_settings(security={"auth": "off"}, persistence={"data_dir": tmp_path})
    with TestClient(create_app(open_settings)) as client:
        response = client.get(ROUTE)
        assert response.status_code == 409
        assert response.json()["errors"] == [
            {"field": "authorization", "message": response.json()["detail"]}
        ]
