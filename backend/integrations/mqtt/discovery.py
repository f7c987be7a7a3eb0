"""Home Assistant device-based discovery payloads, built from entity views (plain dicts).

One Home Assistant device per CoachIQ entity (a light, a tank, a thermostat: one physical
device each), suggested into its area, linked ``via_device`` to the coach's own device (bridge
status, Stop all). Every component's command topic is the entity's ``/set`` topic and every
payload it sends is a body ``POST /api/entities/{id}/command`` accepts, so Home Assistant drives
the same command path as the REST API. Availability is the bridge's status AND the entity's
``available``. Movers (awnings, slides, shades, roof-fan lids) are covers only when motion is
allowed to MQTT; otherwise they are read-only sensors with a Stop button (Stop is never gated).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.integrations.mqtt.topics import Topics

AVAILABLE_TEMPLATE = "{{ 'online' if value_json.available else 'offline' }}"

# Home Assistant climate modes <-> RV-C thermostat operating modes (aux_heat shows as heat).
HA_TO_RVC_MODE = {
    "off": "off",
    "cool": "cool",
    "heat": "heat",
    "heat_cool": "auto_heat_cool",
    "fan_only": "fan_only",
    "dry": "window_defrost_dehumidify",
}
RVC_TO_HA_MODE = {**{v: k for k, v in HA_TO_RVC_MODE.items()}, "aux_heat": "heat"}


def _value(key: str) -> str:
    return "{{ value_json." + key + " }}"


def _on_off(expression: str) -> str:
    return "{{ 'on' if " + expression + " else 'off' }}"


def _body(**command: Any) -> str:
    return json.dumps(command, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class DiscoveryContext:
    """What discovery needs besides the entity: topics, motion permission, coach and origin."""

    topics: Topics
    allow_motion: bool
    coach: Mapping[str, Any]
    origin_version: str = ""


Components = dict[str, dict[str, Any]]


def _sensor(
    name: str,
    key: str,
    *,
    device_class: str | None = None,
    unit: str | None = None,
    state_class: str | None = "measurement",
    template: str | None = None,
    options: list[str] | None = None,
    icon: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    component: dict[str, Any] = {
        "p": "sensor",
        "name": name,
        "value_template": template or _value(key),
    }
    if device_class:
        component["device_class"] = device_class
    if options is not None:
        component["device_class"] = "enum"
        component["options"] = options
        state_class = None
    if unit:
        component["unit_of_measurement"] = unit
    if state_class:
        component["state_class"] = state_class
    if icon:
        component["icon"] = icon
    if category:
        component["entity_category"] = category
    return component


def _binary(name: str, template: str, device_class: str | None) -> dict[str, Any]:
    component = {"p": "binary_sensor", "name": name, "value_template": template}
    component.update(payload_on="on", payload_off="off")
    if device_class:
        component["device_class"] = device_class
    return component


def _switch(set_topic: str, template: str, on: str, off: str) -> dict[str, Any]:
    return {
        "p": "switch",
        "name": None,
        "command_topic": set_topic,
        "payload_on": on,
        "payload_off": off,
        "value_template": template,
        "state_on": "on",
        "state_off": "off",
    }


def _button(name: str, set_topic: str, payload: str, device_class: str | None) -> dict[str, Any]:
    component: dict[str, Any] = {
        "p": "button",
        "name": name,
        "command_topic": set_topic,
        "payload_press": payload,
    }
    if device_class:
        component["device_class"] = device_class
    return component


# --- the component table: entity type -> builder ------------------------------------------------


def _light(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    on, off = _body(command="set", state="on"), _body(command="set", state="off")
    light: dict[str, Any] = {
        "p": "light",
        "name": None,
        "command_topic": set_topic,
        "payload_on": on,
        "payload_off": off,
        "state_value_template": "{{ '" + on + "' if value_json.state == 'on' else '" + off + "' }}",
    }
    if "dimmable" in entity.get("capabilities", ()):
        light.update(
            brightness_command_topic=set_topic,
            brightness_command_template='{"command":"set","brightness":{{ value }}}',
            brightness_scale=100,
            brightness_state_topic=ctx.topics.state(entity["entity_id"]),
            brightness_value_template="{{ value_json.brightness | round(0) | int }}",
            on_command_type="brightness",
        )
    return {"light": light}


def _state_switch(set_topic: str) -> dict[str, Any]:
    """The switch of an entity whose ``state`` is on/off and whose command is ``set``."""
    return _switch(
        set_topic,
        _value("state"),
        _body(command="set", state="on"),
        _body(command="set", state="off"),
    )


def _load(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "switch": _state_switch(set_topic),
        "current": _sensor("Current", "current", device_class="current", unit="A"),
    }


def _water_pump(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "switch": _state_switch(set_topic),
        "running": _binary("Running", _on_off("value_json.running"), "running"),
        "pressure": _sensor("Pressure", "pressure_kpa", device_class="pressure", unit="kPa"),
    }


def _lock(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "lock": {
            "p": "lock",
            "name": None,
            "command_topic": set_topic,
            "payload_lock": _body(command="lock"),
            "payload_unlock": _body(command="unlock"),
            "value_template": _value("state"),
            "state_locked": "locked",
            "state_unlocked": "unlocked",
        }
    }


def _tank(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "level": _sensor("Level", "level", unit="%", icon="mdi:storage-tank"),
        "volume": _sensor("Volume", "volume_l", device_class="volume_storage", unit="L"),
    }


def _battery(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "voltage": _sensor("Voltage", "voltage", device_class="voltage", unit="V"),
        "current": _sensor("Current", "current", device_class="current", unit="A"),
        "state_of_charge": _sensor(
            "State of charge", "state_of_charge", device_class="battery", unit="%"
        ),
        "temperature": _sensor("Temperature", "temperature", device_class="temperature", unit="°C"),
    }


_THERMOSTAT_ACTION = (
    "{% set m = value_json.mode %}"
    "{% if m == 'off' %}off"
    "{% elif m == 'fan_only' %}fan"
    "{% elif m == 'window_defrost_dehumidify' %}drying"
    "{% elif (value_json.fan_speed or 0) > 0 and m in ('cool',) %}cooling"
    "{% elif (value_json.fan_speed or 0) > 0 and m in ('heat', 'aux_heat') %}heating"
    "{% else %}idle{% endif %}"
)


def _thermostat(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    state_topic = ctx.topics.state(entity["entity_id"])
    to_rvc = json.dumps({k: v for k, v in HA_TO_RVC_MODE.items() if k != v})
    to_ha = json.dumps(RVC_TO_HA_MODE)
    climate = {
        "p": "climate",
        "name": None,
        "modes": list(HA_TO_RVC_MODE),
        "mode_command_topic": set_topic,
        "mode_command_template": (
            "{% set m = " + to_rvc + ' %}{"command":"set_mode","mode":"{{ m.get(value, value) }}"}'
        ),
        "mode_state_topic": state_topic,
        "mode_state_template": "{% set m = " + to_ha + " %}{{ m.get(value_json.mode, 'off') }}",
        "temperature_low_command_topic": set_topic,
        "temperature_low_command_template": '{"command":"set_setpoint","heat":{{ value }}}',
        "temperature_low_state_topic": state_topic,
        "temperature_low_state_template": _value("setpoint_heat"),
        "temperature_high_command_topic": set_topic,
        "temperature_high_command_template": '{"command":"set_setpoint","cool":{{ value }}}',
        "temperature_high_state_topic": state_topic,
        "temperature_high_state_template": _value("setpoint_cool"),
        "current_temperature_topic": state_topic,
        "current_temperature_template": _value("ambient_temperature"),
        "fan_modes": ["auto", "on"],
        "fan_mode_command_topic": set_topic,
        "fan_mode_command_template": '{"command":"set_fan","fan_mode":"{{ value }}"}',
        "fan_mode_state_topic": state_topic,
        "fan_mode_state_template": _value("fan_mode"),
        "action_topic": state_topic,
        "action_template": _THERMOSTAT_ACTION,
        "temperature_unit": "C",
        "min_temp": 0,
        "max_temp": 40,
        "temp_step": 0.5,
        "precision": 0.5,
    }
    return {"climate": climate}


def _hvac_unit(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "mode": _sensor("Mode", "mode", options=["automatic", "manual"]),
        "fan_speed": _sensor("Fan speed", "fan_speed", unit="%", icon="mdi:fan"),
        "output_level": _sensor("Output level", "output_level", unit="%", icon="mdi:gauge"),
    }


_GENERATOR_RUNNING = "value_json.status in ('running', 'preheat', 'cranking', 'priming')"


def _generator(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    switch = _switch(
        set_topic, _on_off(_GENERATOR_RUNNING), _body(command="start"), _body(command="stop")
    )
    return {
        "switch": switch,
        "status": _sensor("Status", "status", state_class=None, icon="mdi:engine"),
        "run_time": _sensor(
            "Run time",
            "run_time_h",
            device_class="duration",
            unit="h",
            state_class="total_increasing",
        ),
        "load": _sensor("Load", "load", unit="%", icon="mdi:gauge"),
        "start_battery": _sensor(
            "Start battery", "start_battery_voltage", device_class="voltage", unit="V"
        ),
    }


def _ac_sensors(voltage: str, current: str, frequency: str) -> Components:
    return {
        "voltage": _sensor("AC voltage", voltage, device_class="voltage", unit="V"),
        "current": _sensor("AC current", current, device_class="current", unit="A"),
        "frequency": _sensor("AC frequency", frequency, device_class="frequency", unit="Hz"),
    }


def _enable_switch(set_topic: str) -> dict[str, Any]:
    return _switch(
        set_topic,
        _on_off("value_json.enabled"),
        _body(command="enable"),
        _body(command="disable"),
    )


def _inverter(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "switch": _enable_switch(set_topic),
        "status": _sensor("Status", "status", state_class=None, icon="mdi:power-plug"),
        **_ac_sensors("ac_voltage", "ac_current", "ac_frequency"),
    }


def _charger(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "switch": _enable_switch(set_topic),
        "state": _sensor("Charge state", "state", state_class=None, icon="mdi:battery-charging"),
        "voltage": _sensor("Voltage", "voltage", device_class="voltage", unit="V"),
        "current": _sensor("Current", "current", device_class="current", unit="A"),
    }


_FAULTS = "{{ 'on' if value_json.faults else 'off' }}"


def _ac_point(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        **_ac_sensors("voltage", "current", "frequency"),
        "fault": _binary("Fault", _FAULTS, "problem"),
    }


def _transfer_switch(
    entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext
) -> Components:
    return {
        **_ac_point(entity, set_topic, ctx),
        "source": _sensor("Source", "source", state_class=None, icon="mdi:transit-connection"),
    }


def _solar(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "voltage": _sensor("Voltage", "voltage", device_class="voltage", unit="V"),
        "current": _sensor("Current", "current", device_class="current", unit="A"),
        "state": _sensor("Charge state", "state", state_class=None, icon="mdi:solar-power"),
    }


def _water_heater(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "water_temperature": _sensor(
            "Water temperature", "water_temperature", device_class="temperature", unit="°C"
        ),
        "setpoint": _sensor("Setpoint", "setpoint", device_class="temperature", unit="°C"),
        "mode": _sensor(
            "Mode",
            "mode",
            options=["off", "combustion", "electric", "gas_electric_both", "automatic"],
        ),
        "burner": _binary("Burner", _on_off("value_json.burner"), "heat"),
        "ac_element": _binary("AC element", _on_off("value_json.ac_element"), "heat"),
        "failure_to_ignite": _binary(
            "Failure to ignite", _on_off("value_json.failure_to_ignite"), "problem"
        ),
    }


_COVER_STATE = (
    "{% set m = {'extending': 'opening', 'opening': 'opening', "
    "'retracting': 'closing', 'closing': 'closing'} %}"
    "{{ m.get(value_json.motion, 'stopped') }}"
)
_COVERS = {  # type -> (open command, close command, device class)
    "awning": ("extend", "retract", "awning"),
    "slide": ("extend", "retract", None),
    "step": ("extend", "retract", None),
    "shade": ("open", "close", "shade"),
}


def _mover(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    kind = entity["type"]
    opening, closing, device_class = _COVERS[kind]
    has_position = (
        kind in ("awning", "slide", "step") and entity.get("device", {}).get("control") == "native"
    )
    components: Components = {}
    if ctx.allow_motion:
        cover: dict[str, Any] = {
            "p": "cover",
            "name": None,
            "command_topic": set_topic,
            "payload_open": _body(command=opening),
            "payload_close": _body(command=closing),
            "payload_stop": _body(command="stop"),
            "value_template": _COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
        }
        if device_class:
            cover["device_class"] = device_class
        if has_position:
            cover["position_topic"] = ctx.topics.state(entity["entity_id"])
            cover["position_template"] = "{{ value_json.position | round(0) | int }}"
        components["cover"] = cover
    else:
        components["motion"] = _sensor(
            "Motion", "motion", state_class=None, icon="mdi:arrow-expand"
        )
        if has_position:
            components["position"] = _sensor("Position", "position", unit="%")
        components["stop"] = _button("Stop", set_topic, _body(command="stop"), None)
    return components


def _leveling(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    """A leveling system: all its jacks as one cover (held like a slide), how many jacks are
    down, a low air pressure problem when it reports LEVELING_AIR_STATUS, and Auto level / Store
    buttons when its firmware runs them (``self_run``)."""
    components: Components = {
        "jacks_down": _sensor("Jacks down", "jacks_down", icon="mdi:car-brake-parking"),
    }
    if "LEVELING_AIR_STATUS" in entity.get("device", {}).get("status_dgns", ()):
        components["low_air_pressure"] = _binary(
            "Low air pressure",
            _on_off("value_json.low_air_pressure or value_json.system_air_pressure_low"),
            "problem",
        )
    if ctx.allow_motion:
        components["cover"] = {
            "p": "cover",
            "name": None,
            "command_topic": set_topic,
            "payload_open": _body(command="extend", jack="all"),
            "payload_close": _body(command="retract", jack="all"),
            "payload_stop": _body(command="stop"),
            "value_template": _COVER_STATE,
            "state_opening": "opening",
            "state_closing": "closing",
            "state_stopped": "stopped",
        }
        commands = entity.get("commands") or []
        if "auto_level" in commands:
            components["auto_level"] = _button(
                "Auto level", set_topic, _body(command="auto_level"), None
            )
        if "store" in commands:
            components["store"] = _button("Store jacks", set_topic, _body(command="store"), None)
    else:
        components["motion"] = _sensor(
            "Motion", "motion", state_class=None, icon="mdi:arrow-expand"
        )
        components["stop"] = _button("Stop", set_topic, _body(command="stop"), None)
    return components


def _roof_fan(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    state_topic = ctx.topics.state(entity["entity_id"])
    fan = {
        "p": "fan",
        "name": None,
        "command_topic": set_topic,
        "command_template": '{"command":"set","state":"{{ value }}"}',
        "payload_on": "on",
        "payload_off": "off",
        "state_value_template": _value("state"),
        "percentage_command_topic": set_topic,
        "percentage_command_template": '{"command":"set","speed":{{ value }}}',
        "percentage_state_topic": state_topic,
        "percentage_value_template": "{{ value_json.speed | round(0) | int }}",
        "speed_range_min": 1,
        "speed_range_max": 100,
        "direction_command_topic": set_topic,
        "direction_command_template": (
            '{"command":"set","direction":"{{ \'air_out\' if value == \'forward\' '
            "else 'air_in' }}\"}"
        ),
        "direction_state_topic": state_topic,
        "direction_value_template": (
            "{{ 'forward' if value_json.direction == 'air_out' else 'reverse' }}"
        ),
    }
    components: Components = {
        "fan": fan,
        "temperature": _sensor(
            "Temperature", "ambient_temperature", device_class="temperature", unit="°C"
        ),
    }
    if ctx.allow_motion:
        components["lid"] = {
            "p": "cover",
            "name": "Lid",
            "command_topic": set_topic,
            "payload_open": _body(command="set", lid="open"),
            "payload_close": _body(command="set", lid="closed"),
            "value_template": _value("lid"),
            "state_open": "open",
            "state_closed": "closed",
        }
    else:
        components["lid"] = _sensor("Lid", "lid", state_class=None, icon="mdi:window-open")
    return components


def _datetime(entity: Mapping[str, Any], set_topic: str, ctx: DiscoveryContext) -> Components:
    return {
        "datetime": _sensor("Date and time", "datetime", state_class=None, icon="mdi:clock-outline")
    }


COMPONENTS: Mapping[str, Callable[[Mapping[str, Any], str, DiscoveryContext], Components]] = {
    "light": _light,
    "dc_load": _load,
    "ac_load": _load,
    "lock": _lock,
    "tank": _tank,
    "battery": _battery,
    "thermostat": _thermostat,
    "air_conditioner": _hvac_unit,
    "furnace": _hvac_unit,
    "heat_pump": _hvac_unit,
    "generator": _generator,
    "inverter": _inverter,
    "charger": _charger,
    "ac_input": _ac_point,
    "transfer_switch": _transfer_switch,
    "solar_controller": _solar,
    "water_heater": _water_heater,
    "water_pump": _water_pump,
    "awning": _mover,
    "slide": _mover,
    "step": _mover,
    "leveling": _leveling,
    "shade": _mover,
    "roof_fan": _roof_fan,
    "datetime": _datetime,
}


def _origin(ctx: DiscoveryContext) -> dict[str, Any]:
    origin = {"name": "CoachIQ"}
    if ctx.origin_version:
        origin["sw"] = ctx.origin_version
    return origin


def _availability(ctx: DiscoveryContext, state_topic: str | None) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"topic": ctx.topics.status}]
    if state_topic is not None:
        items.append({"topic": state_topic, "value_template": AVAILABLE_TEMPLATE})
    return {"availability": items, "availability_mode": "all"}


def entity_device(entity: Mapping[str, Any], ctx: DiscoveryContext) -> tuple[str, dict[str, Any]]:
    """(device id, discovery payload) of one entity; its components come from COMPONENTS.

    Raises:
        KeyError: the entity's type has no discovery description.
    """
    topics = ctx.topics
    entity_id = str(entity["entity_id"])
    device_id = topics.device_id(entity_id)
    state_topic = topics.state(entity_id)
    components = COMPONENTS[str(entity["type"])](entity, topics.set(entity_id), ctx)
    for key, component in components.items():
        component["unique_id"] = f"{device_id}_{key}"
        component["default_entity_id"] = f"{component['p']}.{device_id}_{key}"
    device: dict[str, Any] = {
        "ids": [device_id],
        "name": entity.get("name") or entity_id,
        "mdl": f"RV-C {str(entity['type']).replace('_', ' ')}",
        "via_device": topics.coach_device_id,
    }
    if ctx.coach.get("manufacturer"):
        device["mf"] = ctx.coach["manufacturer"]
    if entity.get("area_name"):
        device["sa"] = entity["area_name"]
    return device_id, {
        "dev": device,
        "o": _origin(ctx),
        "cmps": components,
        "state_topic": state_topic,
        "qos": 1,
        **_availability(ctx, state_topic),
    }


def coach_device(ctx: DiscoveryContext, *, name: str) -> tuple[str, dict[str, Any]]:
    """(device id, payload) of the coach itself: bridge connectivity and the Stop all button."""
    topics = ctx.topics
    device_id = topics.coach_device_id
    components: Components = {
        "bridge": {
            "p": "binary_sensor",
            "name": "Bridge",
            "state_topic": topics.status,
            "payload_on": "online",
            "payload_off": "offline",
            "device_class": "connectivity",
            "entity_category": "diagnostic",
        },
        "stop_all": _button("Stop all motion", topics.set("stop_all"), _body(command="stop"), None),
        "parked": {
            **_binary("Parked", _on_off("value_json.parked"), None),
            "state_topic": topics.safety,
            "json_attributes_topic": topics.safety,
            "icon": "mdi:car-brake-parking",
        },
        "motion_lockout": {
            **_binary("Motion lockout", _on_off("value_json.lockouts"), None),
            "state_topic": topics.safety,
            "icon": "mdi:lock-alert",
        },
        "motion_alert": {
            **_binary("Moving with a load out", _on_off("value_json.alert"), "problem"),
            "state_topic": topics.safety,
        },
    }
    for key in ("stop_all", "parked", "motion_lockout", "motion_alert"):
        components[key]["availability"] = [{"topic": topics.status}]
    for key, component in components.items():
        component["unique_id"] = f"{device_id}_{key}"
        component["default_entity_id"] = f"{component['p']}.{device_id}_{key}"
    device: dict[str, Any] = {"ids": [device_id], "name": name, "mdl": "CoachIQ RV-C bridge"}
    if ctx.coach.get("manufacturer"):
        device["mf"] = ctx.coach["manufacturer"]
    if ctx.coach.get("model"):
        device["mdl"] = str(ctx.coach["model"])
    return device_id, {"dev": device, "o": _origin(ctx), "cmps": components, "qos": 1}


def removal(payload: Mapping[str, Any], gone: Mapping[str, str]) -> dict[str, Any]:
    """``payload`` with each component in ``gone`` ({id: platform}) reduced to ``{"p": ...}``,
    which Home Assistant takes as "remove this component from the device"."""
    out = dict(payload)
    out["cmps"] = {**{k: {"p": p} for k, p in gone.items()}, **payload["cmps"]}
    return out
