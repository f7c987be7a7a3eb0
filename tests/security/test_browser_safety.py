"""Origin, CSRF, Host and body limits against the app (with auth open on loopback, too)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from backend.main import create_app
from tests.factories import make_settings
from tests.security.conftest import bearer, token_for

EVIL = {"Origin": "http://evil.example"}


@pytest.fixture
def open_client() -> TestClient:
    """The quick start: auth auto on 127.0.0.1 (open)."""
    with TestClient(create_app(make_settings())) as client:
        yield client  # type: ignore[misc]


def test_quick_start_is_open_on_loopback(open_client: TestClient) -> None:
    assert open_client.get("/api/entities").status_code == 200
    status = open_client.get("/api/auth/status").json()
    assert status["active"] is False and status["warning"] is None


def test_a_cross_site_websocket_is_refused_even_with_auth_open(open_client: TestClient) -> None:
    for path in ("/ws/entities", "/ws/can-sniffer"):
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            open_client.websocket_connect(path, headers=EVIL),
        ):
            pass
        assert refused.value.status_code == 403
    own = {"Origin": "http://testserver"}
    with open_client.websocket_connect("/ws/entities", headers=own) as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_allowed_origins_setting_admits_another_origin() -> None:
    settings = make_settings(security={"allowed_origins": "http://evil.example"})
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/ws/entities", headers=EVIL) as ws,
    ):
        assert ws.receive_json()["type"] == "snapshot"


def test_a_cross_site_post_is_refused_csrf(open_client: TestClient) -> None:
    body = {"command": "set", "state": "on"}
    response = open_client.post(
        "/api/entities/light.galley_ceiling/command", json=body, headers=EVIL
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "origin"
    no_origin = open_client.post(
        "/api/entities/light.galley_ceiling/command",
        json=body,
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert no_origin.status_code == 403
    # reading is not state-changing: a GET with a foreign Origin is answered (CORS keeps the
    # page from reading it; there are no CORS headers)
    read = open_client.get("/api/entities", headers=EVIL)
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


def test_dns_rebinding_host_is_refused_but_addresses_and_probes_pass(
    open_client: TestClient,
) -> None:
    rebound = open_client.get("/api/entities", headers={"Host": "attacker.example:8000"})
    assert rebound.status_code == 400
    assert "COACHIQ_SECURITY__ALLOWED_HOSTS" in rebound.json()["detail"]
    for host in ("127.0.0.1:8000", "localhost:8000", "192.168.1.50:8000", "[::1]:8000"):
        assert open_client.get("/api/entities", headers={"Host": host}).status_code == 200
    assert open_client.get("/healthz", headers={"Host": "attacker.example"}).status_code == 200


def test_allowed_hosts_setting_adds_a_name() -> None:
    settings = make_settings(security={"allowed_hosts": "coach.example"})
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/entities", headers={"Host": "coach.example"}).status_code == 200


def test_bodies_over_the_cap_are_413(open_client: TestClient) -> None:
    huge = b'{"name": "' + b"x" * (1 << 20) + b'"}'
    response = open_client.patch(
        "/api/entities/light.galley_ceiling",
        content=huge,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["limit"] == 1 << 20

    def chunks():
        for _ in range(20):
            yield b"x" * 65536

    streamed = open_client.patch(
        "/api/entities/light.galley_ceiling",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


def test_websocket_with_a_token_in_the_subprotocol(tmp_path) -> None:
    settings = make_settings(security={"auth": "required"}, persistence={"data_dir": tmp_path})
    with TestClient(create_app(settings)) as client:
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/ws/entities"),
        ):
            pass
        assert refused.value.status_code == 401
        token = token_for(client, "panel", "viewer")
        protocols = ["coachiq", f"coachiq.bearer.{token}"]
        with client.websocket_connect("/ws/entities", subprotocols=protocols) as ws:
            assert ws.accepted_subprotocol == "coachiq"
            assert ws.receive_json()["type"] == "snapshot"
            ws.send_json(
                {"type": "command", "entity_id": "light.galley_ceiling", "command": "set",
                 "state": "on", "id": 7}
            )  # fmt: skip
            while True:
                message = ws.receive_json()
                if message.get("type") == "command_result":
                    break
            assert message["status"] == "rejected"
            assert message["error"]["code"] == "forbidden"
            assert message["error"]["http_status"] == 403
        with client.websocket_connect("/ws/can-sniffer", headers=bearer(token)) as ws:
            pass


def test_names_are_bounded_and_areas_must_be_known(open_client: TestClient) -> None:
    url = "/api/entities/light.galley_ceiling"
    long = open_client.patch(url, json={"name": "x" * 101})
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "name"
    unknown = open_client.patch(url, json={"area": "garage_of_doom"})
    assert unknown.status_code == 422
    assert "galley" in unknown.json()["allowed"]
    moved = open_client.patch(url, json={"area": "bedroom", "name": "x" * 100})
    assert moved.status_code == 200 and moved.json()["area"] == "bedroom"


def test_auto_requires_credentials_off_loopback_and_off_warns(tmp_path, caplog) -> None:
    network = make_settings(server={"host": "0.0.0.0"}, persistence={"data_dir": tmp_path})
    with TestClient(create_app(network)) as client:
        assert client.get("/api/entities").status_code == 401
        assert client.get("/api/auth/status").json()["active"] is True
    caplog.set_level("WARNING", logger="backend.security.service")
    off = make_settings(
        server={"host": "0.0.0.0"},
        security={"auth": "off"},
        persistence={"data_dir": tmp_path},
    )
    with TestClient(create_app(off)) as client:
        assert client.get("/api/entities").status_code == 200
        warning = client.get("/api/auth/status").json()["warning"]
    assert "authentication is OFF" in warning and "0.0.0.0" in warning
    assert any("SECURITY WARNING" in r.getMessage() for r in caplog.records)
