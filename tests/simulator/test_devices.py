"""Simulated devices on a virtual bus: commands, NAKs, the generator, REQUEST and PRODUCT_ID."""

from __future__ import annotations

import random
import time

from backend.integrations.rvc.encoder import Encoder
from backend.integrations.rvc.spec import RVCSpec
from backend.integrations.rvc.transport import Reassembler
from backend.services.simulator.coach import default_devices, model_for
from backend.services.simulator.mapping import DEFAULT_MAPPING_PATH, read_mapping_devices
from backend.services.simulator.model import DeviceSpec, World
from backend.services.simulator.power import TankModel, WaterPumpModel
from tests.simulator.conftest import SERVER, Bench


def test_mapping_builds_every_device_type(spec: RVCSpec) -> None:
    devices = read_mapping_devices(DEFAULT_MAPPING_PATH, spec)
    assert len(devices) >= 30
    types = {d.type for d in devices}
    for wanted in ("light", "tank", "battery", "thermostat", "generator", "inverter", "charger"):
        assert wanted in types
    for device in [*devices, *default_devices()]:
        model_for(device)  # raises when a device has no model


async def test_every_status_encodes_and_is_broadcast(bench: Bench) -> None:
    heard = await bench.collect(3.0)
    names = {m.name for _, m in heard}
    broken = [e.definition.name for n in bench.coach.nodes for e in n.broadcasts if e.broken]
    assert broken == []
    for name in ("DC_DIMMER_STATUS_3", "TANK_STATUS", "DC_SOURCE_STATUS_1", "GENERATOR_STATUS_1"):
        assert name in names
    # Separate nodes: the mapping's source addresses, each claimed.
    claimed = {m.source for _, m in heard if m.name == "ADDRESS_CLAIMED"}
    assert {64, 66, 72, 131} <= claimed


async def test_dimmer_ramps_to_level_reporting_on_the_way(bench: Bench) -> None:
    enc = Encoder(bench.coach.spec)
    bench.send(
        *enc.encode(
            "DC_DIMMER_COMMAND_2",
            {
                "desired_level_brightness": 80,
                "command": "ramp_brightness",
                "ramp_time": 1.0,
                "interlock": 0,  # all ones would be Interlock A and B: not acted on
            },
            instance=1,
            source_address=SERVER,
        )
    )
    heard = await bench.collect(
        3.0,
        until=lambda m: (
            m.name == "DC_DIMMER_STATUS_3"
            and m.instance == 1
            and m.signals["operating_status_brightness"] == 80
        ),
    )
    levels = [
        m.signals["operating_status_brightness"]
        for _, m in heard
        if m.name == "DC_DIMMER_STATUS_3" and m.instance == 1
    ]
    assert levels[-1] == 80
    assert any(0 < level < 80 for level in levels), levels  # ramping values on the way
    assert levels == sorted(levels)


async def test_light_set_and_off_per_mapping_bytes(bench: Bench) -> None:
    # docs/coach-mapping.md: set 40 % is II FF 50 00 00 FC FF FF; off is II FF 00 03 00 FC FF FF.
    bench.send(0x19FEDBF9, bytes.fromhex("02FF500000FCFFFF"))
    heard = await bench.collect(
        1.0, until=lambda m: m.name == "DC_DIMMER_STATUS_3" and m.instance == 2
    )
    assert heard[-1][1].signals["operating_status_brightness"] == 40
    bench.send(0x19FEDBF9, bytes.fromhex("02FF000300FCFFFF"))
    heard = await bench.collect(
        1.0,
        until=lambda m: (
            m.name == "DC_DIMMER_STATUS_3"
            and m.instance == 2
            and m.signals["operating_status_brightness"] == 0
        ),
    )
    assert heard[-1][1].signals["operating_status_brightness"] == 0


async def test_invalid_command_gets_nak(bench: Bench) -> None:
    # Brightness 150 % (raw 300 is impossible; raw 0xD2 = 105 %) is out of range.
    bench.send(0x19FEDBF9, bytes.fromhex("01FFD20000FCFFFF"))
    heard = await bench.collect(
        1.0, until=lambda m: m.name == "ACKNOWLEDGMENT" and m.destination == SERVER
    )
    ack = heard[-1][1]
    assert ack.name == "ACKNOWLEDGMENT"
    assert ack.signals["acknowledgment_code"] == "command_parameters_are_out_of_range"
    assert ack.signals["dgn_acknowledged"] == 0x1FEDB
    assert ack.signals["instance"] == 1
    assert ack.source == 131


