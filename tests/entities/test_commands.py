"""Each command type -> exactly the frame the RV-C specification prescribes (bytes written out)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.core.entity_manager import EntityManager
from backend.services.entity_service import EntityService
from tests.entities.conftest import SOURCE, Sent, make_available

# (entity, state before, command, [(DGN, data)]). Unset signals are all ones ("no change").
CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, str]]]] = [
    # DC_DIMMER_COMMAND_2: level = brightness x 2, 0x00 Set Level, delay 0, no interlock
    ("light.living_ceiling", {}, {"command": "set", "state": "on", "brightness": 40},
     [("1FEDB", "01 FF 50 00 00 FC FF FF")]),
    ("light.living_ceiling", {}, {"command": "set", "state": "on"},
     [("1FEDB", "01 FF C8 00 00 FC FF FF")]),
    ("light.living_ceiling", {"state": "on", "brightness": 40.0},
     {"command": "set", "state": "off"}, [("1FEDB", "01 FF 00 03 00 FC FF FF")]),  # 0x03 OFF
    ("light.living_ceiling", {"state": "off", "brightness": 0.0}, {"command": "toggle"},
     [("1FEDB", "01 FF C8 05 00 FC FF FF")]),  # 0x05 Toggle
    ("light.living_ceiling", {"state": "on", "brightness": 40.0}, {"command": "brightness_up"},
     [("1FEDB", "01 FF 64 00 00 FC FF FF")]),
    ("light.living_ceiling", {"state": "on", "brightness": 40.0}, {"command": "brightness_down"},
     [("1FEDB", "01 FF 3C 00 00 FC FF FF")]),
    # DC_LOAD_COMMAND (6.23.4) / AC_LOAD_COMMAND (6.22.4): desired level 200 (100 %); byte 3:
    # mode bits 0-1 and driver direction bits 4-7 unset (1), interlock A/B bits 2-3 = 00b ->
    # 1111 0011b = F3; command 0x00 / 0x03 / 0x05, delay 0
    ("light.porch", {}, {"command": "set", "state": "on"}, [("1FFBC", "0A FF C8 F3 00 00 FF FF")]),
    ("dc_load.tank_heaters", {"state": "on"}, {"command": "set", "state": "off"},
     [("1FFBC", "0B FF 00 F3 03 00 FF FF")]),
    ("ac_load.galley_outlets", {"state": "off"}, {"command": "toggle"},
     [("1FFBE", "02 FF C8 F3 05 00 FF FF")]),
    # DOOR_COMMAND: lock command 01b, no additional action
    ("lock.entry_door", {}, {"command": "lock"}, [("1FEE4", "01 FD 00 FF FF FF FF FF")]),
    ("lock.entry_door", {}, {"command": "unlock"}, [("1FEE4", "01 FC 00 FF FF FF FF FF")]),
    # THERMOSTAT_COMMAND_1: mode heat = 2; 20.0 °C = 0x24A0; 24.0 °C = 0x2520; fan auto 50 %
    ("thermostat.front", {}, {"command": "set_mode", "mode": "heat"},
     [("1FEF9", "01 F2 FF FF FF FF FF FF")]),
    ("thermostat.front", {}, {"command": "set_setpoint", "heat": 20, "cool": 24},
     [("1FEF9", "01 FF FF A0 24 20 25 FF")]),
    ("thermostat.rear", {}, {"command": "set_fan", "fan_mode": "auto", "fan_speed": 50},
     [("1FEF9", "02 CF 64 FF FF FF FF FF")]),
    # AIR_CONDITIONER_COMMAND: the Entegra capture's own frame for instance 1 manual
    ("air_conditioner.front", {}, {"command": "set", "mode": "manual", "fan_speed": 50,
                                   "output_level": 100},
     [("1FFE0", "01 01 FF FF 64 C8 FF FF")]),
    ("furnace.main", {}, {"command": "set", "mode": "manual", "fan_speed": 50},
     [("1FFE3", "01 FD 64 FF FF FF FF FF")]),
    ("heat_pump.front", {}, {"command": "set", "output_level": 50},
     [("1FF9A", "01 FF FF 64 FF FF FF FF")]),
    # GENERATOR_COMMAND (single instance): 1 start, 0 stop
    ("generator.main", {}, {"command": "start"}, [("1FFDA", "01 FF FF FF FF FF FF FF")]),
    ("generator.main", {}, {"command": "stop"}, [("1FFDA", "00 FF FF FF FF FF FF FF")]),
    ("inverter.main", {}, {"command": "enable"}, [("1FFD3", "01 FD FF FF FF FF FF FF")]),
    ("inverter.main", {}, {"command": "disable"}, [("1FFD3", "01 FC FF FF FF FF FF FF")]),
    ("charger.main", {}, {"command": "enable"}, [("1FFC5", "01 01 FF FF FF FF FF FF")]),
    ("charger.main", {}, {"command": "disable"}, [("1FFC5", "01 00 FF FF FF FF FF FF")]),
    # WATERHEATER_COMMAND: electric = 2; 50.0 °C = 0x2860
    ("water_heater.main", {}, {"command": "set_mode", "mode": "electric"},
     [("1FFF6", "01 02 FF FF FF FF FF FF")]),
    ("water_heater.main", {}, {"command": "set_setpoint", "temperature": 50},
     [("1FFF6", "01 FF 60 28 FF FF FF FF")]),
    # WATER_PUMP_COMMAND (single instance): 01b enable (standby), 00b disable
    ("water_pump.main", {}, {"command": "set", "state": "on"},
     [("1FFB2", "FD FF FF FF FF FF FF FF")]),
    ("water_pump.main", {"state": "on"}, {"command": "toggle"},
     [("1FFB2", "FC FF FF FF FF FF FF FF")]),
    # AWNING_COMMAND / SLIDE_COMMAND: direction 1 extend, 2 retract, 0 stop
    ("awning.patio", {}, {"command": "extend"}, [("1FEF2", "01 FF 01 FF FF FF FF FF")]),
    ("awning.patio", {}, {"command": "stop"}, [("1FEF2", "01 FF 00 FF FF FF FF FF")]),
    ("slide.living", {}, {"command": "retract"}, [("1FFE7", "01 FF 02 FF FF FF FF FF")]),
    # dimmer pair: 0x04 Stop the other output, 0x01 ON this one; a slide is held (hold-to-run),
    # so ON lasts 1 s (byte 4 = 0x01) and is repeated while the lease lives
    ("slide.bedroom", {}, {"command": "extend"},
     [("1FEDB", "15 FF FF 04 00 FC FF FF"), ("1FEDB", "14 FF C8 01 01 FC FF FF")]),
    ("slide.bedroom", {}, {"command": "stop"},
     [("1FEDB", "14 FF FF 04 00 FC FF FF"), ("1FEDB", "15 FF FF 04 00 FC FF FF")]),
    # WINDOW_SHADE_CONTROL_COMMAND (6.39.3): 0x81 forward, 0x41 reverse, 20 s; 0x04 stop;
    # byte 5: interlock A (bit 0) and B (bit 1) = 0, reserved bits 2-7 = 1 -> 1111 1100b = FC
    ("shade.living_day", {}, {"command": "open"}, [("1FEDF", "01 FF C8 81 14 FC FF FF")]),
    ("shade.living_day", {}, {"command": "close"}, [("1FEDF", "01 FF C8 41 14 FC FF FF")]),
    ("shade.living_day", {}, {"command": "stop"}, [("1FEDF", "01 FF FF 04 00 FC FF FF")]),
    # ROOF_FAN_COMMAND_1: on, 50 %, air in (01b), dome open (0100b)
    ("roof_fan.bathroom", {}, {"command": "set", "state": "on", "speed": 50,
                               "direction": "air_in", "lid": "open"},
     [("1FEA6", "01 FD 64 D1 FF FF FF FF")]),
    # SET_DATE_TIME_COMMAND: 2024 = 0x18, June, 3rd, Monday = 2 (1 = Sunday), 14:32:56
    ("datetime.coach", {}, {"command": "set", "datetime": "2024-06-03T14:32:56"},
     [("1FFFE", "18 06 03 02 0E 20 38 FF")]),
]  # fmt: skip


@pytest.mark.parametrize(("entity_id", "state", "command", "frames"), CASES)
async def test_command_frames(
    service: tuple[EntityService, Sent],
    manager: EntityManager,
    entity_id: str,
    state: dict[str, Any],
    command: dict[str, Any],
    frames: list[tuple[str, str]],
) -> None:
    svc, sent = service
    make_available(manager, entity_id, **state)
    accepted = await svc.execute_command(entity_id, command)
    assert accepted.status == "pending"
    assert [(dgn, data) for dgn, _, data, _ in sent.frames] == frames
    assert {src for _, src, _, _ in sent.frames} == {SOURCE}
    entity = manager.get_entity(entity_id)
    assert entity is not None
    assert {iface for *_, iface in sent.frames} == {entity.interface}


async def test_command_does_not_change_state(
    service: tuple[EntityService, Sent], manager: EntityManager
) -> None:
    svc, _ = service
    make_available(manager, "light.galley_ceiling", state="off", brightness=0.0)
    accepted = await svc.execute_command(
        "light.galley_ceiling", {"command": "set", "brightness": 60}
    )
    assert accepted.optimistic == {"state": "on", "brightness": 60}
    assert manager.get_entity("light.galley_ceiling").state["brightness"] == 0.0  # type: ignore[union-attr]
    assert svc.pending_command("light.galley_ceiling")["command"] == {  # type: ignore[index]
        "command": "set",
        "brightness": 60,
    }


async def test_chassis_entity_goes_to_its_interface(
    service: tuple[EntityService, Sent], manager: EntityManager
) -> None:
    # battery.chassis is read-only; check the interface a commandable chassis entity would use
    assert manager.get_entity("battery.chassis").interface == "chassis"  # type: ignore[union-attr]
    assert manager.get_entity("light.porch").interface == "house"  # type: ignore[union-attr]
