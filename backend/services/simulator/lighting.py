"""Dimmers and switched loads: DC_DIMMER_COMMAND_2 / DC_DIMMER_STATUS_3, DC and AC loads.

A dimmer ramps to its level at the commanded rate and reports every step (the status's minimum
gap, 100 ms, paces the reports), keeps a master memory (the last level before off), runs for a
commanded duration and goes off, and locks. A dimmer instance that drives a motor (a pair, one per
direction) is the same model: it runs for its duration and stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.services.simulator.model import (
    CONDITIONS_DO_NOT_ALLOW,
    OUT_OF_RANGE,
    DeviceModel,
    Signals,
    approach,
)

DIMMER_COMMANDS = frozenset(
    {
        "set_level_delay",
        "on_duration",
        "on_delay",
        "off_delay",
        "stop",
        "toggle",
        "memory_off",
        "save_scene",
        "ramp_brightness",
        "ramp_toggle",
        "ramp_up",
        "ramp_down",
        "ramp_up_down",
        "ramp_up_down_toggle",
        "lock",
        "unlock",
        "flash",
        "flash_momentary",
    }
)
UNSUPPORTED = frozenset({"save_scene", "flash", "flash_momentary"})
DEFAULT_RAMP_S = 3.0


class DimmerModel(DeviceModel):
    """A DC dimmer output (or an on/off light when ``dimmable`` is false)."""

    status_dgns = ("DC_DIMMER_STATUS_3",)
    command_dgns = ("DC_DIMMER_COMMAND_2",)
    node_kind = "lighting"
    product = "SimDimmer 8"
    level_signal = "desired_level_brightness"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.spec.options
        self.dimmable = bool(options.get("dimmable", True))
        self.watts = float(options.get("watts", 18.0))
        self.level = float(options.get("level", 0.0))
        self.memory = 100.0
        self.target = self.level
        self.rate = 0.0  # %/s while ramping, 0 when not
        self.off_at: float | None = None  # end of an on-duration
        self.on_at: tuple[float, float] | None = None  # (when, level) of an on-delay
        self.locked = False
        self.last_command: str = "off" if self.level == 0 else "on"

    # -- status ----------------------------------------------------------------------------

    def status(self, dgn: str) -> Signals:
        """DC_DIMMER_STATUS_3: level (ramping values on the way), lock, delay, last command."""
        remaining = None
        if self.off_at is not None:
            remaining = max(0, min(240, round(self.off_at - self._now)))
        return {
            "group": 0,
            "operating_status_brightness": round(self.level * 2) / 2,
            "lock_status": "load_is_locked" if self.locked else "load_is_unlocked",
            "overcurrent_status": "load_is_not_in_overcurrent",
            "override_status": "external_override_is_inactive",
            "enable_status": "load_is_enabled",
            "delay_duration": "no_delay_duration_active" if remaining is None else remaining,
            "last_command": self.last_command,
            "interlock_status": "interlock_command_is_not_active",
            "load_status": (
                "operating_status_is_non_zero_or_flashing"
                if self.level > 0
                else "operating_status_is_zero"
            ),
            "undercurrent": "undercurrent_not_supported",
            "master_memory_value_last_level": round(self.memory * 2) / 2,
        }

    _now = 0.0

    # -- commands --------------------------------------------------------------------------

    def _level_arg(self, value: Any) -> float | str | None:
        """The commanded level: a number, None (not given) or ``"bad"``."""
        if value is None:
            return None
        if value == "master_memory_value" or value == "dimmed_memory_value":
            return self.memory
        if isinstance(value, str):
            return "scene"
        if isinstance(value, int | float) and 0 <= value <= 100:
            return float(value)
        return "bad"

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Apply DC_DIMMER_COMMAND_2 (command table of RV-C 6.24.6)."""
        self._now = now
        cmd = signals.get("command")
        level = self._level_arg(signals.get(self.level_signal))
        if not isinstance(cmd, str) or cmd not in DIMMER_COMMANDS or level == "bad":
            return OUT_OF_RANGE
        if cmd in UNSUPPORTED or level == "scene":
            return None  # supported by the table, not by this device: no answer (3.2.4.4)
        if cmd == "unlock":
            self.locked = False
            self.last_command = cmd
            return None
        if self.locked:
            return CONDITIONS_DO_NOT_ALLOW
        if cmd == "lock":
            self.locked = True
            self.last_command = cmd
            return None
        assert not isinstance(level, str)
        delay = signals.get("delay_duration")
        ramp = signals.get("ramp_time")
        self._apply(cmd, level, delay if isinstance(delay, int | float) else None, ramp, now)
        return None

    def _apply(
        self, cmd: str, level: float | None, delay: float | None, ramp: Any, now: float
    ) -> None:
        self.last_command = {
            "set_level_delay": "set_brightness",
            "on_duration": "on",
            "off_delay": "off",
            "ramp_up_down_toggle": "ramp_up_down",
        }.get(cmd, cmd)
        ramp_s = float(ramp) if isinstance(ramp, int | float) and ramp > 0 else DEFAULT_RAMP_S
        # seconds (241-250 arrive as 300-840: 5 to 14 min); continuous (255) arrives as None
        timed = delay is not None and delay > 0
        self.on_at = None
        if cmd in ("set_level_delay", "on_duration"):
            if level is None:
                level = self.memory if cmd == "on_duration" else self.level
            self._set(level)
            self.off_at = now + float(delay) if timed and delay is not None else None
        elif cmd == "on_delay":
            when = now + (float(delay) if timed and delay is not None else 0.0)
            self.on_at = (when, level if level is not None else self.memory)
        elif cmd in ("off_delay", "memory_off"):
            if timed and delay is not None:
                self.off_at = now + float(delay)
            else:
                self._set(0.0)
                self.off_at = None
        elif cmd == "stop":
            # 6.24.4: a ramp stops where it is; an output that is on goes to 0 %.
            if self.rate:
                self.target = self.level
                self.rate = 0.0
            else:
                self._set(0.0)
            self.off_at = None
        elif cmd == "toggle":
            self._set(0.0 if self.level > 0 else (level or self.memory))
            self.off_at = None
        elif cmd == "ramp_brightness":
            self._ramp(level if level is not None else self.memory, ramp_s)
        elif cmd in ("ramp_toggle", "ramp_up_down", "ramp_up_down_toggle"):
            going_up = self.level == 0 or (self.rate != 0 and self.target < self.level)
            self._ramp(self.memory if going_up else 0.0, ramp_s)
        elif cmd == "ramp_up":
            self._ramp(100.0, ramp_s)
        elif cmd == "ramp_down":
            self._ramp(0.0, ramp_s)

    def _set(self, level: float) -> None:
        if not self.dimmable:
            level = 100.0 if level > 0 else 0.0
        if self.level > 0 and level == 0:
            self.memory = self.level
        elif level > 0:
            self.memory = level
        self.level = self.target = level
        self.rate = 0.0
        self._update_load()

    def _ramp(self, target: float, seconds: float) -> None:
        if not self.dimmable:
            self._set(target)
            return
        if self.level > 0 and target == 0:
            self.memory = self.level
        self.target = target
        self.rate = max(abs(target - self.level), 1.0) / seconds
        self.off_at = None

    def _update_load(self) -> None:
        self.world.dc_loads[self.key] = self.watts * self.level / 100 / 12.8

    def tick(self, now: float, dt: float) -> None:
        """Ramp, end on-durations and start on-delays."""
        self._now = now
        if self.rate:
            self.level = approach(self.level, self.target, self.rate * dt)
            if self.level == self.target:
                self.rate = 0.0
                if self.level > 0:
                    self.memory = self.level
            self._update_load()
        if self.off_at is not None and now >= self.off_at:
            self.off_at = None
            self._set(0.0)
        if self.on_at is not None and now >= self.on_at[0]:
            level = self.on_at[1]
            self.on_at = None
            self._set(level)


