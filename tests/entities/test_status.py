"""Status frames written out here -> the entity values the RV-C specification gives."""

from __future__ import annotations

from typing import Any

import pytest

from backend.core.entity_manager import EntityManager
from tests.entities.conftest import Feed

# (entity, CAN id, data, expected state subset). Values per the spec's tables (chapter 6) and
# table 5.3 scaling: % = raw x 0.5, °C (uint16) = raw / 32 - 273, V = raw x 0.05,
# A (uint16) = raw x 0.05 - 1600.
CASES: list[tuple[str, int, str, dict[str, Any]]] = [
    # DC_DIMMER_STATUS_3 instance 1: operating status 0x50 = 80 -> 40 %
    ("light.living_ceiling", 0x19FEDA83, "01 FF 50 FC FF 00 FF FF",
     {"state": "on", "brightness": 40.0, "ramping": False, "last_command": "set_brightness"}),
    ("light.living_ceiling", 0x19FEDA83, "01 FF 00 FC FF 03 FF FF",
     {"state": "off", "brightness": 0.0, "last_command": "off"}),
    # DC_LOAD_STATUS instance 10 (a light on a DC load): 0xC8 -> 100 %
    ("light.porch", 0x19FFBD92, "0A FF C8 FF FF FF FF FF", {"state": "on", "brightness": 100.0}),
    # DC_LOAD_STATUS instance 11: 50 %, present current 0x7D48 = 32072 x 0.05 - 1600 = 3.6 A
    ("dc_load.tank_heaters", 0x19FFBD92, "0B FF 64 FF FF FF 48 7D",
     {"state": "on", "level": 50.0, "current": 3.6}),
    ("ac_load.galley_outlets", 0x19FFBF89, "02 FF 00 FF FF FF FF FF",
     {"state": "off", "level": 0.0}),
    # DOOR_STATUS: lock status 01b = locked, no motion, position 100 %
    ("lock.entry_door", 0x19FEE587, "01 FD 00 C8 FF FF FF FF",
     {"state": "locked", "motion": "no_motion", "position": 100.0}),
    # TANK_STATUS instance 0 (fresh): 3 / 4 = 75 %, 0x011F = 287 L of 0x017C = 380 L
    ("tank.fresh_water", 0x19FFB748, "00 03 04 1F 01 7C 01 FF",
     {"level": 75.0, "volume_l": 287, "capacity_l": 380}),
    ("tank.black_water", 0x19FFB748, "01 01 08 FF FF FF FF FF", {"level": 12.5}),
    # DC_SOURCE_STATUS_2: 0x24A0 = 9376 / 32 - 273 = 20.0 °C, SOC 0xB4 = 90 %, 60 min to full
    ("battery.house", 0x19FFFC42, "01 78 A0 24 B4 3C 00 FD",
     {"temperature": 20.0, "state_of_charge": 90.0, "time_remaining_min": 60,
      "time_remaining_kind": "time_to_full"}),
    # THERMOSTAT_STATUS_1: mode 2 heat, fan auto, 50 %, heat 20.0 °C, cool 0x2520 -> 24.0 °C
    ("thermostat.front", 0x19FFE258, "01 C2 64 A0 24 20 25 FF",
     {"mode": "heat", "fan_mode": "auto", "fan_speed": 50.0, "setpoint_heat": 20.0,
      "setpoint_cool": 24.0}),
    # THERMOSTAT_AMBIENT_STATUS: 0x2560 = 9568 / 32 - 273 = 26.0 °C
    ("thermostat.front", 0x19FF9C58, "01 60 25 FF FF FF FF FF", {"ambient_temperature": 26.0}),
    # AIR_CONDITIONER_STATUS: manual, max fan 100 %, max output 100 %, fan 50 %, output 100 %,
    # dead band 0x0A x 0.1 = 1.0 °C
    ("air_conditioner.front", 0x19FFE167, "01 01 C8 C8 64 C8 0A FF",
     {"mode": "manual", "max_fan_speed": 100.0, "fan_speed": 50.0, "output_level": 100.0,
      "dead_band": 1.0}),
    # FURNACE_STATUS: automatic, combustion, fan 50 %, heat output 100 %
    ("furnace.main", 0x19FFE45E, "01 00 64 C8 FF FF FF FF",
     {"mode": "automatic", "heat_source": "combustion", "fan_speed": 50.0,
      "output_level": 100.0}),
    ("heat_pump.front", 0x19FF9B69, "01 01 C8 64 FF FF 64 FF",
     {"mode": "manual", "max_output_level": 100.0, "output_level": 50.0, "fan_speed": 50.0}),
    # GENERATOR_STATUS_2: coolant 0x6E - 40 = 70 °C, oil 0x40 x 4 = 256 kPa, 0x7080 / 8 = 3600 rpm
    ("generator.main", 0x19FFDB40, "FF 6E 40 80 70 FF FF FF",
     {"coolant_temperature": 70, "oil_pressure_kpa": 256, "rpm": 3600.0}),
    # INVERTER_STATUS: status 1 invert, inverter enabled (bits 4-5 = 01b)
    ("inverter.main", 0x19FFD442, "01 01 DF FF FF FF FF FF",
     {"status": "invert", "enabled": True}),
    # CHARGER_STATUS: 0x0114 x 0.05 = 13.8 V, 3.6 A, 50 % of max, bulk
    ("charger.main", 0x19FFC742, "01 14 01 48 7D 64 02 FF",
     {"state": "bulk", "enabled": True, "voltage": 13.8, "current": 3.6, "percent_of_max": 50.0}),
    # ATS_STATUS: source in use 0 (the spec's "0 - Primary"): a number, named in source_name
    ("transfer_switch.main", 0x19FFAA4F, "01 00 FC FF FF FF FF FF",
     {"source": 0, "source_name": "primary", "mode": "automatic"}),
    # ATS_AC_STATUS_1 byte 0 = 0x09: instance 1, output, primary, leg 1; 120.0 V, 3.6 A, 60.0 Hz
    ("transfer_switch.main", 0x19FFAD4F, "09 60 09 48 7D 00 1E 00",
     {"voltage": 120.0, "current": 3.6, "frequency": 60.0, "faults": []}),
    # SOLAR_CONTROLLER_STATUS: 0x0118 -> 14.0 V, 0x7DE0 -> 11.2 A, 25 %, float
    ("solar_controller.roof", 0x19FEB3A0, "01 18 01 E0 7D 32 06 FF",
     {"state": "float", "voltage": 14.0, "current": 11.2, "percent_of_max": 25.0}),
    # WATERHEATER_STATUS: combustion, setpoint 0x2860 -> 50.0 °C, water 0x27C0 -> 45.0 °C,
    # setpoint not met, burner lit
    ("water_heater.main", 0x19FFF765, "01 01 60 28 C0 27 05 00",
     {"mode": "combustion", "setpoint": 50.0, "water_temperature": 45.0, "setpoint_met": False,
      "burner": True, "ac_element": False}),
    # WATER_PUMP_STATUS (single instance): enabled, running, 400 x 100 Pa = 40.0 kPa, 5 A
    ("water_pump.main", 0x19FFB37F, "C5 90 01 FF FF FF FF 05",
     {"state": "on", "running": True, "pressure_kpa": 40.0, "current": 5}),
    ("awning.patio", 0x19FEF382, "01 01 64 FF FF FF FF FF",
     {"motion": "extending", "position": 50.0}),
    ("slide.living", 0x19FFE854, "01 02 C8 FF FF FF FF FF",
     {"motion": "retracting", "position": 100.0}),
    # dimmer pair: output 20 (extend) at 100 %
    ("slide.bedroom", 0x19FEDA83, "14 FF C8 FC FF 01 FF FF",
     {"motion": "extending", "extend_output": True}),
    # WINDOW_SHADE_CONTROL_STATUS byte 3 = 0x14: motor on, forward output on -> opening
    ("shade.living_day", 0x19FEDE86, "01 FF C8 14 14 81 FF FF",
     {"motion": "opening", "last_command": "forward"}),
    # ROOF_FAN_STATUS_1: on, forced on, manual, 50 %, air in, dome open, 26.0 °C
    ("roof_fan.bathroom", 0x19FEA7A1, "01 15 64 D1 60 25 FF FF",
     {"state": "on", "fan_mode": "forced_on", "speed": 50.0, "direction": "air_in",
      "lid": "open", "ambient_temperature": 26.0}),
]  # fmt: skip


