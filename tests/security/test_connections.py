"""Slow and idle connections against the real ``coachiq serve``: sockets that trickle headers are
closed after the header deadline, connections beyond the cap are closed at once, and the server
answers ``/healthz`` again as soon as they are gone."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.e2e.conftest import Server

CAP = 24
HEADER_TIMEOUT = 1.5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(server: Server) -> bool:
    return httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("conn-data")
    env = {
        "COACHIQ_SERVER__HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "COACHIQ_SERVER__MAX_CONNECTIONS": str(CAP),
        "COACHIQ_PERSISTENCE__DATA_DIR": str(data),
    }
    running = Server(_free_port(), data / "server.log", env, ready=_healthy)
    running.start()
    yield running
    running.stop()


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes (EOF or reset) the socket within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_trickled_headers_are_closed_after_the_deadline(server: Server) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < HEADER_TIMEOUT + 5:
            try:
                sock.sendall(b"X-Slow: 1\r\n")  # one header line at a time, never the blank line
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed_by_server(sock, 0.3):
                closed = True
                break
        elapsed = time.monotonic() - started
        assert closed, "the server kept a socket that never finished its headers"
        assert HEADER_TIMEOUT - 0.2 <= elapsed <= HEADER_TIMEOUT + 3, elapsed
    finally:
        sock.close()


def test_connections_beyond_the_cap_are_closed_and_the_server_recovers(server: Server) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(CAP)]
    extra = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
    try:
        time.sleep(0.3)
        # The cap is full: the extra sockets are closed at once, long before the header deadline.
        assert all(_closed_by_server(sock, 0.5) for sock in extra)
        # The idle ones go at the header deadline; then the server answers again.
        assert all(_closed_by_server(sock, HEADER_TIMEOUT + 3) for sock in idle)
        assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
    finally:
        for sock in idle + extra:
            sock.close()


def test_a_normal_keep_alive_client_is_not_disturbed(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(HEADER_TIMEOUT / 3)
    log = server.log_path.read_text()
    assert "Traceback" not in log


async def test_a_websocket_outlives_the_header_deadline(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws/entities"
    async with websockets.connect(url, origin=websockets.Origin(server.base_url)) as ws:
        await asyncio.sleep(HEADER_TIMEOUT * 2)
        await ws.ping()
        message = await asyncio.wait_for(ws.recv(), timeout=5)
        assert message
