"""Motors: awnings, slides and window shades run until their end of travel, their commanded
duration or a stop.

Slides and awnings moved by direction (a manual move) keep moving only while the commander
repeats the command (every 100 ms, spec 3.2.4.5): without a repeat for ``REPEAT_TIMEOUT`` they
stop, "in the safest manner possible". They announce their lockouts in their status (park brake,
ignition, low voltage, user lock) and answer NAK 3 (conditions do not allow) to a move a lockout
forbids, and NAK 8 (overridden by user) while a person holds their local switch (``override``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.services.simulator.model import (
    CONDITIONS_DO_NOT_ALLOW,
    OUT_OF_RANGE,
    OVERRIDDEN_BY_USER,
    DeviceModel,
    Signals,
    label_ok,
    percent_ok,
)

MAX_RUN_S = 240.0
REPEAT_TIMEOUT = 0.5  # a manual move stops this long after the last repeated command
LOW_VOLTAGE_SOC = 10.0  # house battery state of charge below which motors are locked out


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
        world = self.world
        out: list[str] = []
        if not self.travel_lockouts:
            return out
        if not world.parked:
            out.append("park_brake")
        if world.ignition_on:
            out.append("ignition_key")
        if world.house_soc < LOW_VOLTAGE_SOC:
            out.append("low_voltage")
        return out

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
