"""Fixtures of the MQTT tests: the local Mosquitto, private brokers, a watching client, the app.

Tests against the shared broker (127.0.0.1:1883) use a fresh topic prefix each. They skip when
the broker can be neither reached nor started, except with ``COACHIQ_REQUIRE_SERVICES=1`` (CI):
then they fail. Tests that stop a broker start their own ``mosquitto`` on a free port with a
configuration written to the test's temporary directory; the shared one is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from backend.main import create_app
from tests.factories import make_settings
from tests.websocket.harness import running_server

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883
BROKER_START = "mosquitto -d -c /etc/mosquitto/mosquitto.conf"
REQUIRE_SERVICES = "COACHIQ_REQUIRE_SERVICES"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES}=1: services are required)")
    pytest.skip(reason)


def port_open(port: int, host: str = BROKER_HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def broker() -> tuple[str, int]:
    """The shared local Mosquitto (started when down), as (host, port)."""
    if not port_open(BROKER_PORT):
        subprocess.run(BROKER_START, shell=True, check=False, capture_output=True, timeout=30)
        deadline = time.monotonic() + 5
        while not port_open(BROKER_PORT) and time.monotonic() < deadline:
            time.sleep(0.1)
    if not port_open(BROKER_PORT):
        _unavailable(f"Mosquitto is not reachable at {BROKER_HOST}:{BROKER_PORT}")
    return BROKER_HOST, BROKER_PORT


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A topic prefix no other test or run uses; its retained messages are cleared after."""
    name = f"coachiq-test-{uuid.uuid4().hex[:10]}"
    yield name
    if port_open(BROKER_PORT):
        await clear_retained(BROKER_HOST, BROKER_PORT, f"{name}/#", f"{name}-ha/#")


async def clear_retained(host: str, port: int, *filters: str) -> None:
    """Publish an empty retained message on every retained topic under ``filters``."""
    async with watching(host, port, *filters) as watch:
        await asyncio.sleep(0.5)  # retained messages arrive right after the subscription
        for topic in {t for t, _, retained in watch.messages if retained}:
            await watch.publish(topic, b"", retain=True)


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((BROKER_HOST, 0))
        return sock.getsockname()[1]


class PrivateBroker:
    """A ``mosquitto`` process of the test's own, on a free port, that the test may stop."""

    def __init__(self, directory: Path, name: str, extra: str = "", config: str | None = None):
        self.directory = directory
        self.name = name
        self.port = free_port()
        self.extra = extra
        self.body = config  # a whole configuration (its listeners included) instead
        self.process: subprocess.Popen[bytes] | None = None
        self.config = directory / f"{name}.conf"
        self.log = directory / f"{name}.log"

    def start(self) -> None:
        """Start (again, on the same port) and wait until it accepts connections."""
        body = self.body
        if body is None:
            body = f"listener {self.port} {BROKER_HOST}\nallow_anonymous true\n{self.extra}"
        # Test-only lines: no persistence, stay root (the files are in a root-only directory).
        self.config.write_text(f"{body}\npersistence false\nuser root\n", encoding="utf-8")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto {self.name} did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop this process (only this one) and wait for it."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def private_brokers(tmp_path: Path) -> Iterator[list[PrivateBroker]]:
    """Make private brokers with ``private_brokers.append``-style use; all stopped after."""
    if shutil.which("mosquitto") is None:
        _unavailable("the mosquitto program is not installed")
    made: list[PrivateBroker] = []
    yield made
    for item in made:
        item.stop()


class Watcher:
    """A plain aiomqtt client that records every message under the topics it subscribes to."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[tuple[str, bytes, bool]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _pump(self) -> None:
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self.messages.append((message.topic.value, payload, bool(message.retain)))
            self._changed.set()

    async def subscribe(self, *topics: str) -> None:
        """Subscribe (QoS 1) to each filter."""
        for topic in topics:
            await self.client.subscribe(topic, qos=1)

    async def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        """Publish at QoS 1."""
        await self.client.publish(topic, payload, qos=1, retain=retain)

    def last(self, topic: str) -> bytes | None:
        """The newest payload seen on ``topic``."""
        for seen, payload, _ in reversed(self.messages):
            if seen == topic:
                return payload
        return None

    async def wait_for(
        self, topic: str, predicate: Any = None, within: float = 20.0, since: int = 0
    ) -> Any:
        """The first JSON (or text) payload on ``topic`` after index ``since`` that satisfies
        ``predicate``; fails the test after ``within`` seconds."""
        index = await self.wait_index(topic, predicate, within, since)
        return decode(self.messages[index][1])

    async def wait_index(
        self, topic: str, predicate: Any = None, within: float = 20.0, since: int = 0
    ) -> int:
        """The index in ``messages`` of what :meth:`wait_for` returns."""
        deadline = asyncio.get_running_loop().time() + within
        index = since
        while True:
            while index < len(self.messages):
                seen, payload, _ = self.messages[index]
                index += 1
                if seen == topic and (predicate is None or predicate(decode(payload))):
                    return index - 1
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [decode(p) for t, p, _ in self.messages if t == topic][-3:]
                raise AssertionError(f"nothing matching on {topic} within {within} s: {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


def decode(payload: bytes) -> Any:
    """JSON when it parses, else the text."""
    text = payload.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


@asynccontextmanager
async def watching(host: str, port: int, *topics: str, **options: Any) -> AsyncIterator[Watcher]:
    """A Watcher connected to host:port (``options``: aiomqtt.Client's, e.g. TLS, user) and
    subscribed to ``topics``."""
    identifier = f"watch-{uuid.uuid4().hex[:8]}"
    async with aiomqtt.Client(host, port, identifier=identifier, **options) as client:
        watcher = Watcher(client)
        await watcher.subscribe(*topics)
        task = asyncio.create_task(watcher._pump(), name="test-mqtt-watcher")
        try:
            yield watcher
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


_channels = iter(range(10**6))


@asynccontextmanager
async def coach_app(
    port: int,
    prefix: str,
    *,
    rvc: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
    **mqtt: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The real app with the simulated coach on a fresh virtual bus and the MQTT bridge on;
    yields an HTTP client and the running bridge."""
    channel = f"mqtt-{os.getpid()}-{next(_channels)}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual", "address_claiming": False},
        features={"enable_simulator": True, "enable_persistence": False},
        rvc=rvc or {},
        safety=safety or {},
        mqtt={
            "enabled": True,
            "url": f"mqtt://{BROKER_HOST}:{port}",
            "topic_prefix": prefix,
            "discovery_prefix": f"{prefix}-ha",
            "coach_id": "testcoach",
            "reconnect_min": 0.2,
            "reconnect_max": 1.0,
            **mqtt,
        },
    )
    app = create_app(settings)
    async with (
        running_server(app) as base,
        httpx.AsyncClient(base_url=base.replace("ws://", "http://"), timeout=5) as http,
    ):
        bridge = app.state.feature_manager.get_feature("mqtt").service
        yield http, bridge


async def wait_until(condition: Any, within: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition()`` until true; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        await asyncio.sleep(0.05)


async def until_parked(http: httpx.AsyncClient, within: float = 15.0) -> None:
    """Wait until the motion interlock has seen the simulated chassis parked."""
    deadline = asyncio.get_running_loop().time() + within
    while not (await http.get("/api/safety")).json()["interlock"]["parked"]:
        assert asyncio.get_running_loop().time() < deadline, "the coach never showed parked"
        await asyncio.sleep(0.1)
