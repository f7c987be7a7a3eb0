"""The /api/can routes and /readyz details, on a real application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import can
import httpx

from backend.main import create_app
from tests.can.conftest import BrokenBus, StuckBus, recv_until, unique_channel, wait_for
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
            json={"interface": "house", "can_id": "19FEDBF9", "data": "2AFFC800FF00FFFF"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["interface"] == channel
        sent = await recv_until(bus, lambda m: m.arbitration_id == 0x19FEDBF9)
        assert bytes(sent.data).hex().upper() == "2AFFC800FF00FFFF"

        await wait_for(lambda: service.statistics()["tx"] >= 1 and service.statistics()["rx"])
        frames = (await client.get("/api/can/sniffer", params={"limit": 1000})).json()["frames"]
        timestamps = [f["timestamp"] for f in frames]
        assert timestamps == sorted(timestamps, reverse=True)  # newest first
        tx = await client.get("/api/can/sniffer", params={"direction": "tx", "dgn": "1FEDB"})
        assert [f["can_id"] for f in tx.json()["frames"]] == ["19FEDBF9"]
        rx = await client.get("/api/can/sniffer", params={"source": 0x42})
        assert rx.json()["frames"][0]["name"] == "DC_SOURCE_STATUS_1"

        stats = (await client.get("/api/can/statistics")).json()
        assert stats["interfaces"][channel]["rx"] >= 1
        assert stats["interfaces"][channel]["tx"] >= 1
        assert set(stats["interfaces"][channel]["rates"]) == {"1s", "10s", "60s"}
        groups = (await client.get("/api/can/sniffer/groups")).json()
        assert groups["pending"][0]["command"]["can_id"] == "19FEDBF9"

        ready = (await client.get("/readyz")).json()
        assert ready["details"]["can"]["details"][channel]["state"] == "up"


async def test_send_rejects_bad_input_with_422_naming_the_field() -> None:
    async with running_app(interfaces=unique_channel()) as (client, _):
        cases = [
            ({"can_id": "19FEDBF9", "data": "ZZ"}, "data"),
            ({"can_id": "19FEDBF9", "data": "00" * 9}, "data"),
            ({"can_id": "20000000", "data": "00"}, "can_id"),
            ({"can_id": "xyz", "data": "00"}, "can_id"),
            ({"interface": "can9", "can_id": "19FEDBF9", "data": "00"}, "interface"),
        ]
        for body, field in cases:
            response = await client.post("/api/can/send", json=body)
            assert response.status_code == 422, body
            assert response.json()["detail"].startswith(f"{field}: "), response.json()
        bad_dgn = await client.get("/api/can/sniffer", params={"dgn": "XYZ"})
        assert bad_dgn.status_code == 422


async def test_send_to_a_reconnecting_interface_is_refused_with_the_reason(down_bustype) -> None:
    channel = unique_channel()
    async with running_app(interfaces=channel, bustype=down_bustype, tx_queue_size=2) as (
        client,
        service,
    ):
        await wait_for(lambda: service.interfaces_status()[0]["state"] == "reconnecting")
        body = {"can_id": "19FEDBF9", "data": "00"}
        responses = [await client.post("/api/can/send", json=body) for _ in range(3)]
        # Refused at once, each time, with why: never queued to expire unseen or "queue full".
        assert [r.status_code for r in responses] == [503, 503, 503]
        detail = responses[0].json()["detail"]
        assert detail.startswith(f"interface {channel} is reconnecting: ")
        assert "No such device" in detail
        assert "full" not in detail
        assert service.interface_service.get(channel).tx_queue_length == 0
        ready = await client.get("/readyz")
        can_health = ready.json()["details"]["can"]
        assert can_health["status"] == "degraded"  # reconnecting degrades, does not fail
        assert can_health["details"][channel]["state"] == "reconnecting"
        await asyncio.sleep(0)


async def test_readyz_is_503_naming_each_interface_that_is_not_up(down_bustype, tmp_path) -> None:
    # Ready means every configured interface is up (README): a reconnecting one is named.
    log = tmp_path / "coach.log"
    log.write_text("(1700000000.000000) can0 19FFFD42#0164020100943577\n")
    replay, down = f"replay:{log}?loop=1", unique_channel("down")
    async with running_app(interfaces=[replay]) as (client, service):
        await wait_for(lambda: service.interfaces_status()[0]["state"] == "up")
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.json()
    async with running_app(interfaces=[replay, down], bustype=down_bustype) as (client, service):
        await wait_for(lambda: service.interface_service.get(down).state.value == "reconnecting")
        assert service.interface_service.get(replay).state.value == "up"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        [problem] = body["not_ready"]
        assert problem["feature"] == "can"
        assert problem["state"] == "not_ready"
        assert problem["reason"].startswith(f"interface {down} is reconnecting: ")
        assert "No such device" in problem["reason"]


async def test_send_to_a_failed_interface_is_refused_with_the_reason(register_bustype) -> None:
    channel = unique_channel()
    broken = register_bustype("coachiq_broken", BrokenBus)
    async with running_app(interfaces=channel, bustype=broken) as (client, service):
        await wait_for(lambda: service.interfaces_status()[0]["state"] == "failed")
        response = await client.post("/api/can/send", json={"can_id": "19FEDBF9", "data": "00"})
        assert response.status_code == 503
        assert response.json()["detail"] == (
            f"interface {channel} is failed: ValueError: channel '{channel}' is not one this "
            "adapter has; the frame was not sent"
        )


async def test_full_queue_gives_503_naming_the_queue(register_bustype) -> None:
    channel = unique_channel()
    stuck = register_bustype("coachiq_stuck", StuckBus)  # the writer never gets a frame out
    async with running_app(interfaces=channel, bustype=stuck, tx_queue_size=2) as (
        client,
        service,
    ):
        await wait_for(lambda: service.status()["state"] == "up")
        body = {"can_id": "19FEDBF9", "data": "00"}
        codes = [(await client.post("/api/can/send", json=body)).status_code for _ in range(4)]
        assert codes[-1] == 503 and 202 not in codes[codes.index(503) :], codes
        response = await client.post("/api/can/send", json=body)
        assert response.status_code == 503
        assert "transmit queue of interface" in response.json()["detail"]
        assert "full" in response.json()["detail"]


async def test_standard_frames_are_skipped_and_counted(peer) -> None:
    channel = unique_channel()
    bus = peer(channel)
    async with running_app(interfaces=channel) as (client, service):
        await wait_for(lambda: service.status()["state"] == "up")
        # An 11-bit frame whose id would decode as something if taken for a 29-bit one.
        bus.send(can.Message(arbitration_id=0x742, data=bytes(8), is_extended_id=False))
        bus.send(can.Message(arbitration_id=0x19FFFD42, data=bytes.fromhex("0164020100943577")))
        await wait_for(lambda: service.statistics()["standard_skipped"] == 1)
        stats = (await client.get("/api/can/statistics")).json()
        assert stats["standard_skipped"] == 1
        assert stats["interfaces"][channel]["standard_skipped"] == 1
        frames = (await client.get("/api/can/sniffer", params={"limit": 1000})).json()["frames"]
        assert [f["can_id"] for f in frames if f["direction"] == "rx"] == ["19FFFD42"]
