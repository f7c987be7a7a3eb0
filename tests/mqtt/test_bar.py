"""The issue's bar, as a user runs it: ``coachiq serve`` with the MQTT bridge on, and the
Mosquitto command-line clients (``mosquitto_sub``, ``mosquitto_pub``) on the local broker."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.mqtt.conftest import BROKER_HOST, BROKER_PORT, free_port

pytestmark = pytest.mark.mqtt
ROOT = Path(__file__).resolve().parents[2]
LIGHT = "light.living_ceiling"


def sub(*args: str, seconds: float = 2) -> list[tuple[str, str]]:
    """``mosquitto_sub -v`` for ``seconds``: (topic, payload) lines."""
    done = subprocess.run(
        ["mosquitto_sub", "-h", BROKER_HOST, "-p", str(BROKER_PORT), "-v",
         "-W", str(int(seconds)), *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [line.split(" ", 1) for line in done.stdout.splitlines() if line]
    return [(parts[0], parts[1] if len(parts) > 1 else "") for parts in lines]


@pytest.fixture
def serve(broker, prefix, tmp_path):
    if not (shutil.which("mosquitto_sub") and shutil.which("mosquitto_pub")):
        pytest.skip("mosquitto-clients is not installed (apt-get install mosquitto-clients)")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
    env.update(
        COACHIQ_SERVER__PORT=str(port),
        COACHIQ_MQTT__ENABLED="true",
        COACHIQ_MQTT__URL=f"mqtt://{BROKER_HOST}:{BROKER_PORT}",
        COACHIQ_MQTT__ALLOW_MOTION="true",
        COACHIQ_MQTT__TOPIC_PREFIX=prefix,
        COACHIQ_MQTT__DISCOVERY_PREFIX=f"{prefix}-ha",  # the shared broker's HA prefix untouched
        COACHIQ_CAN__INTERFACES=f"bar{port}",
    )
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from backend.cli.main import main; main()", "serve"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                light = httpx.get(f"http://127.0.0.1:{port}/api/entities/{LIGHT}", timeout=1)
                if light.status_code == 200 and light.json()["available"]:
                    break
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        yield prefix
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def test_bar(serve):
    prefix = serve
    configs = dict(sub("-t", f"{prefix}-ha/device/+/config", "--retained-only"))
    platforms = {
        component["p"]
        for payload in configs.values()
        for component in json.loads(payload)["cmps"].values()
    }
    assert {"light", "climate", "sensor", "cover"} <= platforms, platforms
    status = sub("-t", f"{prefix}/+/status", "--retained-only", seconds=1)
    assert len(status) == 1 and status[0][1] == "online"
    coach = status[0][0].split("/")[1]
    base = f"{prefix}/{coach}/{LIGHT}"
    watcher = subprocess.Popen(
        ["mosquitto_sub", "-h", BROKER_HOST, "-p", str(BROKER_PORT), "-v", "-t", f"{base}/state",
         "-W", "5"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)  # the retained state arrives first; the command goes after it
    sent = time.monotonic()
    subprocess.run(
        ["mosquitto_pub", "-h", BROKER_HOST, "-p", str(BROKER_PORT), "-t", f"{base}/set",
         "-m", '{"command":"set","state":"on","brightness":60}'],
        check=True,
    )  # fmt: skip
    seen_at = None
    assert watcher.stdout is not None
    for line in watcher.stdout:
        state = json.loads(line.split(" ", 1)[1])
        if state.get("brightness") == 60 and state.get("state") == "on":
            seen_at = time.monotonic()
            break
    watcher.terminate()
    watcher.wait(5)
    assert seen_at is not None, "the light's state never showed brightness 60"
    assert seen_at - sent < 3.0
