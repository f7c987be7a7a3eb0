"""Climate and comfort devices: thermostats, air conditioners, furnaces, heat pumps, the water
heater and roof fans."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from backend.services.simulator.model import (
    OUT_OF_RANGE,
    DeviceModel,
    Signals,
    approach,
    label_ok,
    percent_ok,
    temp_ok,
)

THERMOSTAT_MODES = (
    "off",
    "cool",
    "heat",
    "auto_heat_cool",
    "fan_only",
    "aux_heat",
    "window_defrost_dehumidify",
)


class ThermostatModel(DeviceModel):
    """A climate zone's thermostat: mode, fan, setpoints; the zone's air follows it."""

    status_dgns = ("THERMOSTAT_STATUS_1", "THERMOSTAT_AMBIENT_STATUS")
    command_dgns = ("THERMOSTAT_COMMAND_1",)
    node_kind = "climate"
    product = "SimStat 2"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = self.spec.instance or 0
        self.state: dict[str, Any] = {
            "operating_mode": "off",
            "fan_mode": "auto",
            "schedule_mode": "disabled",
            "fan_speed": 0.0,
            "setpoint_temp_heat": 20.0,
            "setpoint_temp_cool": 24.0,
        }
        self.world.zone_temp(self.zone)

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """THERMOSTAT_COMMAND_1: fields not given (not available) are left as they are."""
        ok = (
            label_ok(signals.get("operating_mode"), THERMOSTAT_MODES)
            and label_ok(signals.get("fan_mode"), ("auto", "on"))
            and label_ok(signals.get("schedule_mode"), ("disabled", "enabled"))
            and percent_ok(signals.get("fan_speed"))
            and temp_ok(signals.get("setpoint_temp_heat"), 5, 40)
            and temp_ok(signals.get("setpoint_temp_cool"), 5, 40)
        )
        if not ok:
            return OUT_OF_RANGE
        for key in self.state:
            value = signals.get(key)
            if value is not None:
                self.state[key] = value
        return None

    def status(self, dgn: str) -> Signals:
        """THERMOSTAT_STATUS_1 or THERMOSTAT_AMBIENT_STATUS."""
        if dgn == "THERMOSTAT_AMBIENT_STATUS":
            return {"ambient_temp": round(self.world.zone_temp(self.zone) * 32) / 32}
        return dict(self.state)

    def tick(self, now: float, dt: float) -> None:
        """Heat or cool the zone towards the setpoint, else drift to the outside air."""
        mode = self.state["operating_mode"]
        temp = self.world.zone_temp(self.zone)
        heat, cool = self.state["setpoint_temp_heat"], self.state["setpoint_temp_cool"]
        if mode in ("heat", "aux_heat") or (mode == "auto_heat_cool" and temp < heat):
            target, rate = heat, 0.02
        elif mode == "cool" or (mode == "auto_heat_cool" and temp > cool):
            target, rate = cool, 0.02
        else:
            target, rate = self.world.outside_temp, 0.002
        self.world.zone_temps[self.zone] = approach(temp, target, rate * dt)


class EchoModel(DeviceModel):
    """A device whose status reports the settings last commanded (AC, furnace, heat pump).

    ``fields`` maps each settable signal to its check; signals not given keep their value.
    """

    fields: ClassVar[dict[str, Any]] = {}
    initial: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: dict[str, Any] = dict(self.initial)

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Check every given field, then store them."""
        for key, check in self.fields.items():
            if not check(signals.get(key)):
                return OUT_OF_RANGE
        for key in self.fields:
            value = signals.get(key)
            if value is not None:
                self.state[key] = value
        return None

    def status(self, dgn: str) -> Signals:
        """The stored settings."""
        return dict(self.state)


def _mode(value: Any) -> bool:
    return label_ok(value, ("automatic", "manual"))


def _band(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and 0 <= value <= 25)


