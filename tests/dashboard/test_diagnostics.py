"""DM_RV diagnostics (RV-C 3.2.5): frames written out byte by byte, the route on the real app.

The expected names are those of the specification: FMI (table 3.2.5.8), standard SPNs (table
7.3) and the "Service Points" tables of the device types (chapter 6).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import can
import httpx
import pytest
import websockets

from backend.core.config import DashboardSettings
from backend.integrations.rvc import decode
from backend.main import create_app
from backend.services.dashboard_service import DashboardService
from backend.services.diagnostics import FaultTable, decode_spn
from tests.dashboard.fakes import FakeCANService, FakeEntityManager, coach
from tests.dashboard.test_live_dashboard import live_dashboard, until
from tests.factories import make_settings
from tests.websocket.harness import receive_until, running_server

_channels = itertools.count()


def dm_rv_id(source: int) -> int:
    """CAN id of DM_RV (DGN 1FECAh, priority 6) from ``source``."""
    return (6 << 26) | (0x1FECA << 8) | source


# Water heater at DSA 101 (0x65), yellow lamp: byte 0 = ON (01b), active (01b << 2), yellow
# on (01b << 4), red off = 0x15; byte 1 DSA 0x65; SPN MSB 01h, ISB 02h (instance 2);
# byte 4 = SPN LSb 1 (<< 5) | FMI 0 = 0x20; byte 5 = occurrence 3 | reserved bit 7 = 0x83;
# byte 6 no DSA extension (FFh); byte 7 bank select Fh, reserved bits 1.
WATER_HEATER_FAULT = bytes([0x15, 0x65, 0x01, 0x02, 0x20, 0x83, 0xFF, 0xFF])
# The same device with no active fault: lamps off, bytes 2 to 5 FFh (3.2.5.1).
WATER_HEATER_OK = bytes([0x05, 0x65, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
# Red lamp (01b << 6) and ON/active = 0x45, DSA 0x40 (generator), standard SPN 5 (MSB 0,
# ISB 0, LSb 5 -> byte 4 = 5 << 5 | FMI 1 = 0xA1), occurrence count not available (7Fh).
GENERATOR_POWER_SUPPLY = bytes([0x45, 0x40, 0x00, 0x00, 0xA1, 0xFF, 0xFF, 0xFF])


def test_spn_rule_on_the_spec_example() -> None:
    # 3.2.5.5: MSB 01h, ISB 03h, byte 4 C0h -> single instance 00 0001 0000 0011 110b = 2078.
    raw = 0x01 << 11 | 0x03 << 3 | 0xC0 >> 5
    assert decode_spn(raw, dsa=None) == {
        "spn": 2078,
        "spn_raw": 2078,
        "spn_encoding": "single_instance",
        "instance": None,
        "spn_name": None,
        "device_type": None,
    }
    # Multi-instance device (water heater): instance 3, SPN 00 0001 110b = 14 (the spec's
    # example writes 000Eh, which is 14), named in table 6.9.8: MSB 1, LSb 6 = igniter.
    spn = decode_spn(raw, dsa=101)
    assert (spn["spn"], spn["instance"], spn["spn_encoding"]) == (14, 3, "multi_instance")
    assert spn["spn_name"] == "Igniter"
    # Standard SPNs are always non-instanced (MSB 0), also on a multi-instance device.
    assert decode_spn(12, dsa=101)["spn_name"] == "Node firmware"
    assert decode_spn(12, dsa=101)["instance"] is None
    # Chassis mobility (DSA 252) is single-instance: SPN 258 is the park brake (table 6.11.7).
    assert decode_spn(258, dsa=252)["spn_name"] == "Park Brake"


def _multi(msb: int, isb: int, lsb: int) -> int:
    """The 19-bit SPN field of a multi-instance fault: MSB, ISB (instance), 3 bits (3.2.5.5)."""
    return msb << 11 | isb << 3 | lsb


# Device-specific SPNs written out from the "Service Points" tables of chapter 6:
# (DSA, SPN field, SPN after the rule, instance, name in the table, device type)
DEVICE_CASES = [
    # 6.14.5 slide room (DSA 84-87): MSB 0 ISB 32 LSb 2 "Park Brake" (node-global, 32 << 3 | 2);
    # MSB 2 LSb 1 "Slide Lock Limit Switch - Upper Rear" for room 3
    (84, 258, 258, None, "Park Brake", "slide room"),
    (85, _multi(2, 3, 1), 17, 3, "Slide Lock Limit Switch – Upper Rear", "slide room"),
    (87, _multi(7, 1, 3), 59, 1, "Current – Motor 4", "slide room"),
    # 6.13.12 leveling (DSA 81, single-instance): 276 "Hydraulic Pump manifold high pressure
    # switch", 339 "Hydraulic Pump Motor Contactor"
    (81, 276, 276, None, "Hydraulic Pump manifold high pressure switch", "leveling system"),
    (81, 339, 339, None, "Hydraulic Pump Motor Contactor", "leveling system"),
    # 6.17.10 air conditioner (DSA 103-106): MSB 1 LSb 1 "Compressor", MSB 2 LSb 7 "Defrost
    # Lockout"
    (103, _multi(1, 2, 1), 9, 2, "Compressor", "air conditioner"),
    (106, _multi(2, 1, 7), 23, 1, "Defrost Lockout", "air conditioner"),
    # 6.15.5 furnace (DSA 94-96): MSB 3 LSb 2 "Flame failure"
    (94, _multi(3, 1, 2), 26, 1, "Flame failure", "furnace"),
    # 6.9.8 water heater: MSB 4 LSb 1 "Glow plug", MSB 5 LSb 2 "Burner Control Unit"
    (101, _multi(4, 1, 1), 33, 1, "Glow plug", "water heater"),
    (102, _multi(5, 1, 2), 42, 1, "Burner Control Unit", "water heater"),
    # 6.12.6 active air suspension (DSA 126): 262 "AAS Mode"
    (126, 262, 262, None, "AAS Mode", "active air suspension"),
    # 6.28.6 tank (DSA 72): MSB 1 LSb 1 "Tank Size" for the black tank (instance 1)
    (72, _multi(1, 1, 1), 9, 1, "Tank Size", "tank"),
    # 6.31.4 waste dump (DSA 129): 257 "Gray Dump Valve"
    (129, 257, 257, None, "Gray Dump Valve", "waste dump"),
    # 6.35.9 generator demand (DSA 65): MSB 0 ISB 32 LSb 0 "Generator"
    (65, 256, 256, None, "Generator", "generator demand (AGS)"),
    # 6.42.4 DC disconnect (DSA 139): MSB 1 LSb 4 "Contact Current"
    (139, _multi(1, 2, 4), 12, 2, "Contact Current", "DC disconnect"),
    # 6.49.17 battery (DSA 70): MSB 1 LSb 3 "Temperature"
    (70, _multi(1, 1, 3), 11, 1, "Temperature", "battery"),
    # 6.52.4 refrigerator (DSA 107): MSB 3 LSb 7 "Cooling System Pressure Low"
    (107, _multi(3, 1, 7), 31, 1, "Cooling System Pressure Low", "refrigerator"),
    # 6.53.4 TV lift (DSA 118/119): MSB 1 LSb 5 "Lift Storage Limit Switch"
    (119, _multi(1, 1, 5), 13, 1, "Lift Storage Limit Switch", "TV lift"),
    # 6.37.15 tire monitor (DSA 133): MSB 1 LSb 4 "Loss of Signal" for tire 6
    (133, _multi(1, 6, 4), 12, 6, "Loss of Signal", "tire monitor"),
]


@pytest.mark.parametrize(("dsa", "raw", "spn", "instance", "name", "device"), DEVICE_CASES)
def test_device_specific_spns_are_named_from_the_spec_tables(
    dsa: int, raw: int, spn: int, instance: int | None, name: str, device: str
) -> None:
    decoded = decode_spn(raw, dsa=dsa)
    assert (decoded["spn"], decoded["instance"], decoded["spn_name"]) == (spn, instance, name)
    assert decoded["device_type"] == device
    assert decoded["spn_encoding"] == ("single_instance" if instance is None else "multi_instance")


def test_a_spn_the_device_table_does_not_list_has_no_name() -> None:
    # 6.14.5 lists MSB 0 ISB 32 LSb 1 as "(Unused)"; a leveling SPN 283 is not in 6.13.12
    assert decode_spn(257, dsa=84)["spn_name"] is None
    assert decode_spn(283, dsa=81)["spn_name"] is None
    # a device type without a service point table (generator, DSA 64): number only
    assert decode_spn(300, dsa=64) == {
        "spn": 300,
        "spn_raw": 300,
        "spn_encoding": "single_instance",
        "instance": None,
        "spn_name": None,
        "device_type": None,
    }


def _service(settings: DashboardSettings | None = None) -> tuple[DashboardService, Any]:
    bus = FakeCANService()
    service = DashboardService(
        settings or DashboardSettings(), entity_manager=FakeEntityManager(coach()), can_service=bus
    )
    return service, bus


class _Event:
    """A received frame as the CAN service hands it out, decoded by the real decoder."""

    direction = "rx"
    interface = "can0"

    def __init__(self, source: int, data: bytes):
        self.arbitration_id = dm_rv_id(source)
        self.decoded = decode(self.arbitration_id, data)


async def test_water_heater_fault_decoded_with_the_spec_names_and_cleared() -> None:
    service, bus = _service()
    await service.start()
    try:
        bus.emit(_Event(0x65, WATER_HEATER_FAULT))
        (fault,) = service.diagnostics()["faults"]
        assert {k: fault[k] for k in fault if k not in ("first_seen", "last_seen")} == {
            "fault_id": f"101:101:{1 << 11 | 2 << 3 | 1}:0",
            "source": 101,
            "dsa": 101,
            "dsa_extension": None,
            "spn": 9,
            "spn_raw": 1 << 11 | 2 << 3 | 1,
            "spn_encoding": "multi_instance",
            "instance": 2,
            "spn_name": "Water Temperature",
            "device_type": "water heater",
            "fmi": 0,
            "fmi_meaning": "Datum value above normal range",
            "occurrence_count": 3,
            "red_lamp": False,
            "yellow_lamp": True,
            "severity": "warning",
            "entities": [],
        }
        assert fault["first_seen"] == fault["last_seen"]
        summary = service.summary()
        assert [a["message"] for a in summary["alerts"] if a["kind"] == "fault"] == [
            "Device at address 101 reports a fault: SPN 9 Water Temperature (instance 2), "
            "FMI 0 Datum value above normal range"
        ]
        # A red standard-SPN fault from another device sorts first.
        bus.emit(_Event(0x40, GENERATOR_POWER_SUPPLY))
        first, second = service.diagnostics()["faults"]
        assert (first["spn"], first["spn_name"], first["fmi_meaning"]) == (
            5,
            "Node power supply",
            "Datum value below normal range",
        )
        assert first["severity"] == "critical" and first["occurrence_count"] is None
        assert second["source"] == 101
        # The water heater reports no fault any more: only its fault clears.
        bus.emit(_Event(0x65, WATER_HEATER_OK))
        assert [f["source"] for f in service.diagnostics()["faults"]] == [0x40]
    finally:
        await service.stop()


def test_the_table_is_bounded_and_counts_what_it_drops() -> None:
    table = FaultTable(max_faults=2, expiry_seconds=15)
    signals = {"yellow_lamp_status": "on", "dsa": 70}
    for spn in (300, 301, 302, 303):
        table.observe(70, {**signals, "dtcs": [{"spn": spn, "fmi": 2}]}, 1.0, 1.0)
    assert [f.spn_raw for f in table.faults()] == [300, 301]
    assert table.dropped == 2
    # A repeat of a kept fault is no new fault: nothing more dropped; expiry frees the table.
    table.observe(70, {**signals, "dtcs": [{"spn": 300, "fmi": 2}]}, 2.0, 10.0)
    assert table.dropped == 2
    assert [f.spn_raw for f in table.expire(17.0)] == [301]
    assert [f.spn_raw for f in table.faults()] == [300]


async def test_the_route_lists_a_bus_fault_and_the_fault_clears() -> None:
    async with live_dashboard() as (http, peer):
        assert (await http.get("/api/diagnostics")).json()["faults"] == []
        peer.send(can.Message(arbitration_id=dm_rv_id(0x65), data=WATER_HEATER_FAULT))
        body = await until(http, "/api/diagnostics", lambda b: b["faults"])
        (fault,) = body["faults"]
        assert (fault["spn_name"], fault["instance"], fault["fmi"]) == ("Water Temperature", 2, 0)
        assert body["dropped"] == 0 and body["max_faults"] == 256
        peer.send(can.Message(arbitration_id=dm_rv_id(0x65), data=WATER_HEATER_OK))
        await until(http, "/api/diagnostics", lambda b: not b["faults"])


async def test_simulated_coach_faults_on_the_route_and_the_websocket() -> None:
    channel = f"diag-{os.getpid()}-{next(_channels)}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": True, "enable_persistence": False},
        simulator={"faults": True, "fault_interval": 0.5},
    )
    async with (
        running_server(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base.replace("ws://", "http://"), timeout=5) as http,
        websockets.connect(f"{base}/ws/entities") as ws,
    ):
        pushed = await receive_until(
            ws, lambda m: m["type"] == "diagnostic_fault" and m["active"], within=15
        )
        body = await until(
            http, "/api/diagnostics", lambda b: any(f["entities"] for f in b["faults"]), within=10
        )
        entities = (await http.get("/api/entities")).json()
        entities = entities.get("entities", entities) if isinstance(entities, dict) else entities
        by_source: dict[int, set[str]] = {}
        for entity in entities:
            source = (entity.get("device") or {}).get("source_address")
            by_source.setdefault(source, set()).add(entity["entity_id"])
        # The simulated nodes' faults (SPNs 0101h-0404h, each node's DSA its own address).
        for fault in body["faults"]:
            assert fault["spn_raw"] in (0x0101, 0x0202, 0x0303, 0x0404)
            assert fault["yellow_lamp"] is True and fault["severity"] == "warning"
            assert fault["fmi_meaning"] in (
                "Datum value below normal range",
                "Open circuit, or output current below normal",
                "Datum value above normal range",
                "Mechanical device not responding",
            )
            assert {e["entity_id"] for e in fault["entities"]} == by_source.get(
                fault["source"], set()
            )
        assert pushed["fault"]["spn_raw"] in (0x0101, 0x0202, 0x0303, 0x0404)
        # Each fault is an alert of the dashboard (it may clear meanwhile: wait for any one).
        ids = {f"fault:{f['fault_id']}" for f in body["faults"]}
        await until(
            http,
            "/api/dashboard/summary",
            lambda s: {a["alert_id"] for a in s["alerts"] if a["kind"] == "fault"} & ids,
        )
