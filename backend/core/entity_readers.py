"""Status readers: decoded RV-C signals of one status DGN -> the entity state keys it gives.

Each reader is a small pure function ``(signals, role, message) -> dict``. Signals are the
decoder's values: numbers already scaled to the spec's unit (instances, levels, durations, dates:
always numbers), enumerations as lower snake case labels, ``None`` for "not available". A named
numeric value that is not a quantity (DC_DIMMER_STATUS_3 brightness 251 "value is changing")
decodes to ``None``; its name is in the message's ``labels``, asked for only then. A reader
returns only the keys its DGN carries, so an entity reported by several DGNs keeps the others'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.core.entity_model import Labelled, State

_MOTION = {"no_motion": "stopped", "extending": "extending", "retracting": "retracting"}


def _num(value: Any) -> float | None:
    """A number, or None for a label or "not available"."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _round(value: Any, digits: int = 2) -> float | None:
    number = _num(value)
    return None if number is None else round(number, digits)


def _label(m: Labelled, name: str) -> str | None:
    """The spec's name of a numeric signal's value (from the message's ``labels``), or None."""
    return None if m is None else m.labels.get(name)


def _on_off(level: float | None) -> str | None:
    if level is None:
        return None
    return "on" if level > 0 else "off"


# --- lights and loads ---------------------------------------------------------------------------