@pytest.mark.parametrize(("entity_id", "can_id", "data", "expected"), CASES)
def test_status_frame_updates_entity(
    manager: EntityManager,
    feed: Feed,
    entity_id: str,
    can_id: int,
    data: str,
    expected: dict[str, Any],
) -> None:
    feed(can_id, data)
    entity = manager.get_entity(entity_id)
    assert entity is not None
    assert entity.available
    assert {k: entity.state.get(k) for k in expected} == expected


def test_ramping_value_keeps_brightness(manager: EntityManager, feed: Feed) -> None:
    feed(0x19FEDA83, "01 FF 50 FC FF 00 FF FF")
    feed(0x19FEDA83, "01 FF FB FC FF 11 FF FF")  # 251: value is changing (ramp command)
    state = manager.get_entity("light.living_ceiling").state  # type: ignore[union-attr]
    assert state["brightness"] == 40.0
    assert state["ramping"] is True


# Real frames from public write-ups (reference README), with the meaning the spec gives.
REAL_MAPPING = """
version: 1
coach: {name: real frames}
entities:
  - {entity_id: battery.house, name: House, type: battery, instance: 1}
  - {entity_id: generator.main, name: Generator, type: generator}
  - entity_id: ac_input.shore
    name: Shore
    type: ac_input
    status: [{dgn: CHARGER_AC_STATUS_1, instance: 1, match: {input_output: input}}]
  - entity_id: inverter.main
    name: Inverter
    type: inverter
    instance: 1
    status: [INVERTER_STATUS, {dgn: INVERTER_AC_STATUS_1, match: {input_output: output}}]
  - {entity_id: datetime.coach, name: Clock, type: datetime}
  - {entity_id: ac_load.block_heater, name: Block heater, type: ac_load, instance: 219}
"""


