"""The issue's bar, run as a user would: ``coachiq users add`` and ``coachiq tokens create``, then
``coachiq serve`` with COACHIQ_SECURITY__AUTH=required, spoken to over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.security.live import LIGHT, SecureServer, cli

PASSWORD = "a long coach passphrase"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SecureServer, str]]:
    data: Path = tmp_path_factory.mktemp("bar-data")
    out = cli(data, "users", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert out == "account admin added (role admin)"
    admin_token = cli(data, "tokens", "create", "ops", "--role", "admin").splitlines()[-1]
    t1 = cli(data, "tokens", "create", "t1", "--role", "operator").splitlines()[-1]
    assert t1.startswith("ciq_")
    server = SecureServer(_free_port(), data / "server.log", data, admin_token)
    server.start()
    yield server, t1
    server.stop()


def test_without_credentials_entities_are_401(bar: tuple[SecureServer, str]) -> None:
    server, _ = bar
    response = httpx.get(f"{server.base_url}/api/entities", timeout=5)
    assert response.status_code == 401
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200


def test_operator_token_reads_and_switches_a_light(bar: tuple[SecureServer, str]) -> None:
    server, t1 = bar
    headers = {"Authorization": f"Bearer {t1}"}
    entities = httpx.get(f"{server.base_url}/api/entities", headers=headers, timeout=5)
    assert entities.status_code == 200 and any(e["entity_id"] == LIGHT for e in entities.json())
    current = httpx.get(f"{server.base_url}/api/entities/{LIGHT}", headers=headers).json()
    target = "off" if current["state"].get("state") == "on" else "on"
    sent = httpx.post(
        f"{server.base_url}/api/entities/{LIGHT}/command",
        json={"command": "set", "state": target},
        headers=headers,
        timeout=5,
    )
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["command_id"]
    deadline = time.monotonic() + 5
    while True:
        view = httpx.get(f"{server.base_url}/api/entities/{LIGHT}", headers=headers).json()
        result = view["last_command_result"]
        if result and result["command_id"] == command_id:
            break
        assert time.monotonic() < deadline, view
        time.sleep(0.05)
    assert result["status"] == "confirmed" and view["state"]["state"] == target


def test_operator_token_may_not_extend_a_slide_nor_send_raw_can(
    bar: tuple[SecureServer, str],
) -> None:
    server, t1 = bar
    headers = {"Authorization": f"Bearer {t1}"}
    slide = httpx.post(
        f"{server.base_url}/api/entities/slide.living/command",
        json={"command": "extend"},
        headers=headers,
        timeout=5,
    )
    assert slide.status_code == 403 and slide.json()["motion_needed"] is True
    raw = httpx.post(
        f"{server.base_url}/api/can/send",
        json={"can_id": "19FEDBF9", "data": "2AFFC800FF00FFFF"},
        headers=headers,
        timeout=5,
    )
    assert raw.status_code == 403 and raw.json()["role_needed"] == "admin"


def test_websocket_from_a_foreign_origin_or_without_credentials_is_refused(
    bar: tuple[SecureServer, str],
) -> None:
    server, t1 = bar
    url = server.base_url.replace("http://", "ws://") + "/ws/entities"

    async def status_of(**kwargs) -> int:
        try:
            async with websockets.connect(url, open_timeout=5, **kwargs) as ws:
                await ws.recv()
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    evil = {"Origin": "http://evil.example", "Authorization": f"Bearer {t1}"}
    assert asyncio.run(status_of(additional_headers=evil)) == 403
    assert asyncio.run(status_of()) == 401
    protocols = ["coachiq", f"coachiq.bearer.{t1}"]
    assert asyncio.run(status_of(subprotocols=protocols)) == 101  # type: ignore[arg-type]