def dimmer_light(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DC_DIMMER_STATUS_3: operating status 0-100 % (0.5 % steps); 251 = ramping, 252 flashing."""
    level = s.get("operating_status_brightness")
    out: State = {"last_command": s.get("last_command")}
    name = _label(m, "operating_status_brightness") if level is None else None
    if name is not None:
        out["ramping"] = name == "value_is_changing_ramp_command"
        if name == "output_is_flashing":
            out["state"] = "on"
        return out
    out["ramping"] = False
    number = _num(level)
    out["brightness"] = number
    out["state"] = _on_off(number)
    return out


def load_light(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DC_LOAD_STATUS read as a light: operating status level 0-100 %."""
    level = _num(s.get("operating_status_level"))
    if level is None and _label(m, "operating_status_level") == "load_delay_active":
        return {}
    return {"state": _on_off(level), "brightness": level}


def load(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DC_LOAD_STATUS / AC_LOAD_STATUS: level, on/off, present current."""
    level = _num(s.get("operating_status_level"))
    out: State = {"current": _round(s.get("present_current"))}
    if level is None and _label(m, "operating_status_level") == "load_delay_active":
        out["delay_active"] = True
        return out
    out.update(state=_on_off(level), level=level, delay_active=False)
    return out


def door_lock(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DOOR_STATUS: lock status, motion and position."""
    lock = s.get("lock_status")
    return {
        "state": lock if lock in ("locked", "unlocked") else None,
        "motion": s.get("motion"),
        "position": _num(s.get("position")),
    }


# --- tanks and batteries ------------------------------------------------------------------------


def tank(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """TANK_STATUS: level = relative level / resolution (e.g. 3/4 = 75 %), litres, capacity."""
    relative, resolution = _num(s.get("relative_level")), _num(s.get("resolution"))
    level = None
    if relative is not None and resolution:
        level = round(min(relative / resolution, 1.0) * 100, 1)
    return {
        "level": level,
        "volume_l": _num(s.get("absolute_level")),
        "capacity_l": _num(s.get("tank_size")),
    }


def dc_source_1(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DC_SOURCE_STATUS_1: voltage and current; positive current flows from the source."""
    current = _round(s.get("dc_current"), 3)
    status = None
    if current is not None:
        status = "discharging" if current > 0 else "charging" if current < 0 else "idle"
    return {"voltage": _round(s.get("dc_voltage")), "current": current, "status": status}


def dc_source_2(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DC_SOURCE_STATUS_2: temperature, state of charge, time remaining."""
    return {
        "temperature": _round(s.get("source_temperature")),
        "state_of_charge": _num(s.get("state_of_charge_soc")),
        "time_remaining_min": _num(s.get("time_remaining")),
        "time_remaining_kind": s.get("time_remaining_interpretation"),
    }


# --- climate ------------------------------------------------------------------------------------


def thermostat(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """THERMOSTAT_STATUS_1: mode, fan mode and speed, heat and cool setpoints (°C)."""
    return {
        "mode": s.get("operating_mode"),
        "fan_mode": s.get("fan_mode"),
        "fan_speed": _num(s.get("fan_speed")),
        "schedule_mode": s.get("schedule_mode"),
        "setpoint_heat": _round(s.get("setpoint_temp_heat")),
        "setpoint_cool": _round(s.get("setpoint_temp_cool")),
    }


def thermostat_ambient(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """THERMOSTAT_AMBIENT_STATUS: ambient temperature (°C)."""
    return {"ambient_temperature": _round(s.get("ambient_temp"))}


def air_conditioner(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """AIR_CONDITIONER_STATUS (and the same layout of AIR_CONDITIONER_COMMAND)."""
    return {
        "mode": s.get("operating_mode"),
        "max_fan_speed": _num(s.get("max_fan_speed")),
        "max_output_level": _num(s.get("max_air_conditioning_output_level")),
        "fan_speed": _num(s.get("fan_speed")),
        "output_level": _num(s.get("air_conditioning_output_level")),
        "dead_band": _round(s.get("dead_band"), 1),
        "second_stage_dead_band": _round(s.get("second_stage_dead_band"), 1),
    }


def furnace(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """FURNACE_STATUS: mode, heat source, circulation fan speed, heat output level."""
    return {
        "mode": s.get("operating_mode"),
        "heat_source": s.get("heat_source"),
        "fan_speed": _num(s.get("circulation_fan_speed")),
        "output_level": _num(s.get("heat_output_level")),
        "dead_band": _round(s.get("dead_band"), 1),
    }


def heat_pump(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """HEAT_PUMP_STATUS: mode, heat output levels, fan speed."""
    return {
        "mode": s.get("operating_mode"),
        "max_output_level": _num(s.get("max_heat_output_level")),
        "output_level": _num(s.get("heat_output_level")),
        "fan_speed": _num(s.get("fan_speed")),
        "dead_band": _round(s.get("dead_band"), 1),
    }


# --- power --------------------------------------------------------------------------------------


def generator_1(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """GENERATOR_STATUS_1: status, engine run time (minutes -> hours), load, start battery."""
    minutes = _num(s.get("engine_run_time"))
    return {
        "status": s.get("status"),
        "run_time_h": None if minutes is None else round(minutes / 60, 2),
        "load": _num(s.get("engine_load")),
        "start_battery_voltage": _round(s.get("start_battery_voltage")),
    }


def generator_2(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """GENERATOR_STATUS_2: coolant temperature, oil pressure, rpm, fuel rate."""
    return {
        "coolant_temperature": _num(s.get("eng_coolant_temperature")),
        "oil_pressure_kpa": _num(s.get("eng_oil_pressure")),
        "rpm": _num(s.get("engine_rpm")),
        "fuel_rate_l_h": _round(s.get("fuel_rate")),
    }


def inverter(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """INVERTER_STATUS: status and whether inverting is enabled."""
    enabled = s.get("inverter_enabled")
    return {
        "status": s.get("status"),
        "enabled": None if enabled is None else enabled == "inverter_enabled",
        "load_sense": s.get("load_sense_enabled"),
        "pass_through": s.get("pass_through_enable"),
    }


def ac_point(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """Any AC_STATUS_1 layout (charger, inverter, ATS, generator, generic AC point)."""
    faults = [
        name.removeprefix("fault_")
        for name in (
            "fault_open_ground",
            "fault_open_neutral",
            "fault_reverse_polarity",
            "fault_ground_current",
        )
        if isinstance(s.get(name), str) and s.get(name) != "no_fault"
    ]
    return {
        "voltage": _round(s.get("rms_voltage")),
        "current": _round(s.get("rms_current")),
        "frequency": _round(s.get("frequency")),
        "faults": faults,
    }


def inverter_output(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """INVERTER_AC_STATUS_1 (output): the inverter's AC output."""
    point = ac_point(s, role)
    return {
        "ac_voltage": point["voltage"],
        "ac_current": point["current"],
        "ac_frequency": point["frequency"],
    }


def charger(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """CHARGER_STATUS: charging state, voltage, current; disabled when the state is disable."""
    state = s.get("operating_state")
    return {
        "state": state,
        "enabled": None if state is None else state != "disable",
        "voltage": _round(s.get("charge_voltage")),
        "current": _round(s.get("charge_current")),
        "percent_of_max": _num(s.get("charge_current_percent_of_maximum")),
    }


def ats(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """ATS_STATUS: source in use (a number, with the spec's name where it has one) and mode."""
    source, name = s.get("source_in_use"), _label(m, "source_in_use")
    return {
        "source": None if name == "no_source_active" else source,  # 0 to 6; 0 is the primary
        "source_name": name,  # the spec's name: "primary", "no_source_active", else None
        "mode": s.get("mode"),
    }


def solar(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """SOLAR_CONTROLLER_STATUS: charging state, voltage and current."""
    return {
        "state": s.get("operating_state"),
        "voltage": _round(s.get("charge_voltage")),
        "current": _round(s.get("charge_current")),
        "percent_of_max": _num(s.get("charge_current_percent_of_maximum")),
    }


# --- water --------------------------------------------------------------------------------------


def water_heater(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """WATERHEATER_STATUS: mode, setpoint and water temperature (°C), burner and element."""
    burner, element = s.get("burner_status"), s.get("ac_element_status")
    return {
        "mode": s.get("operating_modes"),
        "setpoint": _round(s.get("set_point_temperature")),
        "water_temperature": _round(s.get("water_temperature")),
        "setpoint_met": None
        if s.get("thermostat_status") is None
        else s.get("thermostat_status") == "set_point_met",
        "burner": None if burner is None else burner == "burner_is_lit",
        "ac_element": None if element is None else element == "ac_element_is_active",
        "failure_to_ignite": s.get("failure_to_ignite_status") == "device_has_failed_to_ignite",
    }


def water_pump(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """WATER_PUMP_STATUS: enabled (on/off), running, system pressure (Pa -> kPa)."""
    enabled, running = s.get("operating_status"), s.get("pump_status")
    pressure = _num(s.get("current_system_pressure"))
    return {
        "state": None if enabled is None else ("on" if enabled != "pump_disabled" else "off"),
        "running": None if running is None else running == "pump_running",
        "pressure_kpa": None if pressure is None else round(pressure / 1000, 1),
        "current": _num(s.get("operating_current")),
    }


# --- motors -------------------------------------------------------------------------------------


def motor(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """AWNING_STATUS / SLIDE_STATUS: motion (stopped, extending, retracting) and position."""
    motion = s.get("motion")
    return {
        "motion": _MOTION.get(motion, motion) if isinstance(motion, str) else None,
        "position": _num(s.get("position")),
    }


def step(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """STEP_STATUS (6.48.1): motion, position (0 retracted, 100 % extended), operation mode and
    the obstruction sensors."""
    out = motor(s, role, m)
    bottom, front = s.get("obstruction_sensor_bottom"), s.get("obstruction_sensor_front_face")
    out["operation_mode"] = s.get("step_operation_mode")
    out["obstruction"] = (
        None
        if bottom is None and front is None
        else bottom == "obstruction_detected_at_underside_of_switch"  # 6.48.1b, as printed
        or front == "obstruction_detected_at_front_face_of_step"
    )
    return out


# LEVELING_CONTROL_STATUS / LEVELING_JACK_STATUS name their jacks (and air springs) like this.
_JACK_NAMES = (
    "left_front",
    "right_front",
    "left_rear",
    "right_rear",
    "left_middle",
    "right_middle",
    "tongue",
)
_AUX_JACKS = ("auxiliary_jack_1", "auxiliary_jack_2", "auxiliary_jack_3", "auxiliary_jack_4")
# LEVELING_CONTROL_STATUS byte 7 (table 6.13.2b): signal, its 01b label, the lockout's name
_LEVELING_LOCKOUTS = (
    ("park_brake", "leveling_system_may_not_operate_because_of_park_brake_status", "park brake"),
    ("ignition_key", "leveling_system_may_not_operate_because_of_ignition_status", "ignition"),
    ("low_voltage", "leveling_system_may_not_operate_because_of_low_voltage_status", "low voltage"),
    (
        "other_lockout",
        "leveling_system_may_not_operate_because_of_an_additional_lockout",
        "other lockout",
    ),
)


def jack_status_signal(jack: str, direction: str) -> str:
    """The LEVELING_CONTROL_STATUS signal of one jack's extending or retracting bit pair."""
    if jack == "tongue":
        return f"jack_{'extending' if direction == 'extend' else 'retracting'}_tongue"
    if direction == "extend":
        return f"jack_extending_or_air_spring_filling_{jack}"
    return f"jack_retracting_or_air_spring_dumping_{jack}"


def _jack_bits(s: Mapping[str, Any], jack: str) -> tuple[Any, Any]:
    return s.get(jack_status_signal(jack, "extend")), s.get(jack_status_signal(jack, "retract"))


def leveling_control(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """LEVELING_CONTROL_STATUS (6.13.2): operating mode, each jack extending/retracting, the
    system's motion, its warnings and the lockouts it announces (byte 7)."""
    mode = s.get("operating_mode")
    out: State = {"mode": mode}
    extending: list[str] = []
    retracting: list[str] = []
    for jack in _JACK_NAMES:
        ext, ret = _jack_bits(s, jack)
        if ext is None and ret is None:
            continue
        if ext == "on":
            extending.append(jack)
            out[f"jack_{jack}_motion"] = "extending"
        elif ret == "on":
            retracting.append(jack)
            out[f"jack_{jack}_motion"] = "retracting"
        else:
            out[f"jack_{jack}_motion"] = "stopped"
    if extending:
        motion = "extending"
    elif retracting:
        motion = "retracting"
    elif isinstance(mode, str) and mode.startswith("automatic"):
        motion = "leveling"
    elif mode == "store_active":
        motion = "retracting"
    else:
        motion = "stopped"
    out["motion"] = motion
    locks = [text for name, label, text in _LEVELING_LOCKOUTS if s.get(name) == label]
    out["lockout"] = ", ".join(locks) if locks else None
    out["excessive_slope"] = "warning" in (
        s.get("excessive_slope_initial_warning"),
        s.get("excessive_slope_final_warning"),
    )
    return out


def leveling_jacks(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """LEVELING_JACK_STATUS (6.13.4): each jack extended ("coach is not safe to move") or not,
    bearing weight or not, and how many are down."""
    out: State = {
        "jack_type": s.get("jack_type"),
        "number_of_jacks": _num(s.get("number_of_jacks")),
    }
    down = 0
    for jack in (*_JACK_NAMES[:4], *_AUX_JACKS):
        extension = s.get(f"extension_{jack}")
        if extension is None:
            continue
        extended = extension == "jack_is_extended"
        down += extended
        out[f"jack_{jack}"] = "extended" if extended else "retracted"
        stability = s.get(f"stability_{jack}")
        if stability is not None:
            out[f"jack_{jack}_load"] = stability == "pressure_detected"
    out["jacks_down"] = down
    return out


# LEVELING_AIR_STATUS (table 6.13.11b): each air bag's signal and the name the entity gives it.
# The bags are named as on a four-point system; a three-point system reports its front bag on
# the left-front bits (6-7 of byte 0), as its front jack is commanded on them.
_AIR_BAGS = (
    ("air_bag_pressure_left_front", "left_front"),
    ("air_bag_pressure_right_front", "right_front"),
    ("air_bag_pressure_left_rear", "left_rear"),
    ("air_bag_pressure_right_rear", "right_rear"),
    ("tag_axle_air_pressure_left", "tag_axle_left"),
    ("tag_axle_air_pressure_right", "tag_axle_right"),
)
_LOW_AIR = "low_air_pressure_detected"


def leveling_air(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """LEVELING_AIR_STATUS (6.13.11): the air bags that report low pressure (an empty list when
    every bag that reports says "Pressure OK") and whether the system's air pressure is low
    (null when the system does not report it)."""
    system = s.get("system_air_pressure")
    return {
        "low_air_pressure": [bag for signal, bag in _AIR_BAGS if s.get(signal) == _LOW_AIR],
        "system_air_pressure_low": None if system is None else system == _LOW_AIR,
    }


def shade(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """WINDOW_SHADE_CONTROL_STATUS: forward output = opening, reverse output = closing."""
    forward, reverse = s.get("forward_status"), s.get("reverse_status")
    if forward == "forward_output_is_on":
        motion = "opening"
    elif reverse == "reverse_output_is_on":
        motion = "closing"
    elif forward is None and reverse is None:
        motion = None
    else:
        motion = "stopped"
    return {"motion": motion, "last_command": s.get("last_command")}


def dimmer_output(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DC_DIMMER_STATUS_3 of one output of a ``dimmer_pair`` motor: is this direction on."""
    level = _num(s.get("operating_status_brightness"))
    # None with a name: ramping or flashing, both drive the output
    on = (level or 0) > 0 or (
        level is None and _label(m, "operating_status_brightness") is not None
    )
    return {f"{role}_output": on}


def roof_fan(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """ROOF_FAN_STATUS_1: on/off, mode, speed, direction, lid (dome) position, temperature."""
    return {
        "state": s.get("system_status"),
        "fan_mode": s.get("fan_mode"),
        "speed": _num(s.get("fan_speed_setting")),
        "direction": s.get("wind_direction_switch"),
        "lid": s.get("dome_position"),
        "light": s.get("light"),
        "ambient_temperature": _round(s.get("ambient_temperature")),
    }


def date_time(s: Mapping[str, Any], role: str | None, m: Labelled = None) -> State:
    """DATE_TIME_STATUS: an ISO 8601 local date and time, plus the time zone offset (h)."""
    year, month, day = s.get("year"), s.get("month"), s.get("day_of_month")
    hour, minute, second = s.get("hour"), s.get("minute"), s.get("second")
    value = None
    if None not in (year, month, day, hour, minute, second):
        value = (
            f"{int(year):04d}-{int(month):02d}-{int(day):02d}"  # type: ignore[arg-type]
            f"T{int(hour):02d}:{int(minute):02d}:{int(second):02d}"  # type: ignore[arg-type]
        )
    return {
        "datetime": value,
        "day_of_week": _label(m, "day_of_week"),  # the state keeps the day's name ("sunday")
        "time_zone": s.get("time_zone"),
    }
