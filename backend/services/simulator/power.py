"""Power and water devices: batteries, tanks, generator, inverter, charger, transfer switch,
solar controller, water pump, and the date/time source."""

from __future__ import annotations

import datetime as dt_
import math
from collections.abc import Mapping
from typing import Any

from backend.services.simulator.model import (
    CONDITIONS_DO_NOT_ALLOW,
    OUT_OF_RANGE,
    DeviceModel,
    Signals,
    approach,
    label_ok,
)

GEN_PREHEAT_S = 2.0
GEN_CRANK_S = 1.5
AC_FREQUENCY = 60.0
AC_VOLTS = 120.0


class BatteryModel(DeviceModel):
    """A DC source (house or chassis bank): voltage and current follow chargers and loads."""

    status_dgns = ("DC_SOURCE_STATUS_1", "DC_SOURCE_STATUS_2")
    node_kind = "battery_monitor"
    product = "SimShunt 500"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.house = self.spec.instance in (1, 3) or self.spec.options.get("house", False)
        self.capacity_ah = float(self.spec.options.get("capacity_ah", 400 if self.house else 100))
        self.soc = float(self.spec.options.get("soc", self.world.house_soc if self.house else 95))
        # Net charge current into the bank (A): positive while charging. The spec's DC current
        # (6.5.2) is the other way round: positive flows from the source (discharge).
        self.charge_amps = 0.0

    def status(self, dgn: str) -> Signals:
        """DC_SOURCE_STATUS_1 (voltage, current) or _2 (temperature, state of charge)."""
        if dgn == "DC_SOURCE_STATUS_1":
            amps = self.charge_amps
            volts = 11.8 + 1.0 * self.soc / 100 + (0.012 * amps if self.house else 0.0)
            if amps > 5:
                volts = max(volts, 13.2 + 0.4 * min(amps, 60) / 60)
            return {
                "device_priority": "battery_soc_bms_device",
                "dc_voltage": round(volts * 20) / 20,
                "dc_current": round(-amps, 3) + 0.0,  # + 0.0: no negative zero
            }
        amps = self.charge_amps
        if amps < 0:
            remaining, meaning = self.soc / 100 * self.capacity_ah / -amps * 60, 0
        elif amps > 0:
            remaining, meaning = (100 - self.soc) / 100 * self.capacity_ah / amps * 60, 1
        else:
            remaining, meaning = None, 0
        return {
            "device_priority": "battery_soc_bms_device",
            "source_temperature": 22.0,
            "state_of_charge_soc": round(self.soc * 2) / 2,
            "time_remaining": None if remaining is None else min(round(remaining), 65000),
            "time_remaining_interpretation": meaning,
        }

    def tick(self, now: float, dt: float) -> None:
        """Integrate charge: sources minus loads (house); a small parasitic draw (chassis)."""
        if self.house:
            target = self.world.dc_source_amps - self.world.dc_load_amps
        else:
            target = 2.0 if self.world.generator_running else -0.05
        # Current settles within a couple of seconds (from charging to discharging too); values
        # keep the meter's 1 mA precision.
        step = max(1.0, 2 * abs(target - self.charge_amps)) * dt
        self.charge_amps = round(approach(self.charge_amps, target, step), 3)
        self.soc = min(100.0, max(0.0, self.soc + self.charge_amps * dt / 36 / self.capacity_ah))
        if self.house:
            self.world.house_soc = self.soc


TANK_FLUIDS = {0: "fresh", 1: "black", 2: "gray", 3: "lpg", 16: "fresh", 17: "black", 18: "gray"}


