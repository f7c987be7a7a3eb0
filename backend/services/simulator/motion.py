"""Motors: awnings, slides, entry steps, leveling jacks and window shades run until their end of
travel, their commanded duration or a stop.

Slides and awnings moved by direction (a manual move) keep moving only while the commander
repeats the command (every 100 ms, spec 3.2.4.5): without a repeat for ``REPEAT_TIMEOUT`` they
stop, "in the safest manner possible". They announce their lockouts in their status (park brake,
ignition, low voltage, user lock) and answer NAK 3 (conditions do not allow) to a move a lockout
forbids, and NAK 8 (overridden by user) while a person holds their local switch (``override``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.core.entity_commands import jack_signal
from backend.core.entity_readers import jack_status_signal
from backend.services.simulator.model import (
    CONDITIONS_DO_NOT_ALLOW,
    OUT_OF_RANGE,
    OVERRIDDEN_BY_USER,
    DeviceModel,
    Signals,
    World,
    label_ok,
    percent_ok,
)

MAX_RUN_S = 240.0
REPEAT_TIMEOUT = 0.5  # a manual move stops this long after the last repeated command
LOW_VOLTAGE_SOC = 10.0  # house battery state of charge below which motors are locked out


def world_lockouts(world: World) -> list[str]:
    """The lockouts a motion device announces from the coach's state (status signal names)."""
    out: list[str] = []
    if not world.parked:
        out.append("park_brake")
    if world.ignition_on:
        out.append("ignition_key")
    if world.house_soc < LOW_VOLTAGE_SOC:
        out.append("low_voltage")
    return out


class _Travel(DeviceModel):
    """A motor with a position in % (0 retracted, 100 extended) and a speed in %/s."""

    speed = 5.0
    travel_lockouts = False  # slides and awnings: locked out while the coach is not parked

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.position = float(self.spec.options.get("position", 0.0))
        self.motion = 0  # 0 still, 1 extending, 2 retracting
        self.goal = 0.0
        self.stop_at: float | None = None
        self.amps = float(self.spec.options.get("amps", 8.0))
        self.repeat_until: float | None = None  # a manual move needs repeats until then
        self.override = False  # a person holds the device's local switch
        self.repeats_missed = 0

    def held_move(self, direction: int, now: float) -> None:
        """A manual move: continue (or start) it; it stops without a repeat in time."""
        if direction != self.motion:
            self.move(direction, now)
        self.repeat_until = now + REPEAT_TIMEOUT

    def move(self, direction: int, now: float, goal: float | None = None, run: float = 0) -> None:
        """Start (1 extend, 2 retract) or stop (0)."""
        self.motion = direction
        self.repeat_until = None
        if direction == 0:
            self.stop_at = None
            return
        self.goal = goal if goal is not None else (100.0 if direction == 1 else 0.0)
        self.stop_at = now + (run if 0 < run <= MAX_RUN_S else MAX_RUN_S)

    def lockouts(self) -> list[str]:
        """Lockouts in force (the status signal names that say "will not move")."""
        return world_lockouts(self.world) if self.travel_lockouts else []

    def refuse(self) -> int | None:
        """The NAK a move gets now (overridden by user, conditions do not allow), or None."""
        if self.override:
            return OVERRIDDEN_BY_USER
        if self.lockouts():
            return CONDITIONS_DO_NOT_ALLOW
        return None

    def tick(self, now: float, dt: float) -> None:
        """Travel; stop at the goal, an end, the end of the run, or when repeats stop."""
        if self.motion and self.repeat_until is not None and now > self.repeat_until:
            self.repeats_missed += 1
            self.move(0, now)
        if self.motion and self.lockouts():
            self.move(0, now)  # a lockout stops a running motor
        if self.motion:
            step = self.speed * dt * (1 if self.motion == 1 else -1)
            pos = self.position + step
            if (self.motion == 1 and pos >= self.goal) or (self.motion == 2 and pos <= self.goal):
                pos = self.goal
                self.motion = 0
            self.position = min(100.0, max(0.0, pos))
            if self.stop_at is not None and now >= self.stop_at:
                self.motion = 0
        self.world.dc_loads[self.key] = self.amps if self.motion else 0.0


