"""The dashboard of the real application on a python-can ``virtual`` bus.

The app is the one ``create_app`` builds from feature_flags.yaml and the default coach mapping,
served by uvicorn; a peer bus on the same virtual channel plays the coach's devices and the test
reads what a person reads: ``/api/dashboard/summary``, the activity feed and the command audit.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import can
import httpx

from backend.integrations.rvc import encode
from backend.main import create_app
from tests.factories import make_settings
from tests.websocket.harness import running_server

_channels = itertools.count()
TANK_SOURCE = 72  # the default mapping's tank sensors
DIMMER_SOURCE = 131  # the default mapping's DC dimmer module
BLACK_TANK = "tank.black_water"  # TANK_STATUS instance 1
GALLEY = "light.galley_ceiling"  # DC_DIMMER_STATUS_3 instance 2


def frame(name: str, signals: dict[str, Any], instance: int | None, source: int) -> can.Message:
    """One RV-C frame as a device on the bus sends it."""
    arbitration_id, data = encode(name, signals, instance=instance, source_address=source)
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=True)


def tank_status(relative_level: int, resolution: int) -> can.Message:
    """TANK_STATUS of the black tank: ``relative_level / resolution`` full (spec 6.28.2)."""
    signals = {"relative_level": relative_level, "resolution": resolution}
    return frame("TANK_STATUS", signals, 1, TANK_SOURCE)


def dm_rv(source: int, *, red: bool) -> can.Message:
    """DM_RV from ``source``: red lamp on (an active fault, SPN 17, FMI 3) or everything off."""
    signals = {
        "operating_status": 1,
        "dsa": 0,
        "yellow_lamp_status": 0,
        "red_lamp_status": 1 if red else 0,
        "spn_msb": 0,
        "spn_isb": 2 if red else 0,
        "spn_lsb": 1 if red else 0,
        "fmi": 3 if red else 0,
    }
    return frame("DM_RV", signals, None, source)


@asynccontextmanager
async def live_dashboard(**sections: Any) -> AsyncIterator[tuple[httpx.AsyncClient, can.BusABC]]:
    """The real app on a fresh virtual channel; yields an HTTP client and a peer bus."""
    channel = f"dashlive-{os.getpid()}-{next(_channels)}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual", "address_claiming": False},
        features={"enable_simulator": False},
        **sections,
    )
    app = create_app(settings)
    peer = can.Bus(interface="virtual", channel=channel)
    try:
        async with (
            running_server(app) as base,
            httpx.AsyncClient(base_url=base.replace("ws://", "http://"), timeout=5) as http,
        ):
            states = {
                f["name"]: f["state"] for f in (await http.get("/api/features")).json()["features"]
            }
            assert states["dashboard"] == "running", states
            yield http, peer
    finally:
        peer.shutdown()


async def until(
    http: httpx.AsyncClient, path: str, check: Callable[[Any], Any], within: float = 10.0
) -> Any:
    """GET ``path`` until ``check(body)`` is true; fail after ``within`` s with the last body."""
    body: Any = None
    try:
        async with asyncio.timeout(within):
            while True:
                response = await http.get(path)
                assert response.status_code == 200, response.text
                body = response.json()
                if check(body):
                    return body
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{path} never matched; last: {body}") from None


def alerts(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in summary["alerts"] if a["kind"] == kind]


async def test_black_tank_above_80_and_a_dm_rv_fault_raise_and_clear_alerts() -> None:
    async with live_dashboard() as (http, peer):
        summary = (await http.get("/api/dashboard/summary")).json()
        assert alerts(summary, "tank_high") == [] and alerts(summary, "fault") == []

        # 17/20 = 85 %: above the black tank's 80 % threshold.
        peer.send(tank_status(17, 20))
        summary = await until(http, "/api/dashboard/summary", lambda s: alerts(s, "tank_high"))
        assert alerts(summary, "tank_high") == [
            {
                "alert_id": f"tank_high:{BLACK_TANK}",
                "kind": "tank_high",
                "severity": "warning",
                "message": "Black water is 85 % full (above 80 %)",
                "entity_id": BLACK_TANK,
                "value": 85.0,
                "threshold": 80.0,
            }
        ]
        # 16/20 = 80 %: not above the threshold any more, so the alert clears.
        peer.send(tank_status(16, 20))
        await until(http, "/api/dashboard/summary", lambda s: not alerts(s, "tank_high"))

        # DM_RV with the red lamp on from address 0x50: a critical fault alert.
        peer.send(dm_rv(0x50, red=True))
        summary = await until(http, "/api/dashboard/summary", lambda s: alerts(s, "fault"))
        (fault,) = alerts(summary, "fault")
        assert fault["alert_id"] == "fault:80:0:17:3"
        assert fault["severity"] == "critical"
        assert fault["message"] == (
            "Device at address 80 reports a fault: SPN 17, FMI 3 "
            "Short circuit to high voltage (or complete sensor input failure)"
        )
        # The same device reports its lamps off: the fault is gone.
        peer.send(dm_rv(0x50, red=False))
        await until(http, "/api/dashboard/summary", lambda s: not alerts(s, "fault"))

        feed = (await http.get("/api/dashboard/activity")).json()["entries"]
        seen = [(e["kind"], e.get("alert_id")) for e in reversed(feed) if "alert" in e["kind"]]
        assert seen == [
            ("alert_raised", f"tank_high:{BLACK_TANK}"),
            ("alert_cleared", f"tank_high:{BLACK_TANK}"),
            ("alert_raised", "fault:80:0:17:3"),
            ("alert_cleared", "fault:80:0:17:3"),
        ]


async def test_a_fault_that_is_not_repeated_expires() -> None:
    # 3 s: long enough for the first poll to see the fault on a loaded machine.
    async with live_dashboard(dashboard={"fault_expiry_seconds": 3.0}) as (http, peer):
        peer.send(dm_rv(0x51, red=True))
        await until(http, "/api/dashboard/summary", lambda s: alerts(s, "fault"))
        await until(http, "/api/dashboard/summary", lambda s: not alerts(s, "fault"))


async def test_bulk_commands_are_audited_with_the_client_address(tmp_path: Path) -> None:
    persistence = {"enabled": True, "data_dir": tmp_path / "data"}
    async with live_dashboard(persistence=persistence) as (http, peer):
        brightness = {"operating_status_brightness": 0}
        peer.send(frame("DC_DIMMER_STATUS_3", brightness, 2, DIMMER_SOURCE))  # it reports: off
        await until(http, f"/api/entities/{GALLEY}", lambda e: e["available"])
        response = await http.post(
            "/api/dashboard/bulk", json={"action": "on", "entity_ids": [GALLEY]}
        )
        assert response.status_code == 200, response.text
        (result,) = response.json()["results"]
        assert result["status"] == "accepted"
        # Nobody confirms, so the command times out (2 s) and the audit records who asked.
        audit = await until(
            http,
            f"/api/persistence/audit?entity_id={GALLEY}",
            lambda body: body["entries"],
        )
        assert [(e["command_id"], e["status"], e["client"]) for e in audit["entries"]] == [
            (result["command_id"], "timed_out", "127.0.0.1")
        ]