class AirConditionerModel(EchoModel):
    """A roof air conditioner (AIR_CONDITIONER_COMMAND / _STATUS)."""

    status_dgns = ("AIR_CONDITIONER_STATUS",)
    command_dgns = ("AIR_CONDITIONER_COMMAND",)
    node_kind = "climate"
    product = "SimAir 15K"
    fields: ClassVar[dict[str, Any]] = {
        "operating_mode": _mode,
        "max_fan_speed": percent_ok,
        "max_air_conditioning_output_level": percent_ok,
        "fan_speed": percent_ok,
        "air_conditioning_output_level": percent_ok,
        "dead_band": _band,
        "second_stage_dead_band": _band,
    }
    initial: ClassVar[dict[str, Any]] = {
        "operating_mode": "automatic",
        "max_fan_speed": 100.0,
        "max_air_conditioning_output_level": 100.0,
        "fan_speed": 0.0,
        "air_conditioning_output_level": 0.0,
        "dead_band": 1.0,
        "second_stage_dead_band": 2.0,
    }

    def tick(self, now: float, dt: float) -> None:
        """A running compressor draws AC current."""
        level = self.state["air_conditioning_output_level"]
        self.world.ac_loads[self.key] = 13.0 * level / 100


class FurnaceModel(EchoModel):
    """A furnace (FURNACE_COMMAND / _STATUS); a lit burner draws LPG."""

    status_dgns = ("FURNACE_STATUS",)
    command_dgns = ("FURNACE_COMMAND",)
    node_kind = "climate"
    product = "SimHeat 30"
    fields: ClassVar[dict[str, Any]] = {
        "operating_mode": _mode,
        "heat_source": lambda v: label_ok(
            v, ("combustion", "ac_power_primary", "ac_power_secondary", "engine_heat")
        ),
        "circulation_fan_speed": percent_ok,
        "heat_output_level": percent_ok,
        "dead_band": _band,
        "second_stage_dead_band": _band,
    }
    initial: ClassVar[dict[str, Any]] = {
        "operating_mode": "automatic",
        "heat_source": "combustion",
        "circulation_fan_speed": 0.0,
        "heat_output_level": 0.0,
        "dead_band": 1.0,
        "second_stage_dead_band": 2.0,
    }

    def status(self, dgn: str) -> Signals:
        """FURNACE_STATUS with the zone status bits."""
        signals = dict(self.state)
        signals.update(
            zoneovercurrent_status="no_overcurrent_detected",
            zoneundercurrent_status="no_undercurrent_detected",
            zonetemperature_status="temperature_normal",
            zoneanalog_input_status="off_inactive",
        )
        return signals

    def tick(self, now: float, dt: float) -> None:
        """Burning when there is heat output on combustion."""
        lit = self.state["heat_output_level"] > 0 and self.state["heat_source"] == "combustion"
        self.world.combustion[self.key] = lit


class HeatPumpModel(EchoModel):
    """A heat pump (HEAT_PUMP_COMMAND / _STATUS)."""

    status_dgns = ("HEAT_PUMP_STATUS",)
    command_dgns = ("HEAT_PUMP_COMMAND",)
    node_kind = "climate"
    product = "SimAir 15K"
    fields: ClassVar[dict[str, Any]] = {
        "operating_mode": _mode,
        "max_heat_output_level": percent_ok,
        "heat_output_level": percent_ok,
        "dead_band": _band,
        "second_stage_dead_band": _band,
        "fan_speed": percent_ok,
    }
    initial: ClassVar[dict[str, Any]] = {
        "operating_mode": "automatic",
        "max_heat_output_level": 100.0,
        "heat_output_level": 0.0,
        "dead_band": 1.0,
        "second_stage_dead_band": 2.0,
        "fan_speed": 0.0,
    }


WATER_HEATER_MODES = (
    "off",
    "combustion",
    "electric",
    "gas_electric_both",
    "automatic",
    "test_combustion_forced_on",
    "test_electric_forced_on",
)


