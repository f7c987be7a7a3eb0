"""Roles and grants against the real app: what each token may read and command."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from backend.safety.classify import is_motion_entity
from backend.security.principal import (
    CommandNotAllowedError,
    Principal,
    Role,
    authorize_command,
)
from tests.security.conftest import bearer, token_for


def _wait_available(client: TestClient, entity_id: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if client.get(f"/api/entities/{entity_id}", headers=headers).json()["available"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"{entity_id} never became available")


def test_without_credentials_the_api_is_401_and_the_probes_answer(
    secure_client: TestClient,
) -> None:
    response = secure_client.get("/api/entities")
    assert response.status_code == 401
    body = response.json()
    assert body["role_needed"] == "viewer" and body["errors"][0]["field"] == "authorization"
    assert body["setup_required"] is True and "setup code" in body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert secure_client.get("/healthz").status_code == 200
    assert secure_client.get("/").status_code == 200
    assert secure_client.get("/api/auth/status").json()["setup_required"] is True


def test_operator_token_switches_a_light_but_not_a_slide_nor_raw_can(
    secure_client: TestClient,
) -> None:
    operator = bearer(token_for(secure_client, "t1", "operator"))
    assert secure_client.get("/api/entities", headers=operator).status_code == 200
    _wait_available(secure_client, "light.galley_ceiling", operator)
    light = secure_client.post(
        "/api/entities/light.galley_ceiling/command",
        json={"command": "set", "state": "on"},
        headers=operator,
    )
    assert light.status_code == 202, light.text
    command_id = light.json()["command_id"]
    deadline = time.monotonic() + 5
    result = None
    while time.monotonic() < deadline:
        view = secure_client.get("/api/entities/light.galley_ceiling", headers=operator).json()
        result = view["last_command_result"]
        if result and result["command_id"] == command_id:
            break
        time.sleep(0.05)
    assert result is not None and result["status"] == "confirmed", result
    assert result["client"] == "testclient as token:t1"

    slide = secure_client.post(
        "/api/entities/slide.living/command", json={"command": "extend"}, headers=operator
    )
    assert slide.status_code == 403
    assert slide.json()["motion_needed"] is True and "motion grant" in slide.json()["detail"]
    raw = secure_client.post(
        "/api/can/send", json={"can_id": "19FEDBF9", "data": "00"}, headers=operator
    )
    assert raw.status_code == 403
    assert raw.json()["role_needed"] == "admin"


def test_viewer_may_press_stop_on_a_slide_but_not_switch_a_light(
    secure_client: TestClient,
) -> None:
    viewer = bearer(token_for(secure_client, "wall-panel", "viewer"))
    _wait_available(secure_client, "slide.living", viewer)
    stop = secure_client.post(
        "/api/entities/slide.living/command", json={"command": "stop"}, headers=viewer
    )
    assert stop.status_code == 202, stop.text
    light = secure_client.post(
        "/api/entities/light.galley_ceiling/command",
        json={"command": "set", "state": "on"},
        headers=viewer,
    )
    assert light.status_code == 403
    assert light.json()["role_needed"] == "operator"


def test_motion_grant_lets_an_operator_extend_a_slide(secure_client: TestClient) -> None:
    mover = bearer(token_for(secure_client, "mover", "operator", motion=True))
    _wait_available(secure_client, "slide.living", mover)
    response = secure_client.post(
        "/api/entities/slide.living/command", json={"command": "extend"}, headers=mover
    )
    assert response.status_code != 403, response.text


def test_authorize_command_for_a_service_principal(secure_client: TestClient) -> None:
    manager = secure_client.app.state.feature_manager.get_feature("entities").entity_manager  # type: ignore[attr-defined]
    slide = manager.get_entity("slide.living")
    light = manager.get_entity("light.galley_ceiling")
    assert is_motion_entity(slide) and not is_motion_entity(light)
    mqtt = Principal(name="mqtt", role=Role.OPERATOR, motion=False, kind="service")
    authorize_command(mqtt, light, "set", {"state": "on"})
    authorize_command(mqtt, slide, "stop")
    try:
        authorize_command(mqtt, slide, "extend")
    except CommandNotAllowedError as exc:
        assert exc.status_code == 403 and exc.motion_needed and exc.role_needed is Role.OPERATOR
    else:
        raise AssertionError("an operator without the motion grant moved a slide")
    authorize_command(Principal("mqtt", Role.OPERATOR, True, "service"), slide, "extend")


def test_revoked_token_stops_working_at_once(secure_client: TestClient) -> None:
    token = token_for(secure_client, "gone", "viewer")
    assert secure_client.get("/api/entities", headers=bearer(token)).status_code == 200
    secure_client.app.state.security.accounts.revoke_token("gone")  # type: ignore[attr-defined]
    response = secure_client.get("/api/entities", headers=bearer(token))
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]