class TankModel(DeviceModel):
    """A tank: fresh drains while the pump runs, gray and black fill with it, LPG feeds burners."""

    status_dgns = ("TANK_STATUS",)
    node_kind = "tank_monitor"
    product = "SimTank 4"
    PUMP_LPM = 8.0  # litres per minute while the pump runs
    LPG_LPH = 0.6  # litres per hour per burner

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.spec.options
        fluid = TANK_FLUIDS.get(self.spec.instance if self.spec.instance is not None else 0, "")
        self.fluid = str(options.get("fluid", fluid or "fresh"))
        self.capacity = float(options.get("capacity_l", 150 if self.fluid == "fresh" else 120))
        start = {"fresh": 80.0, "gray": 30.0, "black": 20.0, "lpg": 70.0}.get(self.fluid, 50.0)
        self.litres = self.capacity * float(options.get("level", start)) / 100

    @property
    def percent(self) -> float:
        """Fill level in %."""
        return 100 * self.litres / self.capacity

    def status(self, dgn: str) -> Signals:
        """TANK_STATUS: relative level out of a resolution of 100, litres, size."""
        return {
            "relative_level": round(self.percent),
            "resolution": 100,
            "absolute_level": round(self.litres),
            "tank_size": round(self.capacity),
        }

    def tick(self, now: float, dt: float) -> None:
        """Move water and gas."""
        flow = self.PUMP_LPM / 60 * dt if self.world.pump_running else 0.0
        if self.fluid == "fresh":
            self.litres -= flow
        elif self.fluid == "gray":
            self.litres += flow * 0.7
        elif self.fluid == "black":
            self.litres += flow * 0.3
        elif self.fluid == "lpg":
            burners = sum(1 for lit in self.world.combustion.values() if lit)
            self.litres -= burners * self.LPG_LPH / 3600 * dt
        self.litres = min(self.capacity, max(0.0, self.litres))