async def test_generator_preheat_cranking_running(bench: Bench) -> None:
    enc = Encoder(bench.coach.spec)
    bench.send(
        *enc.encode("GENERATOR_COMMAND", {"command": "start"}, instance=None, source_address=SERVER)
    )
    heard = await bench.collect(
        6.0,
        until=lambda m: m.name == "GENERATOR_STATUS_1" and m.signals["status"] == "running",
    )
    states = [m.signals["status"] for _, m in heard if m.name == "GENERATOR_STATUS_1"]
    order = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
    assert order[-3:] == ["preheat", "cranking", "running"]
    run_time = bench.coach.model("generator.main")
    before = run_time.run_seconds  # type: ignore[attr-defined]
    await bench.collect(0.5)
    assert run_time.run_seconds > before  # type: ignore[attr-defined]
    bench.send(
        *enc.encode("GENERATOR_COMMAND", {"command": "stop"}, instance=None, source_address=SERVER)
    )
    heard = await bench.collect(
        1.0, until=lambda m: m.name == "GENERATOR_STATUS_1" and m.signals["status"] == "stopped"
    )
    assert heard[-1][1].signals["status"] == "stopped"


async def test_product_id_request_answered_multi_packet(bench: Bench) -> None:
    # REQUEST for PRODUCT_ID (0FEEB) to the generator's node (64).
    bench.send(0x18EA40F9, bytes.fromhex("EBFE00FFFFFFFFFF"))
    reassembler = Reassembler()
    done = []

    def complete(m) -> bool:
        if m.source != 64:
            return False
        result = reassembler.feed(m.can_id, m.data)
        if result is not None:
            done.append(result)
        return bool(done)

    heard = await bench.collect(2.0, until=complete)
    assert done, [m.name for _, m in heard]
    assert done[0].dgn == 0x0FEEB
    text = done[0].data.decode("latin-1").rstrip("\xff")
    assert text.count("*") >= 3 and text.startswith("CoachIQ*")
    assert done[0].packets >= 2


async def test_request_for_status_dgn_is_answered(bench: Bench) -> None:
    # REQUEST for TANK_STATUS (1FFB7) instance 2, globally.
    sent_at = time.time()
    bench.send(0x18EAFFF9, bytes.fromhex("B7FF0102FFFFFFFF"))
    heard = await bench.collect(
        2.0, until=lambda m: m.name == "TANK_STATUS" and m.instance in (2, "gray_waste")
    )
    assert heard and heard[-1][1].name == "TANK_STATUS"
    assert heard[-1][0] - sent_at < 0.5  # answered at once, not at the 4.5 s broadcast


async def test_thermostat_takes_mode_and_setpoint(bench: Bench) -> None:
    enc = Encoder(bench.coach.spec)
    bench.send(
        *enc.encode(
            "THERMOSTAT_COMMAND_1",
            {"operating_mode": "heat", "setpoint_temp_heat": 21.0},
            instance=2,
            source_address=SERVER,
        )
    )
    heard = await bench.collect(
        1.0, until=lambda m: m.name == "THERMOSTAT_STATUS_1" and m.instance == 2
    )
    status = heard[-1][1].signals
    assert status["operating_mode"] == "heat"
    assert status["setpoint_temp_heat"] == 21.0
    assert status["setpoint_temp_cool"] == 24.0  # not given: unchanged


def test_tank_drains_while_pump_runs() -> None:
    world = World()
    rng = random.Random(0)
    fresh = TankModel(DeviceSpec("fresh", "tank", 0, options={"capacity_l": 100}), world, rng)
    gray = TankModel(DeviceSpec("gray", "tank", 2, options={"capacity_l": 100}), world, rng)
    pump = WaterPumpModel(DeviceSpec("pump", "water_pump", None), world, rng)
    start_fresh, start_gray = fresh.status("TANK_STATUS"), gray.status("TANK_STATUS")
    for t in range(60):
        for model in (pump, fresh, gray):
            model.tick(float(t), 1.0)
    assert fresh.status("TANK_STATUS") == start_fresh  # pump off: nothing moves
    assert pump.command("WATER_PUMP_COMMAND", {"command": "enable_pump_standby"}, 60.0) is None
    for t in range(60, 120):
        for model in (pump, fresh, gray):
            model.tick(float(t), 1.0)
    # 8 L/min for a minute: the fresh tank loses 8 L, the gray tank gains 70 % of it.
    assert fresh.status("TANK_STATUS")["absolute_level"] == start_fresh["absolute_level"] - 8
    assert gray.status("TANK_STATUS")["absolute_level"] > start_gray["absolute_level"]
