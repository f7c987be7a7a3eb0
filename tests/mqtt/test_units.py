"""Pieces of the bridge without a broker: the outbox, the backoff, topics, settings."""

from __future__ import annotations

import pytest

from backend.core.config import ConfigError, parse_mqtt_url
from backend.integrations.mqtt.bridge import Backoff
from backend.integrations.mqtt.outbox import Outbox, Outgoing
from backend.integrations.mqtt.topics import Topics, slug
from backend.services.config_service import ConfigService
from tests.factories import make_settings


async def test_outbox_coalesces_per_key_and_keeps_the_place():
    box = Outbox(10)
    box.put(Outgoing("a/state", "1", True), key="a/state")
    box.put(Outgoing("b/state", "1", True), key="b/state")
    box.put(Outgoing("a/state", "2", True), key="a/state")
    box.put(Outgoing("a/result", "r", False))
    box.put(Outgoing("a/result", "r", False))  # results never coalesce
    assert len(box) == 4 and box.coalesced == 1 and box.queued == 5
    assert [(await box.get()).payload for _ in range(4)] == ["2", "1", "r", "r"]


async def test_outbox_bound_drops_the_oldest_and_counts():
    box = Outbox(3)
    for n in range(5):
        box.put(Outgoing(f"e{n}/state", str(n), True), key=f"e{n}/state")
    assert len(box) == 3 and box.dropped == 2
    assert [(await box.get()).topic for _ in range(3)] == ["e2/state", "e3/state", "e4/state"]


def test_backoff_doubles_to_the_cap_with_jitter_and_resets():
    factors = iter([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 0.5])
    backoff = Backoff(1.0, 60.0, lambda: next(factors))  # 0.5 -> factor 1.0
    assert [backoff.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 32, 60]
    assert backoff.next_delay() == 60  # factor 1.5, capped at 60
    assert backoff.next_delay() == 30  # factor 0.5
    backoff.reset()
    assert backoff.next_delay() == 1


def test_topics():
    t = Topics("coachiq", "rv1", "homeassistant")
    assert t.status == "coachiq/rv1/status"
    assert t.state("light.porch") == "coachiq/rv1/light.porch/state"
    assert t.set_filter == "coachiq/rv1/+/set"
    assert t.target_of("coachiq/rv1/light.porch/set") == "light.porch"
    assert t.target_of("coachiq/rv1/stop_all/set") == "stop_all"
    assert t.target_of("coachiq/rv2/light.porch/set") is None
    assert t.target_of("coachiq/rv1/light.porch/state") is None
    assert t.device_config("rv1_light_porch") == "homeassistant/device/rv1_light_porch/config"
    assert t.birth == "homeassistant/status"
    assert slug("CoachIQ simulated coach") == "CoachIQ_simulated_coach"


def test_url_parsing():
    assert parse_mqtt_url("mqtt://127.0.0.1:1883") == (False, "127.0.0.1", 1883)
    assert parse_mqtt_url("mqtts://broker.example") == (True, "broker.example", 8883)
    assert parse_mqtt_url("mqtt://broker") == (False, "broker", 1883)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"url": "http://x:1883"}, "COACHIQ_MQTT__URL: must start with mqtt:// or mqtts://"),
        ({"url": "mqtt://u:p@x:1883"}, "COACHIQ_MQTT__URL: must not hold credentials"),
        ({"url": "mqtt://x:99999"}, "COACHIQ_MQTT__URL: has a port that is not 1-65535"),
        ({"coach_id": "my coach"}, "COACHIQ_MQTT__COACH_ID: must use only letters, digits"),
        ({"topic_prefix": "a/#"}, "COACHIQ_MQTT__TOPIC_PREFIX: the topic prefix must be"),
        ({"role": "root"}, "COACHIQ_MQTT__ROLE: must be one of 'viewer', 'operator' or 'admin'"),
        ({"queue_size": 1}, "COACHIQ_MQTT__QUEUE_SIZE"),
    ],
)
def test_bad_settings_name_the_variable(section, message):
    with pytest.raises(ConfigError) as caught:
        make_settings(mqtt=section)
    assert any(line.startswith(message) for line in caught.value.lines), caught.value.lines


def test_password_redacted_in_config():
    settings = make_settings(mqtt={"username": "coach", "password": "s3cret"})
    summary = ConfigService(settings).get_config_summary()["mqtt"]
    assert summary["password"] == "***" and summary["username"] == "coach"
    assert "s3cret" not in str(summary)


def test_env_variables(monkeypatch):
    monkeypatch.setenv("COACHIQ_MQTT__ENABLED", "true")
    monkeypatch.setenv("COACHIQ_MQTT__ALLOW_MOTION", "true")
    monkeypatch.setenv("COACHIQ_MQTT__ROLE", "Admin")
    settings = make_settings()
    assert settings.mqtt.enabled and settings.mqtt.allow_motion and settings.mqtt.role == "admin"
    assert settings.mqtt.topic_prefix == "coachiq"
    assert settings.mqtt.discovery_prefix == "homeassistant"
