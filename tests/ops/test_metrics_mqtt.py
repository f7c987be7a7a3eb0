"""MQTT figures in ``/metrics`` with the bridge connected to the local Mosquitto."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.mqtt.conftest import broker, coach_app, prefix, wait_until

__all__ = ["broker", "prefix"]


async def _scrape(http) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_mqtt_state_published_and_queue(broker: tuple[str, int], prefix: str) -> None:
    _host, port = broker
    async with coach_app(port, prefix) as (http, bridge):
        await wait_until(lambda: bridge.stats["published"] > 0, what="first publish")
        metrics = await _scrape(http)
        assert metrics[("coachiq_mqtt_state", (("state", "connected"),))] == 1
        assert metrics[("coachiq_mqtt_state", (("state", "backoff"),))] == 0
        assert metrics[("coachiq_mqtt_messages_published_total", ())] > 0
        assert metrics[("coachiq_mqtt_connects_total", ())] == 1
        assert metrics[("coachiq_mqtt_messages_dropped_total", (("direction", "out"),))] == 0
        capacity = ("coachiq_queue_capacity", (("interface", ""), ("queue", "mqtt_outbox")))
        assert metrics[capacity] == bridge.outbox.maxsize