class AwningModel(_Travel):
    """An awning (AWNING_COMMAND / AWNING_STATUS)."""

    status_dgns = ("AWNING_STATUS",)
    command_dgns = ("AWNING_COMMAND",)
    node_kind = "motion"
    product = "SimShade Awning"
    speed = 8.0
    travel_lockouts = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.light = False

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Direction stop/extend/retract, or move to a position; the integrated light."""
        direction = signals.get("direction_of_movement")
        goal = signals.get("move_to_position")
        light = signals.get("awning_light")
        if not label_ok(direction, ("stop", "extend", "retract")) or not percent_ok(goal):
            return OUT_OF_RANGE
        if not label_ok(
            light, ("set_integrated_awning_light_off", "set_integrated_awning_light_on")
        ):
            return OUT_OF_RANGE
        if light is not None:
            self.light = light.endswith("_on")
        moving = direction in ("extend", "retract") or (
            direction is None and goal is not None and goal != self.position
        )
        if moving and (code := self.refuse()) is not None:
            self.move(0, now)
            return code
        if direction == "stop":
            self.move(0, now)
        elif direction is not None:
            self.held_move(("stop", "extend", "retract").index(direction), now)
        elif goal is not None and goal != self.position:
            self.move(1 if goal > self.position else 2, now, goal=float(goal))  # runs by itself
        return None

    def status(self, dgn: str) -> Signals:
        """AWNING_STATUS."""
        locks = self.lockouts()
        return {
            "motion": ("no_motion", "extending", "retracting")[self.motion],
            "position": round(self.position * 2) / 2,
            "travel_lock_status": (
                "awning_is_secured" if self.position == 0 else "awning_is_not_secured"
            ),
            "unlock_status": "awning_is_unlocked_and_ready_to_move",
            "user_lock_status": "user_lock_is_not_activated",
            "brake_status": "all_motor_brakes_are_not_locked",
            "parked_status": (
                "awning_will_not_move_because_of_parked_status"
                if "park_brake" in locks
                else "awning_may_move"
            ),
            "ignition_key": (
                "awning_will_not_move_because_of_ignition_status"
                if "ignition_key" in locks
                else "awning_may_move"
            ),
            "low_voltage": (
                "awning_will_not_move_because_of_low_voltage_status"
                if "low_voltage" in locks
                else "awning_may_move"
            ),
            "generic_lock": "awning_may_move",
            "awning_light": (
                "integrated_awning_light_on" if self.light else "integrated_awning_light_off"
            ),
        }


class SlideModel(_Travel):
    """A slide room (SLIDE_COMMAND / SLIDE_STATUS); a user lock refuses movement."""

    status_dgns = ("SLIDE_STATUS",)
    command_dgns = ("SLIDE_COMMAND",)
    node_kind = "motion"
    product = "SimSlide 2"
    speed = 4.0
    travel_lockouts = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_lock = False

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Direction stop/extend/retract; user lock."""
        direction = signals.get("direction_of_movement")
        lock = signals.get("user_lock")
        allowed = ("stop", "extend", "retract", "do_not_change_status")
        if not label_ok(direction, allowed):
            return OUT_OF_RANGE
        if not label_ok(lock, ("release_user_lock", "set_user_lock")):
            return OUT_OF_RANGE
        if lock is not None:
            self.user_lock = lock == "set_user_lock"
        if direction in ("extend", "retract"):
            code = CONDITIONS_DO_NOT_ALLOW if self.user_lock else self.refuse()
            if code is not None:
                self.move(0, now)
                return code
            self.held_move(allowed.index(direction), now)
        elif direction == "stop":
            self.move(0, now)
        return None

    def status(self, dgn: str) -> Signals:
        """SLIDE_STATUS."""
        locks = self.lockouts()

        def bit(name: str, reason: str) -> str:
            return (
                f"slide_shall_not_move_because_of_{reason}" if name in locks else "slide_may_move"
            )

        return {
            "motion": ("no_motion", "extending", "retracting")[self.motion],
            "position": round(self.position * 2) / 2,
            "lock_status": "slide_is_secured" if self.position == 0 else "slide_is_not_secured",
            "unlock_status": "slide_is_unlocked_and_ready_to_move",
            "user_lock_status": (
                "user_lock_is_activated" if self.user_lock else "user_lock_is_not_activated"
            ),
            "brake_status": "all_motor_brake_are_not_locked",
            "park_brake": bit("park_brake", "park_brake_status"),
            "leveling_jacks": "slide_may_move",
            "ignition_key": bit("ignition_key", "ignition_status"),
            "air_seal": "slide_may_move",
            "low_voltage": bit("low_voltage", "low_voltage_status"),
        }