class WaterHeaterModel(DeviceModel):
    """The water heater: mode and setpoint; the water heats by gas and/or the AC element."""

    status_dgns = ("WATERHEATER_STATUS",)
    command_dgns = ("WATERHEATER_COMMAND",)
    node_kind = "water_heater"
    product = "SimHot 10"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mode = "off"
        self.setpoint = 55.0
        self.water = 25.0

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """WATERHEATER_COMMAND: operating mode and set point."""
        mode, setpoint = signals.get("operating_modes"), signals.get("set_point_temperature")
        if not label_ok(mode, WATER_HEATER_MODES) or not temp_ok(setpoint, 30, 75):
            return OUT_OF_RANGE
        if mode is not None:
            self.mode = mode
        if setpoint is not None:
            self.setpoint = float(setpoint)
        return None

    def _sources(self) -> tuple[bool, bool]:
        """(burner lit, element on) while below the setpoint."""
        if self.mode == "off" or self.water >= self.setpoint:
            return False, False
        gas = self.mode in ("combustion", "gas_electric_both", "automatic")
        electric = self.mode in ("electric", "gas_electric_both") and self.world.ac_available
        if self.mode == "automatic" and self.world.ac_available:
            gas, electric = False, True
        return gas, electric

    def tick(self, now: float, dt: float) -> None:
        """Heat at 0.05 °C/s per source; cool slowly otherwise."""
        gas, electric = self._sources()
        if gas or electric:
            self.water = min(self.setpoint, self.water + 0.05 * (gas + electric) * dt)
        else:
            self.water = approach(self.water, self.world.outside_temp, 0.001 * dt)
        self.world.combustion[self.key] = gas
        self.world.ac_loads[self.key] = 12.0 if electric else 0.0

    def status(self, dgn: str) -> Signals:
        """WATERHEATER_STATUS."""
        gas, electric = self._sources()
        return {
            "operating_modes": self.mode,
            "set_point_temperature": self.setpoint,
            "water_temperature": round(self.water * 4) / 4,
            "thermostat_status": (
                "set_point_met" if self.water >= self.setpoint - 0.5 else "set_point_not_met"
            ),
            "burner_status": "burner_is_lit" if gas else "off",
            "ac_element_status": "ac_element_is_active" if electric else "ac_element_is_inactive",
            "high_temperature_limit_switch_status": "limit_switch_not_tripped",
            "failure_to_ignite_status": "no_failure",
            "ac_power_failure_status": (
                "ac_power_present" if self.world.ac_available else "ac_power_not_present"
            ),
            "dc_power_failure_status": "dc_power_present",
            "dc_power_warning_status": "dc_power_sufficient",
        }


class RoofFanModel(DeviceModel):
    """A roof vent fan: on/off, speed, direction, dome (lid) moving a quarter per second."""

    status_dgns = ("ROOF_FAN_STATUS_1",)
    command_dgns = ("ROOF_FAN_COMMAND_1",)
    node_kind = "roof_fans"
    product = "SimVent 7"
    DOMES = ("close", "1_4_open", "1_2_open", "3_4_open", "open", "stop")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: dict[str, Any] = {
            "system_status": "off",
            "fan_mode": "auto",
            "speed_mode": "manual",
            "light": "off",
            "fan_speed_setting": 0.0,
            "wind_direction_switch": "air_out",
        }
        self.dome = 0.0  # quarters open, 0-4
        self.dome_target = 0.0

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """ROOF_FAN_COMMAND_1."""
        checks = {
            "system_status": ("off", "on"),
            "fan_mode": ("auto", "force_on"),
            "speed_mode": ("auto_variable", "manual"),
            "light": ("off", "on"),
            "wind_direction_switch": ("air_out", "air_in"),
        }
        dome = signals.get("dome_position_deprecated")
        if not all(label_ok(signals.get(k), v) for k, v in checks.items()):
            return OUT_OF_RANGE
        if not percent_ok(signals.get("fan_speed_setting")) or not label_ok(dome, self.DOMES):
            return OUT_OF_RANGE
        for key in self.state:
            value = signals.get(key)
            if value is not None:
                self.state[key] = "forced_on" if value == "force_on" else value
        if dome == "stop":
            self.dome_target = self.dome
        elif dome is not None:
            self.dome_target = float(self.DOMES.index(dome))
        return None

    def tick(self, now: float, dt: float) -> None:
        """Move the dome; a running fan draws current."""
        self.dome = approach(self.dome, self.dome_target, 1.0 * dt)
        on = self.state["system_status"] == "on"
        self.world.dc_loads[self.key] = 3.0 * self.state["fan_speed_setting"] / 100 if on else 0

    def status(self, dgn: str) -> Signals:
        """ROOF_FAN_STATUS_1."""
        signals = dict(self.state)
        # The last quarter mark the dome has fully passed on its way (it reads "closed" only
        # once it is shut, "open" only once it is fully open).
        quarter = math.floor(self.dome) if self.dome_target >= self.dome else math.ceil(self.dome)
        signals["dome_position"] = ("closed", *self.DOMES[1:5])[quarter]
        signals["ambient_temperature"] = round(self.world.zone_temp(1) * 32) / 32
        signals["set_point"] = None
        return signals