class GeneratorModel(DeviceModel):
    """The generator: start goes preheat, cranking, running; run time accrues; stop stops."""

    status_dgns = ("GENERATOR_STATUS_1", "GENERATOR_STATUS_2", "GENERATOR_AC_STATUS_1")
    command_dgns = ("GENERATOR_COMMAND",)
    node_kind = "generator"
    product = "SimGen 5500"
    COMMANDS = ("stop", "start", "manual_prime", "manual_preheat")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = "stopped"
        self.state_since = 0.0
        self.run_seconds = float(self.spec.options.get("run_hours", 1000)) * 3600
        self.coolant = 30.0
        self.rpm = 0.0

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """GENERATOR_COMMAND: stop, start (and manual preheat/prime)."""
        cmd = signals.get("command")
        if not label_ok(cmd, self.COMMANDS) or cmd is None:
            return OUT_OF_RANGE
        if cmd == "stop":
            self._go("stopped", now)
        elif cmd == "start":
            if self.state in ("stopped", "priming"):
                self._go("preheat", now)
        elif self.state != "stopped":
            return CONDITIONS_DO_NOT_ALLOW
        else:
            self._go("priming" if cmd == "manual_prime" else "preheat", now)
        return None

    def _go(self, state: str, now: float) -> None:
        self.state = state
        self.state_since = now
        self.world.generator_running = state == "running"

    def tick(self, now: float, dt: float) -> None:
        """Walk the start sequence; accrue run time; warm up."""
        elapsed = now - self.state_since
        if self.state == "preheat" and elapsed >= GEN_PREHEAT_S:
            self._go("cranking", now)
        elif self.state == "cranking" and elapsed >= GEN_CRANK_S:
            self._go("running", now)
        elif self.state == "priming" and elapsed >= GEN_PREHEAT_S:
            self._go("stopped", now)
        running = self.state == "running"
        if running:
            self.run_seconds += dt
        target_rpm = 3600.0 if running else (300.0 if self.state == "cranking" else 0.0)
        self.rpm = approach(self.rpm, target_rpm, 3000 * dt)
        self.coolant = approach(self.coolant, 85.0 if running else 30.0, 0.5 * dt)

    def status(self, dgn: str) -> Signals:
        """GENERATOR_STATUS_1/2 and GENERATOR_AC_STATUS_1."""
        running = self.state == "running"
        load = min(100.0, self.world.ac_load_amps / 0.46) if running else 0.0
        if dgn == "GENERATOR_STATUS_1":
            return {
                "status": self.state,
                "engine_run_time": int(self.run_seconds // 60),
                "engine_load": round(load * 2) / 2,
                "start_battery_voltage": 11.2 if self.state == "cranking" else 12.7,
            }
        if dgn == "GENERATOR_STATUS_2":
            return {
                "temperature_shutdown_switch": "temperature_shutdown_not_active",
                "oil_pressure_shutdown_switch": "oil_pressure_shutdown_not_active",
                "oil_level_switch": "oil_level_switch_not_active",
                "caution_light": "caution_light_not_active",
                "eng_coolant_temperature": round(self.coolant),
                "eng_oil_pressure": 280 if running else 0,
                "engine_rpm": round(self.rpm),
                "fuel_rate": round((0.8 + 0.02 * load) * 20) / 20 if running else 0,
            }
        return _ac_status(AC_VOLTS if running else 0.0, self.world.ac_load_amps if running else 0)


def _ac_status(volts: float, amps: float, frequency: float = AC_FREQUENCY) -> Signals:
    """The AC_STATUS_1 layout's values (per-device instance fields are added by the node)."""
    return {
        "rms_voltage": round(volts * 20) / 20,
        "rms_current": round(amps * 20) / 20,
        "frequency": frequency if volts else 0,
        "fault_open_ground": "no_fault",
        "fault_open_neutral": "no_fault",
        "fault_reverse_polarity": "no_fault",
        "fault_ground_current": "no_fault",
    }


# INVERTER_COMMAND enable bits (table 6.19.9b): (label of 00b, label of 01b)
_INVERTER_ENABLE: dict[str, tuple[str, str]] = {
    "inverter_enable": ("disable", "enable_inverter"),
    "load_sense_enable": ("disable_load_sense", "enable_load_sense"),
    "pass_through_enable": ("disable_pass_through", "enable_pass_through"),
    "generator_support_enable": ("disable_generator_support", "enable_generator_support"),
}


def _onoff(what: str, on: bool) -> str:
    """INVERTER_STATUS enable bits (table 6.19.8b): "<what>_enabled" / "<what>_disabled"."""
    return f"{what}_enabled" if on else f"{what}_disabled"


class InverterModel(DeviceModel):
    """The inverter: enable/disable; passes AC through on shore or generator, else inverts."""

    status_dgns = ("INVERTER_STATUS", "INVERTER_AC_STATUS_1")
    command_dgns = ("INVERTER_COMMAND",)
    node_kind = "inverter_charger"
    product = "SimVerter 3000"
    FLAGS = ("inverter_enable", "load_sense_enable", "pass_through_enable")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enabled = {"inverter_enable": True, "load_sense_enable": False}
        self.enabled["pass_through_enable"] = True
        self.enabled["generator_support_enable"] = False

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """INVERTER_COMMAND: the enable bits (not given = no change)."""
        for key in self.enabled:
            if not label_ok(signals.get(key), _INVERTER_ENABLE[key]):
                return OUT_OF_RANGE
        for key in self.enabled:
            value = signals.get(key)
            if value is not None:
                self.enabled[key] = value == _INVERTER_ENABLE[key][1]
        return None

    def _status(self) -> str:
        if self.world.ac_available and self.enabled["pass_through_enable"]:
            return "ac_passthru"
        return "invert" if self.enabled["inverter_enable"] else "disabled"

    def status(self, dgn: str) -> Signals:
        """INVERTER_STATUS and INVERTER_AC_STATUS_1 (output)."""
        if dgn == "INVERTER_STATUS":
            e = self.enabled
            return {
                "status": self._status(),
                "battery_temperature_sensor_present": "no_battery_temperature_sensor_in_use",
                "load_sense_enabled": _onoff("load_sense", e["load_sense_enable"]),
                "inverter_enabled": _onoff("inverter", e["inverter_enable"]),
                "pass_through_enable": _onoff("pass_through", e["pass_through_enable"]),
                "generator_support_enabled": _onoff(
                    "generator_support", e["generator_support_enable"]
                ),
            }
        on = self._status() != "disabled"
        return _ac_status(AC_VOLTS if on else 0.0, self.world.ac_load_amps if on else 0.0)

    def tick(self, now: float, dt: float) -> None:
        """Inverting draws the AC loads from the house bank."""
        inverting = self._status() == "invert"
        self.world.dc_loads[self.key] = self.world.ac_load_amps * 10.5 if inverting else 0.0


class ChargerModel(DeviceModel):
    """The charger: bulk, absorption, float by state of charge while AC is available."""

    status_dgns = ("CHARGER_STATUS", "CHARGER_AC_STATUS_1")
    command_dgns = ("CHARGER_COMMAND",)
    node_kind = "inverter_charger"
    product = "SimVerter 3000"
    MAX_AMPS = 120.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enabled = True
        self.forced = "cancel_forcing"
        self.amps = 0.0

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """CHARGER_COMMAND: status disable / enable_charger (equalization is not supported)."""
        status = signals.get("status")
        if not label_ok(status, ("disable", "enable_charger", "start_equalization")):
            return OUT_OF_RANGE
        if status == "start_equalization":
            return None
        if status is not None:
            self.enabled = status == "enable_charger"
        return None

    def _state(self) -> str:
        if not self.enabled:
            return "disable"
        if not self.world.ac_available:
            return "not_charging"
        soc = self.world.house_soc
        return "bulk" if soc < 90 else "absorption" if soc < 98 else "float"

    def tick(self, now: float, dt: float) -> None:
        """Charge current by stage."""
        target = {"bulk": self.MAX_AMPS, "absorption": 40.0, "float": 4.0}.get(self._state(), 0.0)
        self.amps = approach(self.amps, target, 40 * dt)
        self.world.dc_sources[self.key] = self.amps
        self.world.ac_loads[self.key] = self.amps * 14.0 / AC_VOLTS / 0.9

    def status(self, dgn: str) -> Signals:
        """CHARGER_STATUS and CHARGER_AC_STATUS_1 (input)."""
        if dgn == "CHARGER_STATUS":
            state = self._state()
            return {
                "charge_voltage": {"bulk": 14.2, "absorption": 14.4, "float": 13.6}.get(state, 0),
                "charge_current": round(self.amps * 20) / 20,
                "charge_current_percent_of_maximum": round(self.amps / self.MAX_AMPS * 200) / 2,
                "operating_state": state,
                "default_state_on_power_up": "charger_enabled",
                "auto_recharge_enable": "auto_recharge_enabled",
                "force_charge": "charging_is_not_forced",
            }
        volts = AC_VOLTS if self.world.ac_available else 0.0
        return _ac_status(volts, self.world.ac_loads.get(self.key, 0.0))


class TransferSwitchModel(DeviceModel):
    """The automatic transfer switch: generator when running, else shore."""

    status_dgns = ("ATS_STATUS", "ATS_AC_STATUS_1")
    command_dgns = ("ATS_COMMAND",)
    node_kind = "transfer_switch"
    product = "SimATS 50"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mode = "automatic"

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """ATS_COMMAND: mode automatic/manual."""
        mode = signals.get("mode")
        if not label_ok(mode, ("automatic", "manual")):
            return OUT_OF_RANGE
        if mode is not None:
            self.mode = mode
        return None

    def status(self, dgn: str) -> Signals:
        """ATS_STATUS (source in use: 0 shore, 1 generator) and ATS_AC_STATUS_1."""
        if self.world.generator_running:
            source: int | str = 1
        elif self.world.shore_power:
            source = "primary"
        else:
            source = "no_source_active"
        if dgn == "ATS_STATUS":
            return {"source_in_use": source, "mode": self.mode}
        volts = AC_VOLTS if self.world.ac_available else 0.0
        return _ac_status(volts, self.world.ac_load_amps if volts else 0.0)


class SolarModel(DeviceModel):
    """A solar charge controller following a day curve of the wall clock."""

    status_dgns = ("SOLAR_CONTROLLER_STATUS",)
    node_kind = "solar"
    product = "SimSun 40"
    MAX_AMPS = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.amps = 0.0

    def tick(self, now: float, dt: float) -> None:
        """Sun from 6 h to 20 h local time, peaking at 13 h."""
        t = dt_.datetime.now()
        hour = t.hour + t.minute / 60
        sun = max(0.0, math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0
        self.amps = round(self.MAX_AMPS * sun * 20) / 20
        self.world.dc_sources[self.key] = self.amps

    def status(self, dgn: str) -> Signals:
        """SOLAR_CONTROLLER_STATUS."""
        state = "bulk" if self.amps > 1 else "do_not_charge"
        return {
            "charge_voltage": 14.2 if self.amps > 1 else 0,
            "charge_current": self.amps,
            "charge_current_percent_of_maximum": round(self.amps / self.MAX_AMPS * 200) / 2,
            "operating_state": state,
            "power_up_state": "controller_enabled",
            "clear_history": "history_not_clear",
            "force_charge": "charging_is_not_forced",
        }


class WaterPumpModel(DeviceModel):
    """The fresh water pump: enabled, it runs in bursts as taps open and close."""

    status_dgns = ("WATER_PUMP_STATUS",)
    command_dgns = ("WATER_PUMP_COMMAND",)
    node_kind = "water"
    product = "SimPump 3"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enabled = False
        self.duty = float(self.spec.options.get("duty", 1.0))  # share of time running
        self.pressure = 0.0

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """WATER_PUMP_COMMAND: disable_pump / enable_pump_standby."""
        cmd = signals.get("command")
        if not label_ok(cmd, ("disable_pump", "enable_pump_standby")):
            return OUT_OF_RANGE
        if cmd is not None:
            self.enabled = cmd == "enable_pump_standby"
            self.world.pump_running = self.enabled and self.duty > 0
        return None

    def tick(self, now: float, dt: float) -> None:
        """Cycle the pump on the duty; pressure builds while it runs."""
        if self.enabled and 0 < self.duty < 1:
            self.world.pump_running = (now % 30) < 30 * self.duty
        self.world.dc_loads[self.key] = 6.0 if self.world.pump_running else 0.0
        target = 380_000.0 if self.world.pump_running else (300_000.0 if self.enabled else 0.0)
        self.pressure = approach(self.pressure, target, 200_000 * dt)

    def status(self, dgn: str) -> Signals:
        """WATER_PUMP_STATUS."""
        running = self.world.pump_running
        return {
            "operating_status": (
                "pump_enabled_standby_or_running" if self.enabled else "pump_disabled"
            ),
            "pump_status": "pump_running" if running else "pump_not_running",
            "water_hookup_detected": "rv_is_not_hooked_up",
            "current_system_pressure": round(self.pressure, -2),
            "pump_pressure_setting": 380_000,
            "regulator_pressure_setting": 300_000,
            "operating_current": 6 if running else 0,
        }


class ClockModel(DeviceModel):
    """DATE_TIME_STATUS from the host clock; SET_DATE_TIME_COMMAND moves it."""

    status_dgns = ("DATE_TIME_STATUS",)
    command_dgns = ("SET_DATE_TIME_COMMAND",)
    node_kind = "clock"
    product = "SimClock 1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offset = dt_.timedelta()

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Set the clock (every field is required)."""
        try:
            month = signals["month"]
            wanted = dt_.datetime(
                int(signals["year"]),
                int(month),
                int(signals["day_of_month"]),
                int(signals["hour"]),
                int(signals["minute"]),
                int(signals["second"]),
            )
        except (KeyError, TypeError, ValueError):
            return OUT_OF_RANGE
        self.offset = wanted - dt_.datetime.now().replace(microsecond=0)
        return None

    def status(self, dgn: str) -> Signals:
        """Year, month, day, weekday, time."""
        t = dt_.datetime.now() + self.offset
        return {
            "year": t.year,
            "month": t.month,
            "day_of_month": t.day,
            "day_of_week": (t.isoweekday() % 7) + 1,
            "hour": t.hour,
            "minute": t.minute,
            "second": t.second,
            "time_zone": 0,
        }


class AcPointModel(DeviceModel):
    """An AC measuring point (shore input): voltage while AC is available, the AC loads' current."""

    status_dgns = (
        "CHARGER_AC_STATUS_1",
        "INVERTER_AC_STATUS_1",
        "ATS_AC_STATUS_1",
        "GENERATOR_AC_STATUS_1",
    )
    node_kind = "ac_point"
    product = "SimMeter AC"

    def status(self, dgn: str) -> Signals:
        """AC_STATUS_1 layout values."""
        volts = AC_VOLTS if self.world.ac_available else 0.0
        return _ac_status(volts, self.world.ac_load_amps if volts else 0.0)