class StepModel(_Travel):
    """A powered entry step (STEP_COMMAND / STEP_STATUS, spec 6.48): extends or retracts only
    while the commands repeat ("more than 100ms is detected between commands" stops it), stops
    on 1 Stop. The spec gives a step no lockout bits; a person on its local switch
    (``override``) gets NAK 8."""

    status_dgns = ("STEP_STATUS",)
    command_dgns = ("STEP_COMMAND",)
    node_kind = "step"
    product = "SimStep 1"
    speed = 50.0  # two seconds end to end
    # STEP_COMMAND / STEP_STATUS byte 1 (0 user switch, 1 door switch, 2 stay extended)
    MODES = (
        "step_extends_retracts_with_user_operated_switch",
        "step_will_extend_retract_with_the_door_switch",
        "step_will_stay_extended_regardless_of_door_position",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mode = 0
        self.amps = 6.0

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Direction stop/extend/retract; the operation mode (all ones: no change)."""
        direction = signals.get("direction_of_movement")
        mode = signals.get("step_operation_mode")
        if not label_ok(direction, ("stop", "extend", "retract")):
            return OUT_OF_RANGE
        if not label_ok(mode, self.MODES):
            return OUT_OF_RANGE
        if mode is not None:
            self.mode = self.MODES.index(mode)
        if direction in ("extend", "retract"):
            if (code := self.refuse()) is not None:
                self.move(0, now)
                return code
            self.held_move(("stop", "extend", "retract").index(direction), now)
        elif direction == "stop":
            self.move(0, now)
        return None

    def status(self, dgn: str) -> Signals:
        """STEP_STATUS: mode, motion (1 none, 2 extending, 3 retracting), position."""
        return {
            "step_operation_mode": self.MODES[self.mode],
            "motion": ("no_motion", "extending", "retracting")[self.motion],
            "position": round(self.position * 2) / 2,
            "obstruction_sensor_bottom": "no_obstruction_detected_at_underside_of_step",
            "obstruction_sensor_front_face": "no_obstruction_detected_at_front_face_of_step",
        }


# LEVELING_CONTROL_COMMAND / _STATUS jack bit names (6.13.2, 6.13.3) and LEVELING_JACK_STATUS
# extension/stability names (6.13.4) of the jacks a simulated system may have.
CORNERS = ("left_front", "right_front", "left_rear", "right_rear")
LEVELING_JACKS = (*CORNERS, "left_middle", "right_middle", "tongue")
BEARING_AT = 30.0  # % of stroke at which a jack's foot meets the ground (stability bit)
AUTO_LEVEL_AT = 45.0  # % each jack ends at after an automatic level


class LevelingModel(DeviceModel):
    """A hydraulic leveling system (LEVELING_CONTROL_COMMAND / _STATUS, LEVELING_JACK_STATUS).

    Manual modes move the jacks whose bits are On only while the command repeats (every
    100 ms, 6.13.3 "100 ms when manually controlling the system"); Inactive or Abort stops them.
    Automatic modes level (every jack to ``AUTO_LEVEL_AT``) and Store retracts all, by
    themselves. It announces its lockouts in LEVELING_CONTROL_STATUS byte 7 (park brake,
    ignition, low voltage) and answers NAK 3 to a move they forbid, NAK 8 while a person works
    its own panel (``override``).
    """

    status_dgns = ("LEVELING_CONTROL_STATUS", "LEVELING_JACK_STATUS")
    command_dgns = ("LEVELING_CONTROL_COMMAND",)
    node_kind = "leveling"
    product = "SimLevel HX"
    speed = 10.0  # % of stroke per second

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        jacks = self.spec.options.get("jacks")
        self.jacks = tuple(j for j in (jacks or CORNERS) if j in LEVELING_JACKS) or CORNERS
        start = float(self.spec.options.get("position", 0.0))
        self.extension = dict.fromkeys(self.jacks, start)
        self.moving = dict.fromkeys(self.jacks, 0)  # +1 extending, -1 retracting
        self.mode = 0  # the operating mode reported (table 6.13.2b)
        self.kind = "idle"  # idle, manual, auto, store
        self.repeat_until: float | None = None
        self.override = False
        self.repeats_missed = 0
        self.amps = float(self.spec.options.get("amps", 30.0))

    def lockouts(self) -> list[str]:
        """LEVELING_CONTROL_STATUS byte 7 lockouts in force (signal names)."""
        return world_lockouts(self.world)

    def _stop(self) -> None:
        self.moving = dict.fromkeys(self.jacks, 0)
        self.kind = "idle"
        self.mode = 0
        self.repeat_until = None

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Apply an operating mode: manual (jack bits), automatic, store, inactive, abort."""
        mode = signals.get("operating_mode")
        if not isinstance(mode, str):
            return OUT_OF_RANGE
        if mode in ("inactive", "abort_function"):
            self._stop()
            return None
        manual = mode.startswith("manual")
        moves = mode.startswith("automatic") or mode == "store_active" or manual
        if not moves:
            return None  # air-suspension modes, calibration, error clear: not simulated
        if self.override:
            self._stop()
            return OVERRIDDEN_BY_USER
        if self.lockouts():
            self._stop()
            return CONDITIONS_DO_NOT_ALLOW
        if manual:
            wanted = {}
            for jack in self.jacks:
                ext = signals.get(jack_signal(jack, "extend")) == "on"
                ret = signals.get(jack_signal(jack, "retract")) == "on"
                wanted[jack] = 1 if ext and not ret else -1 if ret and not ext else 0
            self.moving = wanted
            self.kind = "manual"
            self.mode = 71
            self.repeat_until = now + REPEAT_TIMEOUT
        elif mode == "store_active":
            self.moving = {j: -1 if self.extension[j] > 0 else 0 for j in self.jacks}
            self.kind, self.mode, self.repeat_until = "store", 3, None
        else:
            self.moving = {
                j: 1
                if self.extension[j] < AUTO_LEVEL_AT
                else -1
                if self.extension[j] > AUTO_LEVEL_AT
                else 0
                for j in self.jacks
            }
            self.kind, self.mode, self.repeat_until = "auto", 81, None
        return None

    def tick(self, now: float, dt: float) -> None:
        """Move the jacks; a manual move stops without repeats, every move on a lockout."""
        if self.kind == "manual" and self.repeat_until is not None and now > self.repeat_until:
            self.repeats_missed += 1
            self._stop()
        if self.kind != "idle" and self.lockouts():
            self._stop()
        for jack, direction in self.moving.items():
            if not direction:
                continue
            goal = AUTO_LEVEL_AT if self.kind == "auto" else 100.0 if direction > 0 else 0.0
            value = self.extension[jack] + direction * self.speed * dt
            if (direction > 0 and value >= goal) or (direction < 0 and value <= goal):
                value = goal
                self.moving[jack] = 0
            self.extension[jack] = min(100.0, max(0.0, value))
        if self.kind in ("auto", "store") and not any(self.moving.values()):
            self._stop()
        self.world.dc_loads[self.key] = self.amps if any(self.moving.values()) else 0.0

    def status(self, dgn: str) -> Signals:
        """LEVELING_CONTROL_STATUS or LEVELING_JACK_STATUS."""
        if dgn == "LEVELING_JACK_STATUS":
            out: Signals = {"jack_type": "straight_acting", "number_of_jacks": len(self.jacks)}
            for jack in CORNERS:
                if jack in self.extension:
                    out[f"extension_{jack}"] = (
                        "jack_is_extended" if self.extension[jack] > 0 else "no_action"
                    )
                    out[f"stability_{jack}"] = (
                        "pressure_detected" if self.extension[jack] >= BEARING_AT else "no_action"
                    )
            return out
        locks = self.lockouts()
        out = {
            "operating_mode": self.mode,
            "automatic_jack_stabilization_status": (
                "automatic_jack_stabilization_in_process"
                if self.kind == "auto"
                else "automatic_jack_stabilization_not_in_process"
            ),
            "excessive_slope_initial_warning": "no_warning",
            "excessive_slope_final_warning": "no_warning",
            "leveling_system_master_warning": (
                "warning" if any(v > 0 for v in self.extension.values()) else "no_warning"
            ),
            "park_brake": (
                "leveling_system_may_not_operate_because_of_park_brake_status"
                if "park_brake" in locks
                else "leveling_system_may_operate"
            ),
            "ignition_key": (
                "leveling_system_may_not_operate_because_of_ignition_status"
                if "ignition_key" in locks
                else "leveling_system_may_operate"
            ),
            "low_voltage": (
                "leveling_system_may_not_operate_because_of_low_voltage_status"
                if "low_voltage" in locks
                else "leveling_system_may_operate"
            ),
            "other_lockout": "leveling_system_may_operate",
        }
        for jack in self.jacks:
            direction = self.moving[jack]
            out[jack_status_signal(jack, "extend")] = "on" if direction > 0 else "off"
            out[jack_status_signal(jack, "retract")] = "on" if direction < 0 else "off"
        return out


SHADE_COMMANDS = ("stop", "forward", "reverse", "toggle_forward", "toggle_reverse", "tilt")


class ShadeModel(_Travel):
    """A window shade (WINDOW_SHADE_CONTROL_COMMAND / _STATUS): forward opens, reverse closes,
    each for the commanded duration."""

    status_dgns = ("WINDOW_SHADE_CONTROL_STATUS",)
    command_dgns = ("WINDOW_SHADE_CONTROL_COMMAND",)
    node_kind = "shades"
    product = "SimShade Window"
    speed = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last = "stop"
        self.locked = False
        self.amps = 1.5

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Forward/reverse (toggle) for ``duration`` seconds, stop, lock/unlock."""
        cmd = signals.get("command")
        duration = signals.get("duration")
        if not label_ok(cmd, (*SHADE_COMMANDS, "lock", "unlock")) or cmd is None:
            return OUT_OF_RANGE
        if cmd in ("lock", "unlock"):
            self.locked = cmd == "lock"
            self.last = cmd
            return None
        if cmd == "tilt":
            return None
        if self.locked:
            return CONDITIONS_DO_NOT_ALLOW
        self.last = cmd
        run = float(duration) if isinstance(duration, int | float) and duration > 0 else 20.0
        if cmd == "stop" or (cmd.startswith("toggle") and self.motion):
            self.move(0, now)
        else:
            self.move(1 if cmd.endswith("forward") else 2, now, run=run)
        return None

    def status(self, dgn: str) -> Signals:
        """WINDOW_SHADE_CONTROL_STATUS."""
        remaining = None
        if self.motion and self.stop_at is not None:
            remaining = max(0, min(250, round(self.stop_at - self._now)))
        return {
            "group": 0,
            "operating_status_motor_duty": 100.0 if self.motion else 0.0,
            "lock_status": "load_is_locked" if self.locked else "load_is_unlocked",
            "motor_status": (
                "either_forward_or_reverse_output_is_on"
                if self.motion
                else "neither_forward_nor_reverse_output_is_on"
            ),
            "forward_status": "forward_output_is_on"
            if self.motion == 1
            else "forward_output_not_on",
            "reverse_status": "reverse_output_is_on"
            if self.motion == 2
            else "reverse_output_not_on",
            "duration": remaining,
            "last_command": self.last,
            "overcurrent_status": "load_output_not_in_overcurrent",
            "override_status": "external_override_is_inactive",
            "disable1_status": "disable_1_is_not_active",
            "disable2_status": "disable_2_is_not_active",
        }

    _now = 0.0

    def tick(self, now: float, dt: float) -> None:
        """Travel and remember the time for the remaining duration."""
        self._now = now
        super().tick(now, dt)


class DoorLockModel(DeviceModel):
    """An entry door lock (DOOR_COMMAND / DOOR_STATUS)."""

    status_dgns = ("DOOR_STATUS",)
    command_dgns = ("DOOR_COMMAND",)
    node_kind = "doors"
    product = "SimLock 1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locked = True

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Lock or unlock (door movement is not supported: no answer)."""
        lock = signals.get("lock_command")
        if not label_ok(lock, ("unlocked", "locked")):
            return OUT_OF_RANGE
        if lock is not None:
            self.locked = lock == "locked"
        return None

    def status(self, dgn: str) -> Signals:
        """DOOR_STATUS."""
        return {
            "lock_status": "locked" if self.locked else "unlocked",
            "motion": "no_motion",
            "position": 0,
        }