class LoadModel(DimmerModel):
    """A DC load switch (DC_LOAD_COMMAND / DC_LOAD_STATUS); not dimmable unless said so."""

    status_dgns = ("DC_LOAD_STATUS",)
    command_dgns = ("DC_LOAD_COMMAND",)
    node_kind = "loads"
    product = "SimLoad 12"
    level_signal = "desired_level"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dimmable = bool(self.spec.options.get("dimmable", False))

    def _level_arg(self, value: Any) -> float | str | None:
        if value == "toggles_the_load_on_off":  # desired level 250 (6.23.4b)
            return 0.0 if self.level > 0 else self.memory
        return super()._level_arg(value)

    def status(self, dgn: str) -> Signals:
        """DC_LOAD_STATUS / AC_LOAD_STATUS: level, mode, capability, delay, current."""
        amps = self.watts * self.level / 100 / self.volts
        remaining = None
        if self.off_at is not None:
            remaining = max(0, min(240, round(self.off_at - self._now)))
        return {
            "group": 0,
            "operating_status_level": round(self.level * 2) / 2,
            "operating_mode": "manual",
            "variable_level_capability": "variable" if self.dimmable else "not_variable",
            "priority": 7,
            "delay": remaining,
            "demanded_current": round(amps),
            "present_current": round(amps * 20) / 20,
        }

    volts = 12.8

    def _update_load(self) -> None:
        self.world.dc_loads[self.key] = self.watts * self.level / 100 / self.volts


class ACLoadModel(LoadModel):
    """An AC load switch (AC_LOAD_COMMAND / AC_LOAD_STATUS)."""

    status_dgns = ("AC_LOAD_STATUS",)
    command_dgns = ("AC_LOAD_COMMAND",)
    node_kind = "ac_loads"
    product = "SimACLoad 4"
    volts = 120.0

    def _update_load(self) -> None:
        self.world.ac_loads[self.key] = self.watts * self.level / 100 / self.volts
