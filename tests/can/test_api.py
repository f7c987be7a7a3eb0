"""The /api/can routes and /readyz details, on a real application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import can
import httpx

from backend.main import create_app
from tests.can.conftest import recv_until, unique_channel, wait_for
from tests.factories import make_settings

ONLY_CAN = {
    "enable_entities": False,
    "enable_websocket": False,
    "enable_simulator": False,
    "enable_persistence": False,
    "enable_dashboard": False,
}


@asynccontextmanager
async def running_app(**can_values: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    values = {"reconnect_initial": 0.05, "reconnect_max": 0.2, **can_values}
    app = create_app(make_settings(can=values, features=ONLY_CAN))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://coachiq") as client:
            yield client, app.state.feature_manager.get_feature("can").service


async def test_status_interfaces_statistics_send_and_sniffer(peer) -> None:
    channel = unique_channel()
    bus = peer(channel)
    async with running_app(interfaces=channel) as (client, service):
        await wait_for(lambda: service.status()["state"] == "up")
        status = (await client.get("/api/can/status")).json()
        assert status["state"] == "up"
        assert status["interfaces_up"] == 1

        interfaces = (await client.get("/api/can/interfaces")).json()["interfaces"]
        assert interfaces[0]["channel"] == channel
        assert interfaces[0]["logical_names"] == ["chassis", "house"]
        assert interfaces[0]["state"] == "up"
        assert interfaces[0]["bitrate"] == 250000

        bus.send(can.Message(arbitration_id=0x19FFFD42, data=bytes.fromhex("0164020100943577")))
        response = await client.post(
            "/api/can/send",
            json={"interface": "house", "can_id": "19FEDB9F", "data": "2AFFC800FF00FFFF"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["interface"] == channel
        sent = await recv_until(bus, lambda m: m.arbitration_id == 0x19FEDB9F)
        assert bytes(sent.data).hex().upper() == "2AFFC800FF00FFFF"

        await wait_for(lambda: service.statistics()["tx"] >= 1 and service.statistics()["rx"])
        frames = (await client.get("/api/can/sniffer", params={"limit": 1000})).json()["frames"]
        timestamps = [f["timestamp"] for f in frames]
        assert timestamps == sorted(timestamps, reverse=True)  # newest first
        tx = await client.get("/api/can/sniffer", params={"direction": "tx", "dgn": "1FEDB"})
        assert [f["can_id"] for f in tx.json()["frames"]] == ["19FEDB9F"]
        rx = await client.get("/api/can/sniffer", params={"source": 0x42})
        assert rx.json()["frames"][0]["name"] == "DC_SOURCE_STATUS_1"

        stats = (await client.get("/api/can/statistics")).json()
        assert stats["interfaces"][channel]["rx"] >= 1
        assert stats["interfaces"][channel]["tx"] >= 1
        assert set(stats["interfaces"][channel]["rates"]) == {"1s", "10s", "60s"}
        groups = (await client.get("/api/can/sniffer/groups")).json()
        assert groups["pending"][0]["command"]["can_id"] == "19FEDB9F"

        ready = (await client.get("/readyz")).json()
        assert ready["details"]["can"]["details"][channel]["state"] == "up"


async def test_send_rejects_bad_input_with_422_naming_the_field() -> None:
    async with running_app(interfaces=unique_channel()) as (client, _):
        cases = [
            ({"can_id": "19FEDB9F", "data": "ZZ"}, "data"),
            ({"can_id": "19FEDB9F", "data": "00" * 9}, "data"),
            ({"can_id": "20000000", "data": "00"}, "can_id"),
            ({"can_id": "xyz", "data": "00"}, "can_id"),
            ({"interface": "can9", "can_id": "19FEDB9F", "data": "00"}, "interface"),
        ]
        for body, field in cases:
            response = await client.post("/api/can/send", json=body)
            assert response.status_code == 422, body
            assert response.json()["detail"].startswith(f"{field}: "), response.json()
        bad_dgn = await client.get("/api/can/sniffer", params={"dgn": "XYZ"})
        assert bad_dgn.status_code == 422


async def test_full_queue_gives_503_and_readyz_shows_degraded(down_bustype) -> None:
    channel = unique_channel()
    async with running_app(interfaces=channel, bustype=down_bustype, tx_queue_size=2) as (
        client,
        service,
    ):
        await wait_for(lambda: service.status()["state"] == "down")
        body = {"can_id": "19FEDB9F", "data": "00"}
        codes = [(await client.post("/api/can/send", json=body)).status_code for _ in range(3)]
        assert codes == [202, 202, 503]
        response = await client.post("/api/can/send", json=body)
        assert "full" in response.json()["detail"]
        ready = await client.get("/readyz")
        can_health = ready.json()["details"]["can"]
        assert can_health["status"] == "degraded"  # reconnecting degrades, does not fail
        assert can_health["details"][channel]["state"] == "reconnecting"
        assert ready.status_code == 200
        await asyncio.sleep(0)