def test_real_frames(rvc, write_mapping) -> None:
    from backend.core.coach_mapping import load_mapping

    manager = EntityManager(load_mapping(write_mapping(REAL_MAPPING), rvc.spec))
    for can_id, data in [
        (0x19FFFD42, "0164020100943577"),
        (0x19FFDC5D, "005E010000FFFFFF"),
        (0x19FFCA42, "013809FFFF0D1EFF"),
        (0x19FFD742, "413809FFFF0D1EFF"),
        (0x19FFFF5D, "000603010E2038FF"),
        (0x19FFBF5D, "DBFF0060000BFFFF"),
    ]:
        manager.ingest(rvc.decode(can_id, bytes.fromhex(data)))
    state = {e.entity_id: e.state for e in manager.get_all_entities()}
    assert state["battery.house"] == {"voltage": 12.9, "current": 0.0, "status": "idle"}
    assert state["generator.main"] == {
        "status": "stopped",
        "run_time_h": 5.83,  # 350 min
        "load": None,
        "start_battery_voltage": None,
    }
    assert state["ac_input.shore"]["voltage"] == 118.0
    assert state["ac_input.shore"]["current"] is None
    assert state["ac_input.shore"]["frequency"] == 60.1  # 0x1E0D / 128 = 60.10 Hz
    assert state["inverter.main"]["ac_voltage"] == 118.0
    assert state["datetime.coach"] == {
        "datetime": "2000-06-03T14:32:56",
        "day_of_week": "sunday",
        "time_zone": None,
    }
    assert state["ac_load.block_heater"]["state"] == "off"
    assert state["ac_load.block_heater"]["level"] == 0.0


def test_inverter_input_frame_does_not_update_the_output(rvc, write_mapping) -> None:
    from backend.core.coach_mapping import load_mapping

    manager = EntityManager(load_mapping(write_mapping(REAL_MAPPING), rvc.spec))
    manager.ingest(rvc.decode(0x19FFD742, bytes.fromhex("013809FFFF0D1EFF")))  # input, not output
    assert manager.get_entity("inverter.main").state == {}  # type: ignore[union-attr]
