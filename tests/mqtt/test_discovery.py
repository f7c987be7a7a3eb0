"""Home Assistant discovery payloads of the simulated coach, field by field.

Every entity of the default mapping (the simulated coach) gets a device config; one entity of
each of the 23 types is checked component by component against what Home Assistant's MQTT
platforms expect, and the value templates are rendered with Jinja (the engine Home Assistant
uses, with ``value_json``) against the states the simulated devices report.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
import pytest

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, load_mapping
from backend.core.entity_manager import EntityManager
from backend.core.entity_types import ENTITY_TYPES
from backend.integrations.mqtt import discovery
from backend.integrations.mqtt.topics import Topics
from backend.integrations.rvc.loader import load_config_data
from tests.safety.conftest import air_leveling_mapping

T = Topics("coachiq", "rv1", "homeassistant")
ON = '{"command":"set","state":"on"}'
OFF = '{"command":"set","state":"off"}'
AVAILABILITY = [
    {"topic": "coachiq/rv1/status"},
    {
        "topic": None,  # the entity's state topic, filled in below
        "value_template": "{{ 'online' if value_json.available else 'offline' }}",
    },
]


@pytest.fixture(scope="module")
def manager() -> EntityManager:
    return EntityManager(load_mapping(DEFAULT_MAPPING_PATH, load_config_data().spec))


def view(manager: EntityManager, entity_id: str) -> dict[str, Any]:
    entity = manager.get_entity(entity_id)
    assert entity is not None
    data = entity.to_dict()
    data["area_name"] = manager.areas.get(entity.area or "")
    return data


def device(manager: EntityManager, entity_id: str, allow_motion: bool = False) -> dict[str, Any]:
    ctx = discovery.DiscoveryContext(T, allow_motion, manager.coach, "0.1.0")
    device_id, payload = discovery.entity_device(view(manager, entity_id), ctx)
    assert device_id == "rv1_" + entity_id.replace(".", "_")
    return payload


def sensor(name: str, key: str, **fields: Any) -> dict[str, Any]:
    out = {"p": "sensor", "name": name, "value_template": "{{ value_json." + key + " }}"}
    out.update(fields)
    return out


def measure(name: str, key: str, device_class: str | None, unit: str, **fields: Any):
    extra = {"device_class": device_class} if device_class else {}
    return sensor(name, key, **extra, unit_of_measurement=unit, state_class="measurement", **fields)


def binary(name: str, template: str, device_class: str) -> dict[str, Any]:
    return {
        "p": "binary_sensor",
        "name": name,
        "value_template": template,
        "payload_on": "on",
        "payload_off": "off",
        "device_class": device_class,
    }


def switch(entity_id: str, template: str, on: str, off: str) -> dict[str, Any]:
    return {
        "p": "switch",
        "name": None,
        "command_topic": f"coachiq/rv1/{entity_id}/set",
        "payload_on": on,
        "payload_off": off,
        "value_template": template,
        "state_on": "on",
        "state_off": "off",
    }


AC = {
    "voltage": measure("AC voltage", "voltage", "voltage", "V"),
    "current": measure("AC current", "current", "current", "A"),
    "frequency": measure("AC frequency", "frequency", "frequency", "Hz"),
}
FAULT = binary("Fault", "{{ 'on' if value_json.faults else 'off' }}", "problem")
HVAC = {
    "mode": sensor("Mode", "mode", device_class="enum", options=["automatic", "manual"]),
    "fan_speed": measure("Fan speed", "fan_speed", None, "%", icon="mdi:fan"),
    "output_level": measure("Output level", "output_level", None, "%", icon="mdi:gauge"),
}
SET = "coachiq/rv1/{}/set"
STATE = "coachiq/rv1/{}/state"

EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "light.living_ceiling": {
        "light": {
            "p": "light",
            "name": None,
            "command_topic": SET.format("light.living_ceiling"),
            "payload_on": ON,
            "payload_off": OFF,
            "state_value_template": f"{{{{ '{ON}' if value_json.state == 'on' else '{OFF}' }}}}",
            "brightness_command_topic": SET.format("light.living_ceiling"),
            "brightness_command_template": '{"command":"set","brightness":{{ value }}}',
            "brightness_scale": 100,
            "brightness_state_topic": STATE.format("light.living_ceiling"),
            "brightness_value_template": "{{ value_json.brightness | round(0) | int }}",
            "on_command_type": "brightness",
        }
    },
    "dc_load.tank_heaters": {
        "switch": switch("dc_load.tank_heaters", "{{ value_json.state }}", ON, OFF),
        "current": measure("Current", "current", "current", "A"),
    },
    "ac_load.galley_outlets": {
        "switch": switch("ac_load.galley_outlets", "{{ value_json.state }}", ON, OFF),
        "current": measure("Current", "current", "current", "A"),
    },
    "lock.entry_door": {
        "lock": {
            "p": "lock",
            "name": None,
            "command_topic": SET.format("lock.entry_door"),
            "payload_lock": '{"command":"lock"}',
            "payload_unlock": '{"command":"unlock"}',
            "value_template": "{{ value_json.state }}",
            "state_locked": "locked",
            "state_unlocked": "unlocked",
        }
    },
    "tank.black_water": {
        "level": measure("Level", "level", None, "%", icon="mdi:storage-tank"),
        "volume": measure("Volume", "volume_l", "volume_storage", "L"),
    },
    "battery.house": {
        "voltage": measure("Voltage", "voltage", "voltage", "V"),
        "current": measure("Current", "current", "current", "A"),
        "state_of_charge": measure("State of charge", "state_of_charge", "battery", "%"),
        "temperature": measure("Temperature", "temperature", "temperature", "°C"),
    },
    "thermostat.front": {
        "climate": {
            "p": "climate",
            "name": None,
            "modes": ["off", "cool", "heat", "heat_cool", "fan_only", "dry"],
            "mode_command_topic": SET.format("thermostat.front"),
            "mode_command_template": (
                '{% set m = {"heat_cool": "auto_heat_cool", "dry": "window_defrost_dehumidify"} %}'
                '{"command":"set_mode","mode":"{{ m.get(value, value) }}"}'
            ),
            "mode_state_topic": STATE.format("thermostat.front"),
            "mode_state_template": (
                '{% set m = {"off": "off", "cool": "cool", "heat": "heat", '
                '"auto_heat_cool": "heat_cool", "fan_only": "fan_only", '
                '"window_defrost_dehumidify": "dry", "aux_heat": "heat"} %}'
                "{{ m.get(value_json.mode, 'off') }}"
            ),
            "temperature_low_command_topic": SET.format("thermostat.front"),
            "temperature_low_command_template": '{"command":"set_setpoint","heat":{{ value }}}',
            "temperature_low_state_topic": STATE.format("thermostat.front"),
            "temperature_low_state_template": "{{ value_json.setpoint_heat }}",
            "temperature_high_command_topic": SET.format("thermostat.front"),
            "temperature_high_command_template": '{"command":"set_setpoint","cool":{{ value }}}',
            "temperature_high_state_topic": STATE.format("thermostat.front"),
            "temperature_high_state_template": "{{ value_json.setpoint_cool }}",
            "current_temperature_topic": STATE.format("thermostat.front"),
            "current_temperature_template": "{{ value_json.ambient_temperature }}",
            "fan_modes": ["auto", "on"],
            "fan_mode_command_topic": SET.format("thermostat.front"),
            "fan_mode_command_template": '{"command":"set_fan","fan_mode":"{{ value }}"}',
            "fan_mode_state_topic": STATE.format("thermostat.front"),
            "fan_mode_state_template": "{{ value_json.fan_mode }}",
            "action_topic": STATE.format("thermostat.front"),
            "action_template": discovery._THERMOSTAT_ACTION,
            "temperature_unit": "C",
            "min_temp": 0,
            "max_temp": 40,
            "temp_step": 0.5,
            "precision": 0.5,
        }
    },
    "air_conditioner.front": HVAC,
    "furnace.main": HVAC,
    "heat_pump.front": HVAC,
    "generator.main": {
        "switch": switch(
            "generator.main",
            "{{ 'on' if value_json.status in ('running', 'preheat', 'cranking', 'priming') "
            "else 'off' }}",
            '{"command":"start"}',
            '{"command":"stop"}',
        ),
        "status": sensor("Status", "status", icon="mdi:engine"),
        "run_time": sensor(
            "Run time",
            "run_time_h",
            device_class="duration",
            unit_of_measurement="h",
            state_class="total_increasing",
        ),
        "load": measure("Load", "load", None, "%", icon="mdi:gauge"),
        "start_battery": measure("Start battery", "start_battery_voltage", "voltage", "V"),
    },
    "inverter.main": {
        "switch": switch(
            "inverter.main",
            "{{ 'on' if value_json.enabled else 'off' }}",
            '{"command":"enable"}',
            '{"command":"disable"}',
        ),
        "status": sensor("Status", "status", icon="mdi:power-plug"),
        "voltage": measure("AC voltage", "ac_voltage", "voltage", "V"),
        "current": measure("AC current", "ac_current", "current", "A"),
        "frequency": measure("AC frequency", "ac_frequency", "frequency", "Hz"),
    },
    "charger.main": {
        "switch": switch(
            "charger.main",
            "{{ 'on' if value_json.enabled else 'off' }}",
            '{"command":"enable"}',
            '{"command":"disable"}',
        ),
        "state": sensor("Charge state", "state", icon="mdi:battery-charging"),
        "voltage": measure("Voltage", "voltage", "voltage", "V"),
        "current": measure("Current", "current", "current", "A"),
    },
    "ac_input.shore": {**AC, "fault": FAULT},
    "transfer_switch.main": {
        **AC,
        "fault": FAULT,
        "source": sensor("Source", "source", icon="mdi:transit-connection"),
    },
    "solar_controller.roof": {
        "voltage": measure("Voltage", "voltage", "voltage", "V"),
        "current": measure("Current", "current", "current", "A"),
        "state": sensor("Charge state", "state", icon="mdi:solar-power"),
    },
    "water_heater.main": {
        "water_temperature": measure("Water temperature", "water_temperature", "temperature", "°C"),
        "setpoint": measure("Setpoint", "setpoint", "temperature", "°C"),
        "mode": sensor(
            "Mode",
            "mode",
            device_class="enum",
            options=["off", "combustion", "electric", "gas_electric_both", "automatic"],
        ),
        "burner": binary("Burner", "{{ 'on' if value_json.burner else 'off' }}", "heat"),
        "ac_element": binary(
            "AC element", "{{ 'on' if value_json.ac_element else 'off' }}", "heat"
        ),
        "failure_to_ignite": binary(
            "Failure to ignite", "{{ 'on' if value_json.failure_to_ignite else 'off' }}", "problem"
        ),
    },
    "water_pump.main": {
        "switch": switch("water_pump.main", "{{ value_json.state }}", ON, OFF),
        "running": binary("Running", "{{ 'on' if value_json.running else 'off' }}", "running"),
        "pressure": measure("Pressure", "pressure_kpa", "pressure", "kPa"),
    },
    # movers without motion allowed: read-only sensors and a Stop button
    "awning.patio": {
        "motion": sensor("Motion", "motion", icon="mdi:arrow-expand"),
        "position": measure("Position", "position", None, "%"),
        "stop": {
            "p": "button",
            "name": "Stop",
            "command_topic": SET.format("awning.patio"),
            "payload_press": '{"command":"stop"}',
        },
    },
    "slide.bedroom": {
        "motion": sensor("Motion", "motion", icon="mdi:arrow-expand"),
        "stop": {
            "p": "button",
            "name": "Stop",
            "command_topic": SET.format("slide.bedroom"),
            "payload_press": '{"command":"stop"}',
        },
    },
    "step.entry": {
        "motion": sensor("Motion", "motion", icon="mdi:arrow-expand"),
        "position": measure("Position", "position", None, "%"),
        "stop": {
            "p": "button",
            "name": "Stop",
            "command_topic": SET.format("step.entry"),
            "payload_press": '{"command":"stop"}',
        },
    },
    "leveling.jacks": {
        "jacks_down": sensor(
            "Jacks down", "jacks_down", state_class="measurement", icon="mdi:car-brake-parking"
        ),
        "motion": sensor("Motion", "motion", icon="mdi:arrow-expand"),
        "stop": {
            "p": "button",
            "name": "Stop",
            "command_topic": SET.format("leveling.jacks"),
            "payload_press": '{"command":"stop"}',
        },
    },
    "shade.living_day": {
        "motion": sensor("Motion", "motion", icon="mdi:arrow-expand"),
        "stop": {
            "p": "button",
            "name": "Stop",
            "command_topic": SET.format("shade.living_day"),
            "payload_press": '{"command":"stop"}',
        },
    },
    "roof_fan.bathroom": {
        "fan": {
            "p": "fan",
            "name": None,
            "command_topic": SET.format("roof_fan.bathroom"),
            "command_template": '{"command":"set","state":"{{ value }}"}',
            "payload_on": "on",
            "payload_off": "off",
            "state_value_template": "{{ value_json.state }}",
            "percentage_command_topic": SET.format("roof_fan.bathroom"),
            "percentage_command_template": '{"command":"set","speed":{{ value }}}',
            "percentage_state_topic": STATE.format("roof_fan.bathroom"),
            "percentage_value_template": "{{ value_json.speed | round(0) | int }}",
            "speed_range_min": 1,
            "speed_range_max": 100,
            "direction_command_topic": SET.format("roof_fan.bathroom"),
            "direction_command_template": (
                '{"command":"set","direction":"{{ \'air_out\' if value == \'forward\' '
                "else 'air_in' }}\"}"
            ),
            "direction_state_topic": STATE.format("roof_fan.bathroom"),
            "direction_value_template": (
                "{{ 'forward' if value_json.direction == 'air_out' else 'reverse' }}"
            ),
        },
        "temperature": measure("Temperature", "ambient_temperature", "temperature", "°C"),
        "lid": sensor("Lid", "lid", icon="mdi:window-open"),
    },
    "datetime.coach": {
        "datetime": sensor("Date and time", "datetime", icon="mdi:clock-outline"),
    },
}

COVERS_WITH_MOTION = {
    "awning.patio": {
        "cover": {
            "p": "cover",
            "name": None,
            "command_topic": SET.format("awning.patio"),
            "payload_open": '{"command":"extend"}',
            "payload_close": '{"command":"retract"}',
            "payload_stop": '{"command":"stop"}',
            "value_template": discovery._COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
            "device_class": "awning",
            "position_topic": STATE.format("awning.patio"),
            "position_template": "{{ value_json.position | round(0) | int }}",
        }
    },
    "slide.living": {
        "cover": {
            "p": "cover",
            "name": None,
            "command_topic": SET.format("slide.living"),
            "payload_open": '{"command":"extend"}',
            "payload_close": '{"command":"retract"}',
            "payload_stop": '{"command":"stop"}',
            "value_template": discovery._COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
            "position_topic": STATE.format("slide.living"),
            "position_template": "{{ value_json.position | round(0) | int }}",
        }
    },
    "step.entry": {
        "cover": {
            "p": "cover",
            "name": None,
            "command_topic": SET.format("step.entry"),
            "payload_open": '{"command":"extend"}',
            "payload_close": '{"command":"retract"}',
            "payload_stop": '{"command":"stop"}',
            "value_template": discovery._COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
            "position_topic": STATE.format("step.entry"),
            "position_template": "{{ value_json.position | round(0) | int }}",
        }
    },
    "leveling.jacks": {
        "jacks_down": sensor(
            "Jacks down", "jacks_down", state_class="measurement", icon="mdi:car-brake-parking"
        ),
        "cover": {
            "p": "cover",
            "name": None,
            "command_topic": SET.format("leveling.jacks"),
            "payload_open": '{"command":"extend","jack":"all"}',
            "payload_close": '{"command":"retract","jack":"all"}',
            "payload_stop": '{"command":"stop"}',
            "value_template": discovery._COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
        },
        "auto_level": {
            "p": "button",
            "name": "Auto level",
            "command_topic": SET.format("leveling.jacks"),
            "payload_press": '{"command":"auto_level"}',
        },
        "store": {
            "p": "button",
            "name": "Store jacks",
            "command_topic": SET.format("leveling.jacks"),
            "payload_press": '{"command":"store"}',
        },
    },
    "shade.bedroom_night": {
        "cover": {
            "p": "cover",
            "name": None,
            "command_topic": SET.format("shade.bedroom_night"),
            "payload_open": '{"command":"open"}',
            "payload_close": '{"command":"close"}',
            "payload_stop": '{"command":"stop"}',
            "value_template": discovery._COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
            "device_class": "shade",
        }
    },
}


def strip_ids(components: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        key: {k: v for k, v in c.items() if k not in ("unique_id", "default_entity_id")}
        for key, c in components.items()
    }


def test_every_entity_type_is_described():
    assert set(discovery.COMPONENTS) == set(ENTITY_TYPES)
    covered = {entity_id.split(".")[0] for entity_id in EXPECTED}
    assert covered == set(ENTITY_TYPES)


@pytest.mark.parametrize("entity_id", sorted(EXPECTED))
def test_components_field_by_field(manager, entity_id):
    payload = device(manager, entity_id)
    assert strip_ids(payload["cmps"]) == EXPECTED[entity_id]


@pytest.mark.parametrize("entity_id", sorted(COVERS_WITH_MOTION))
def test_movers_are_covers_when_motion_is_allowed(manager, entity_id):
    payload = device(manager, entity_id, allow_motion=True)
    assert strip_ids(payload["cmps"]) == COVERS_WITH_MOTION[entity_id]


def test_roof_fan_lid_is_a_cover_only_with_motion(manager):
    lid = device(manager, "roof_fan.bathroom", allow_motion=True)["cmps"]["lid"]
    assert {k: v for k, v in lid.items() if k not in ("unique_id", "default_entity_id")} == {
        "p": "cover",
        "name": "Lid",
        "command_topic": SET.format("roof_fan.bathroom"),
        "payload_open": '{"command":"set","lid":"open"}',
        "payload_close": '{"command":"set","lid":"closed"}',
        "value_template": "{{ value_json.lid }}",
        "state_open": "open",
        "state_closed": "closed",
    }


def test_device_origin_availability_and_ids(manager):
    payload = device(manager, "light.living_ceiling")
    assert payload["dev"] == {
        "ids": ["rv1_light_living_ceiling"],
        "name": "Living room ceiling",
        "mdl": "RV-C light",
        "via_device": "rv1_coach",
        "mf": "CoachIQ",
        "sa": "Living room",
    }
    assert payload["o"] == {"name": "CoachIQ", "sw": "0.1.0"}
    assert payload["state_topic"] == "coachiq/rv1/light.living_ceiling/state"
    assert payload["qos"] == 1
    assert payload["availability_mode"] == "all"
    assert payload["availability"] == [
        AVAILABILITY[0],
        {**AVAILABILITY[1], "topic": "coachiq/rv1/light.living_ceiling/state"},
    ]
    light = payload["cmps"]["light"]
    assert light["unique_id"] == "rv1_light_living_ceiling_light"
    assert light["default_entity_id"] == "light.rv1_light_living_ceiling_light"
    assert "object_id" not in light
    sensor_ = device(manager, "battery.house")["cmps"]["voltage"]
    assert sensor_["unique_id"] == "rv1_battery_house_voltage"
    assert sensor_["default_entity_id"] == "sensor.rv1_battery_house_voltage"


def test_unique_ids_are_unique_and_stable(manager):
    ctx = discovery.DiscoveryContext(T, True, manager.coach)
    first = [
        discovery.entity_device(view(manager, e.entity_id), ctx) for e in manager.get_all_entities()
    ]
    again = [
        discovery.entity_device(view(manager, e.entity_id), ctx) for e in manager.get_all_entities()
    ]
    ids = [c["unique_id"] for _, p in first for c in p["cmps"].values()]
    assert len(ids) == len(set(ids))
    assert ids == [c["unique_id"] for _, p in again for c in p["cmps"].values()]
    assert len(first) == len(manager.get_all_entities()) == 39


def test_coach_device_has_bridge_status_and_stop_all(manager):
    ctx = discovery.DiscoveryContext(T, False, manager.coach, "0.1.0")
    device_id, payload = discovery.coach_device(ctx, name="CoachIQ simulated coach")
    assert device_id == "rv1_coach"
    assert payload["dev"] == {
        "ids": ["rv1_coach"],
        "name": "CoachIQ simulated coach",
        "mdl": "Simulator",
        "mf": "CoachIQ",
    }
    assert payload["cmps"]["bridge"] == {
        "p": "binary_sensor",
        "name": "Bridge",
        "state_topic": "coachiq/rv1/status",
        "payload_on": "online",
        "payload_off": "offline",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "unique_id": "rv1_coach_bridge",
        "default_entity_id": "binary_sensor.rv1_coach_bridge",
    }
    assert set(payload["cmps"]) == {
        "bridge",
        "stop_all",
        "parked",
        "motion_lockout",
        "motion_alert",
    }
    assert payload["cmps"]["stop_all"] == {
        "p": "button",
        "name": "Stop all motion",
        "command_topic": "coachiq/rv1/stop_all/set",
        "payload_press": '{"command":"stop"}',
        "availability": [{"topic": "coachiq/rv1/status"}],
        "unique_id": "rv1_coach_stop_all",
        "default_entity_id": "button.rv1_coach_stop_all",
    }


def test_coach_device_has_parked_lockout_and_alert_sensors(manager):
    ctx = discovery.DiscoveryContext(T, False, manager.coach, "0.1.0")
    cmps = discovery.coach_device(ctx, name="Coach")[1]["cmps"]
    status = [{"topic": "coachiq/rv1/status"}]
    assert cmps["parked"] == {
        "p": "binary_sensor",
        "name": "Parked",
        "value_template": "{{ 'on' if value_json.parked else 'off' }}",
        "payload_on": "on",
        "payload_off": "off",
        "state_topic": "coachiq/rv1/safety/state",
        "json_attributes_topic": "coachiq/rv1/safety/state",
        "icon": "mdi:car-brake-parking",
        "availability": status,
        "unique_id": "rv1_coach_parked",
        "default_entity_id": "binary_sensor.rv1_coach_parked",
    }
    assert cmps["motion_lockout"] == {
        "p": "binary_sensor",
        "name": "Motion lockout",
        "value_template": "{{ 'on' if value_json.lockouts else 'off' }}",
        "payload_on": "on",
        "payload_off": "off",
        "state_topic": "coachiq/rv1/safety/state",
        "icon": "mdi:lock-alert",
        "availability": status,
        "unique_id": "rv1_coach_motion_lockout",
        "default_entity_id": "binary_sensor.rv1_coach_motion_lockout",
    }
    assert cmps["motion_alert"] == {
        "p": "binary_sensor",
        "name": "Moving with a load out",
        "value_template": "{{ 'on' if value_json.alert else 'off' }}",
        "payload_on": "on",
        "payload_off": "off",
        "device_class": "problem",
        "state_topic": "coachiq/rv1/safety/state",
        "availability": status,
        "unique_id": "rv1_coach_motion_alert",
        "default_entity_id": "binary_sensor.rv1_coach_motion_alert",
    }
    lockout = cmps["motion_lockout"]["value_template"]
    assert render(lockout, {"lockouts": {}}) == "off"
    assert render(lockout, {"lockouts": {"slide.living": ["park brake released"]}}) == "on"
    assert render(cmps["parked"]["value_template"], {"parked": True}) == "on"


def test_removal_reduces_gone_components_to_their_platform(manager):
    payload = device(manager, "awning.patio")  # motion now off: the cover is gone
    out = discovery.removal(payload, {"cover": "cover"})
    assert out["cmps"]["cover"] == {"p": "cover"}
    assert set(out["cmps"]) == {"cover", "motion", "position", "stop"}


# --- the templates, rendered as Home Assistant renders them -----------------------------------

ENV = jinja2.Environment()


def render(template: str, state: dict[str, Any] | None = None, value: Any = None) -> str:
    variables: dict[str, Any] = {"value": value}
    if state is not None:
        variables["value_json"] = state
    return ENV.from_string(template).render(**variables).strip()


def test_light_templates(manager):
    light = device(manager, "light.living_ceiling")["cmps"]["light"]
    on = {"state": "on", "brightness": 60.0, "available": True}
    assert render(light["state_value_template"], on) == light["payload_on"]
    assert render(light["state_value_template"], {"state": "off"}) == light["payload_off"]
    assert render(light["brightness_value_template"], on) == "60"
    body = json.loads(render(light["brightness_command_template"], value=60))
    assert body == {"command": "set", "brightness": 60}


def test_climate_templates(manager):
    climate = device(manager, "thermostat.front")["cmps"]["climate"]
    state = {"mode": "auto_heat_cool", "fan_mode": "auto", "fan_speed": 0.0,
             "setpoint_heat": 20.0, "setpoint_cool": 24.0, "ambient_temperature": 23.0}  # fmt: skip
    assert render(climate["mode_state_template"], state) == "heat_cool"
    assert render(climate["mode_state_template"], {"mode": "aux_heat"}) == "heat"
    command = json.loads(render(climate["mode_command_template"], value="heat_cool"))
    assert command == {"command": "set_mode", "mode": "auto_heat_cool"}
    command = json.loads(render(climate["mode_command_template"], value="cool"))
    assert command == {"command": "set_mode", "mode": "cool"}
    assert json.loads(render(climate["temperature_low_command_template"], value=21.5)) == {
        "command": "set_setpoint",
        "heat": 21.5,
    }
    assert render(climate["temperature_high_state_template"], state) == "24.0"
    assert render(climate["current_temperature_template"], state) == "23.0"
    assert render(climate["action_template"], state) == "idle"
    assert render(climate["action_template"], {"mode": "off", "fan_speed": 0}) == "off"
    assert render(climate["action_template"], {"mode": "cool", "fan_speed": 50}) == "cooling"
    assert render(climate["action_template"], {"mode": "heat", "fan_speed": 50}) == "heating"
    assert render(climate["action_template"], {"mode": "fan_only", "fan_speed": 50}) == "fan"


def test_cover_and_fan_templates(manager):
    cover = device(manager, "awning.patio", allow_motion=True)["cmps"]["cover"]
    assert render(cover["value_template"], {"motion": "extending"}) == "opening"
    assert render(cover["value_template"], {"motion": "retracting"}) == "closing"
    assert render(cover["value_template"], {"motion": "stopped"}) == "stopped"
    assert render(cover["position_template"], {"position": 42.6}) == "43"
    fan = device(manager, "roof_fan.bathroom")["cmps"]["fan"]
    assert json.loads(render(fan["command_template"], value="on")) == {
        "command": "set",
        "state": "on",
    }
    assert json.loads(render(fan["direction_command_template"], value="reverse")) == {
        "command": "set",
        "direction": "air_in",
    }
    assert render(fan["direction_value_template"], {"direction": "air_out"}) == "forward"


def test_switch_and_binary_templates(manager):
    generator = device(manager, "generator.main")["cmps"]["switch"]
    assert render(generator["value_template"], {"status": "running"}) == "on"
    assert render(generator["value_template"], {"status": "stopped"}) == "off"
    fault = device(manager, "ac_input.shore")["cmps"]["fault"]
    assert render(fault["value_template"], {"faults": []}) == "off"
    assert render(fault["value_template"], {"faults": ["open_ground"]}) == "on"
    available = device(manager, "tank.lpg")["availability"][1]["value_template"]
    assert render(available, {"level": 70.0, "available": True}) == "online"
    assert render(available, {"level": 70.0, "available": False}) == "offline"


def test_an_air_leveling_system_has_a_low_air_pressure_problem(tmp_path):
    mapping = air_leveling_mapping(tmp_path)
    air = EntityManager(load_mapping(mapping, load_config_data().spec))
    low = device(air, "leveling.air")["cmps"]["low_air_pressure"]
    template = (
        "{{ 'on' if value_json.low_air_pressure or value_json.system_air_pressure_low else 'off' }}"
    )
    assert strip_ids({"low": low})["low"] == binary("Low air pressure", template, "problem")
    assert render(low["value_template"], {"low_air_pressure": ["left_rear"]}) == "on"
    ok = {"low_air_pressure": [], "system_air_pressure_low": False}
    assert render(low["value_template"], ok) == "off"
    assert render(low["value_template"], {**ok, "system_air_pressure_low": True}) == "on"
    # the shipped hydraulic system does not report LEVELING_AIR_STATUS: no such problem sensor
    assert "low_air_pressure" not in EXPECTED["leveling.jacks"]
