"""A real server for WebSocket tests: uvicorn in the test's loop on a free localhost port.

Also the schema validator every received message goes through, fake producers for the fan-out
tests (an entity manager, an entity service and a CAN service that the test drives), and a raw
client that completes the handshake and then never reads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import uvicorn
from fastapi import FastAPI

from backend.services.entity_errors import CommandValidationError, EntityNotFoundError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "websocket.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": SCHEMA["$defs"]})


SERVER_MESSAGE = _validator("server_message")
CLIENT_MESSAGE = _validator("client_message")


def check_server_message(text: str | bytes) -> dict[str, Any]:
    """Parse a server message and validate it against docs/websocket.schema.json."""
    assert isinstance(text, str), "the server sends text frames"
    message = json.loads(text)
    SERVER_MESSAGE.validate(message)
    return message


@asynccontextmanager
async def running_server(app: FastAPI, sndbuf: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port; yields ``ws://127.0.0.1:PORT``.

    Args:
        app: the application (its lifespan starts and stops the features).
        sndbuf: a small SO_SNDBUF for accepted sockets, so a client that stops reading blocks
            the server's writes after kilobytes rather than megabytes.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sndbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", ws_per_message_deflate=False, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="test-uvicorn")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def receive_until(
    ws: Any, predicate: Callable[[dict[str, Any]], bool], within: float = 5.0
) -> dict[str, Any]:
    """Read (validated) messages until one matches ``predicate``; fail after ``within`` s."""
    async with asyncio.timeout(within):
        while True:
            message = check_server_message(await ws.recv())
            if predicate(message):
                return message


async def expect_type(ws: Any, kind: str, within: float = 5.0) -> dict[str, Any]:
    """The next message, which must be of type ``kind`` (waiting at most ``within`` s)."""
    async with asyncio.timeout(within):
        message = check_server_message(await ws.recv())
    assert message["type"] == kind, message
    return message


def client_frame(text: str) -> bytes:
    """One masked text frame, as a client must send it (RFC 6455 5.2)."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    if length < 126:
        header = bytes([0x81, 0x80 | length])
    else:
        header = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
    return header + mask + masked


@asynccontextmanager
async def stalled_client(url: str) -> AsyncIterator[Callable[[str], None]]:
    """Complete a WebSocket handshake on a tiny receive buffer, then never read.

    Yields a function that sends a text message (the client still talks; it only never reads).
    """
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    path = "/" + url.removeprefix("ws://").partition("/")[2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    try:
        yield lambda text: writer.write(client_frame(text))
    finally:
        writer.transport.abort()


# --- fake producers ------------------------------------------------------------------------------


def entity(entity_id: str, entity_type: str = "light", area: str = "galley", **state: Any) -> dict:
    """An entity record as the entity manager would list it."""
    return {
        "entity_id": entity_id,
        "name": entity_id.replace("_", " ").title(),
        "type": entity_type,
        "area": area,
        "state": dict(state),
        "available": True,
        "last_updated": time.time(),
        "capabilities": [],
    }


class FakeEntityManager:
    """Entities held as records; ``change`` calls the listeners like the real manager."""

    def __init__(self, entities: list[dict]) -> None:
        self.entities = {e["entity_id"]: e for e in entities}
        self.listeners: list[Callable[[Any], None]] = []

    def get_all_entities(self) -> list[dict]:
        return list(self.entities.values())

    def add_change_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def change(self, entity_id: str, **state: Any) -> None:
        record = self.entities[entity_id]
        record["state"] = {**record["state"], **state}
        record["last_updated"] = time.time()
        event = SimpleNamespace(
            entity_id=entity_id,
            entity_type=record["type"],
            area=record["area"],
            state=dict(record["state"]),
            available=True,
            last_updated=record["last_updated"],
            restored=False,
        )
        for listener in list(self.listeners):
            listener(event)


class FakeEntityService:
    """Accepts ``set`` on known entities; records what it was asked."""

    def __init__(self, manager: FakeEntityManager) -> None:
        self.manager = manager
        self.calls: list[tuple[str, dict, Any]] = []
        self.listeners: list[Callable[[Any], None]] = []

    async def execute_command(
        self, entity_id: str, command: dict, *, client: Any = None, owner: Any = None
    ) -> dict:
        if entity_id not in self.manager.entities:
            raise EntityNotFoundError(entity_id)
        if command.get("command") != "set":
            raise CommandValidationError(
                f"unknown command {command.get('command')!r}; light accepts: set", allowed=["set"]
            )
        self.calls.append((entity_id, dict(command), client))
        return {"command_id": f"cmd-{len(self.calls)}", "entity_id": entity_id}

    def add_command_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def finish(self, command_id: str, entity_id: str, status: str) -> None:
        for listener in list(self.listeners):
            listener({"command_id": command_id, "entity_id": entity_id, "status": status})


class FakeCANService:
    """Frame listeners the test feeds with ``emit``."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[Any], None]] = []

    def add_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def emit(self, event: Any) -> None:
        for listener in list(self.listeners):
            listener(event)
