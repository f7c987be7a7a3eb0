"""Many coaches: a coach's Mosquitto bridged to a "fleet" Mosquitto with the shipped example
configuration (config/mosquitto/), over TLS with per-coach credentials and the fleet ACL.

Two brokers of the test's own on free ports: the coach's (the bridge's broker, where CoachIQ
publishes) and the fleet's. A fleet client sees the coach's state under
``fleet/<coach_id>/coachiq/...`` and sends a command that CoachIQ confirms; another coach's
credentials can neither read nor command it.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from tests.mqtt.conftest import PrivateBroker, coach_app, watching

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "mosquitto"
COACH = "testcoach"
LIGHT = "light.galley_ceiling"


def run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 (subjectAltName IP), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=CoachIQ test fleet CA", "-keyout", "ca.key", "-out", "ca.crt",
        cwd=directory)  # fmt: skip
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr", cwd=directory)  # fmt: skip
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt",
        cwd=directory)  # fmt: skip
    return {name: directory / name for name in ("ca.crt", "server.crt", "server.key")}


def make_passwords(directory: Path, users: dict[str, str]) -> Path:
    path = directory / "passwords"
    for n, (user, password) in enumerate(users.items()):
        flags = ["-c"] if n == 0 else []
        run("mosquitto_passwd", *flags, "-b", str(path), user, password, cwd=directory)
    return path


def fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(key, value)
    settings = [line for line in template.splitlines() if not line.startswith("#")]
    assert not [line for line in settings if "<" in line], f"unfilled placeholder:\n{template}"
    return template


@pytest.fixture
def fleet(private_brokers, tmp_path):
    """(fleet broker, coach broker, CA file): the shipped configurations, filled in."""
    certs = make_certificates(tmp_path)
    passwords = make_passwords(
        tmp_path, {COACH: "coach-secret", "othercoach": "other-secret", "fleet-admin": "admin"}
    )
    acl = tmp_path / "fleet-acl"
    acl.write_text((EXAMPLES / "fleet-acl").read_text())
    fleet_broker = PrivateBroker(tmp_path, "fleet")
    fleet_conf = fill(
        (EXAMPLES / "fleet-broker.conf").read_text(),
        {
            "listener 8883": f"listener {fleet_broker.port} 127.0.0.1",
            "<ca-file>": str(certs["ca.crt"]),
            "<server-cert-file>": str(certs["server.crt"]),
            "<server-key-file>": str(certs["server.key"]),
            "<password-file>": str(passwords),
            "<acl-file>": str(acl),
        },
    )
    fleet_broker.body = fleet_conf
    private_brokers.append(fleet_broker)
    fleet_broker.start()
    coach_broker = PrivateBroker(tmp_path, "coach")
    coach_broker.extra = fill(
        (EXAMPLES / "coach-bridge.conf").read_text(),
        {
            "<fleet-host>:8883": f"127.0.0.1:{fleet_broker.port}",
            "<fleet-ca-file>": str(certs["ca.crt"]),
            "<coach-id>": COACH,
            "<password>": "coach-secret",
        },
    )
    private_brokers.append(coach_broker)
    coach_broker.start()
    return fleet_broker, coach_broker, certs["ca.crt"]


def tls(ca: Path) -> dict[str, object]:
    return {"tls_params": aiomqtt.TLSParameters(ca_certs=str(ca))}


async def test_state_and_command_cross_the_fleet_bridge(fleet):
    fleet_broker, coach_broker, ca = fleet
    remote = f"fleet/{COACH}/coachiq/{COACH}"
    async with (
        watching("127.0.0.1", fleet_broker.port, "fleet/#", username="fleet-admin",
                 password="admin", **tls(ca)) as admin,
        coach_app(coach_broker.port, "coachiq", discovery=False) as (http, bridge),
    ):  # fmt: skip
        assert await admin.wait_for(f"{remote}/status", lambda v: v == "online", within=20)
        state = await admin.wait_for(f"{remote}/{LIGHT}/state", lambda v: v.get("available"))
        assert state["state"] == "off"
        mark = len(admin.messages)
        await admin.publish(f"{remote}/{LIGHT}/set", '{"command":"set","state":"on"}')
        result = await admin.wait_for(
            f"{remote}/{LIGHT}/result", lambda v: v["status"] != "pending", since=mark
        )
        assert result["status"] == "confirmed" and result["entity_id"] == LIGHT
        on = await admin.wait_for(f"{remote}/{LIGHT}/state", lambda v: v.get("state") == "on")
        assert on["available"] is True
        assert (await http.get(f"/api/entities/{LIGHT}")).json()["state"]["state"] == "on"
        assert bridge.stats["commands"] == 1

        # Another coach's credentials: nothing of this coach is readable or commandable.
        other_login = {"username": "othercoach", "password": "other-secret", **tls(ca)}
        async with watching(
            "127.0.0.1", fleet_broker.port, f"fleet/{COACH}/#", **other_login
        ) as other:
            mark = len(admin.messages)
            await other.publish(f"{remote}/{LIGHT}/set", '{"command":"set","state":"off"}')
            await asyncio.sleep(2)
            assert other.messages == []
            assert [t for t, _, _ in admin.messages[mark:] if t.endswith("/result")] == []
        assert bridge.stats["commands"] == 1


async def test_fleet_refuses_clients_without_credentials(fleet):
    fleet_broker, _, ca = fleet
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", fleet_broker.port, **tls(ca)):  # type: ignore[arg-type]
            pass
    with pytest.raises(aiomqtt.MqttError):  # no TLS: the listener speaks TLS only
        async with aiomqtt.Client("127.0.0.1", fleet_broker.port, timeout=3):
            pass


async def test_coachiq_itself_over_mqtts_with_a_coach_login(fleet, tmp_path):
    """COACHIQ_MQTT__URL=mqtts://, CA file, user name and password: CoachIQ talks to the fleet
    broker directly, inside its ACL (every topic under fleet/<coach_id>/)."""
    fleet_broker, _, ca = fleet
    prefix = f"fleet/{COACH}/direct"
    async with (
        watching("127.0.0.1", fleet_broker.port, f"fleet/{COACH}/#", username="fleet-admin",
                 password="admin", **tls(ca)) as admin,
        coach_app(
            fleet_broker.port, prefix, url=f"mqtts://127.0.0.1:{fleet_broker.port}",
            ca_file=ca, username=COACH, password="coach-secret",
            discovery_prefix=f"fleet/{COACH}/ha",
        ) as (http, bridge),
    ):  # fmt: skip
        base = f"{prefix}/testcoach"
        assert await admin.wait_for(f"{base}/status", lambda v: v == "online", within=20)
        await admin.wait_for(f"{base}/{LIGHT}/state", lambda v: v.get("available"))
        await admin.wait_for(f"fleet/{COACH}/ha/device/testcoach_coach/config")
        features = (await http.get("/api/features")).json()["features"]
        mqtt = next(f for f in features if f["name"] == "mqtt")
        assert mqtt["health"]["details"]["broker"] == f"mqtts://127.0.0.1:{fleet_broker.port}"
        config = (await http.get("/api/config")).json()["config"]["mqtt"]
        assert config["password"] == "***"
        assert bridge.stats["connects"] == 1


async def test_wrong_password_is_reported_not_fatal(fleet):
    fleet_broker, _, ca = fleet
    async with coach_app(
        fleet_broker.port, f"fleet/{COACH}/x", url=f"mqtts://127.0.0.1:{fleet_broker.port}",
        ca_file=ca, username=COACH, password="wrong",
    ) as (http, bridge):  # fmt: skip
        for _ in range(100):
            if bridge.last_error:
                break
            await asyncio.sleep(0.1)
        assert bridge.stats["connects"] == 0
        features = (await http.get("/api/features")).json()["features"]
        mqtt = next(f for f in features if f["name"] == "mqtt")
        assert mqtt["state"] == "running" and mqtt["health"]["status"] == "degraded"
        assert "cannot connect" in mqtt["health"]["reason"]
