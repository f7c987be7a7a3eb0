"""Command encoders: a validated command -> the RV-C frames the specification prescribes.

An encoder returns a :class:`CommandPlan`: the frames (DGN name, signal values in the spec's
units or its labels, instance), a predicate over the entity's state that confirms the command
when the device reports it, and the state expected (the optional "optimistic" answer). Signals
not given are sent as all ones ("no change" / not available), as the specification prescribes.
Command codes are the specification's (hex in its tables): DC_DIMMER_COMMAND_2 0x00 Set Level,
0x01 ON (duration), 0x03 OFF, 0x04 Stop, 0x05 Toggle (table 6.24.6c).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from backend.core.entity_errors import CommandValidationError
from backend.core.entity_model import (
    CommandContext,
    CommandPlan,
    Encoder,
    FrameSpec,
    Repeat,
    State,
)

# DC_DIMMER_COMMAND_2 / DC_LOAD_COMMAND / AC_LOAD_COMMAND command codes (spec tables 6.24.6c, 6.23)
SET_LEVEL = 0x00
ON_DURATION = 0x01
OFF = 0x03
STOP = 0x04
TOGGLE = 0x05
# WINDOW_SHADE_CONTROL_COMMAND command codes (spec 6.39)
SHADE_FORWARD = 0x81
SHADE_REVERSE = 0x41
SHADE_STOP = 0x04
# Interlock A and B (bits 0 and 1 of the interlock field) cleared: act on this command alone
NO_INTERLOCK = 0
# A repeated motor command is sent at the spec's gap "100 ms when in motion" (6.14.2, 6.38.3)
MOTOR_REPEAT_INTERVAL = 0.1
BRIGHTNESS_STEP = 10.0
LEVEL_TOLERANCE = 0.5  # one raw step of a 0.5 % field
TEMPERATURE_TOLERANCE = 0.05  # above the 1/32 °C step of the temperature fields


def _frame(
    ctx: CommandContext, signals: Mapping[str, Any], instance: int | None = None
) -> FrameSpec:
    return FrameSpec(ctx.command_dgn, dict(signals), ctx.instance if instance is None else instance)


def _close(a: Any, b: float, tolerance: float) -> bool:
    return isinstance(a, int | float) and abs(a - b) <= tolerance


def _expect_equal(expected: State, tolerance: float = LEVEL_TOLERANCE):
    """A predicate: every expected key has the value (numbers within ``tolerance``)."""

    def check(state: State) -> bool:
        for key, value in expected.items():
            got = state.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                if not _close(got, value, tolerance):
                    return False
            elif got != value:
                return False
        return True

    return check


# --- lights and switched loads ------------------------------------------------------------------


def _target_level(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> float:
    """The level (0-100 %) a light or load command asks for."""
    current = ctx.state.get("brightness", ctx.state.get("level"))
    current = current if isinstance(current, int | float) else 0.0
    if name == "brightness_up":
        return min(100.0, current + BRIGHTNESS_STEP)
    if name == "brightness_down":
        return max(0.0, current - BRIGHTNESS_STEP)
    if "brightness" in args and "dimmable" not in ctx.capabilities:
        raise CommandValidationError(
            "brightness needs a dimmable light; this one accepts state on/off",
            allowed=["state"],
        )
    if args.get("state") == "off":
        return 0.0
    level = args.get("brightness", args.get("level"))
    if level is not None:
        return float(level)
    return 100.0


def _level_plan(ctx: CommandContext, name: str, args: Mapping[str, Any], key: str) -> CommandPlan:
    """Set level / OFF / Toggle on DC_DIMMER_COMMAND_2, DC_LOAD_COMMAND or AC_LOAD_COMMAND."""
    dimmer = ctx.command_dgn == "DC_DIMMER_COMMAND_2"
    level_signal = "desired_level_brightness" if dimmer else "desired_level"
    is_on = ctx.state.get("state") == "on"
    if name == "toggle":
        current = ctx.state.get(key)
        level = current if is_on and isinstance(current, int | float) and current > 0 else 100.0
        signals = {level_signal: level, "command": TOGGLE, "delay_duration": 0}
        expected: State = {"state": "off" if is_on else "on"}
        optimistic = dict(expected, **{key: 0.0 if is_on else level})
    else:
        level = _target_level(ctx, name, args)
        code = OFF if level == 0 else SET_LEVEL
        signals = {level_signal: level, "command": code, "delay_duration": 0}
        expected = {key: level}
        optimistic = {"state": "on" if level > 0 else "off", key: level}
    if dimmer:
        signals["group"] = None
    # Interlock A/B both 0 (DC_DIMMER_COMMAND_2 byte 5, DC/AC_LOAD_COMMAND byte 3 bits 2-3): a
    # command with either bit set waits for an identical one from another source (6.23.4).
    signals["interlock"] = NO_INTERLOCK
    return CommandPlan((_frame(ctx, signals),), _expect_equal(expected), optimistic)


def light(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """A light on a dimmer (DC_DIMMER_COMMAND_2) or a DC load (DC_LOAD_COMMAND)."""
    return _level_plan(ctx, name, args, "brightness")


def switched_load(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """A DC or AC load: on (level 100 %), off, toggle."""
    return _level_plan(ctx, name, args, "level")


def door_lock(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """DOOR_COMMAND lock command 1 (locked) / 0 (unlocked), no additional action."""
    target = "locked" if name == "lock" else "unlocked"
    signals = {"lock_command": target, "command": "no_additional_action"}
    return CommandPlan((_frame(ctx, signals),), _expect_equal({"state": target}), {"state": target})


# --- climate ------------------------------------------------------------------------------------


def _set_plan(
    ctx: CommandContext,
    args: Mapping[str, Any],
    signal_of: Mapping[str, str],
    state_of: Mapping[str, str],
    tolerance: float = LEVEL_TOLERANCE,
) -> CommandPlan:
    """Send the given arguments on their signals; confirmed when the state shows them."""
    signals = {signal_of[k]: v for k, v in args.items()}
    expected = {state_of.get(k, k): v for k, v in args.items()}
    return CommandPlan((_frame(ctx, signals),), _expect_equal(expected, tolerance), expected)


def thermostat(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """THERMOSTAT_COMMAND_1: operating mode, fan mode and speed, heat and cool setpoints."""
    if name == "set_mode":
        return _set_plan(ctx, args, {"mode": "operating_mode"}, {})
    if name == "set_fan":
        return _set_plan(ctx, args, {"fan_mode": "fan_mode", "fan_speed": "fan_speed"}, {})
    return _set_plan(
        ctx,
        args,
        {"heat": "setpoint_temp_heat", "cool": "setpoint_temp_cool"},
        {"heat": "setpoint_heat", "cool": "setpoint_cool"},
        TEMPERATURE_TOLERANCE,
    )


def air_conditioner(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """AIR_CONDITIONER_COMMAND: mode, fan speed, output level and their maxima."""
    return _set_plan(
        ctx,
        args,
        {
            "mode": "operating_mode",
            "fan_speed": "fan_speed",
            "output_level": "air_conditioning_output_level",
            "max_fan_speed": "max_fan_speed",
            "max_output_level": "max_air_conditioning_output_level",
        },
        {},
    )


def furnace(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """FURNACE_COMMAND: mode, circulation fan speed, heat output level."""
    return _set_plan(
        ctx,
        args,
        {
            "mode": "operating_mode",
            "fan_speed": "circulation_fan_speed",
            "output_level": "heat_output_level",
        },
        {},
    )


def heat_pump(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """HEAT_PUMP_COMMAND: mode, fan speed, heat output level."""
    return _set_plan(
        ctx,
        args,
        {"mode": "operating_mode", "fan_speed": "fan_speed", "output_level": "heat_output_level"},
        {},
    )


# --- power and water ----------------------------------------------------------------------------

_GENERATOR_STARTING = ("preheat", "cranking", "running", "priming")


def generator(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """GENERATOR_COMMAND 1 start / 0 stop; start is confirmed by preheat, cranking or running."""
    frame = _frame(ctx, {"command": name})
    if name == "start":
        return CommandPlan(
            (frame,), lambda s: s.get("status") in _GENERATOR_STARTING, {"status": "starting"}
        )
    return CommandPlan((frame,), _expect_equal({"status": "stopped"}), {"status": "stopped"})


def inverter(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """INVERTER_COMMAND inverter enable 1 / disable 0."""
    on = name == "enable"
    frame = _frame(ctx, {"inverter_enable": "enable_inverter" if on else "disable"})
    return CommandPlan((frame,), _expect_equal({"enabled": on}), {"enabled": on})


def charger(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """CHARGER_COMMAND status 1 enable charger / 0 disable."""
    on = name == "enable"
    frame = _frame(ctx, {"status": "enable_charger" if on else "disable"})
    return CommandPlan((frame,), _expect_equal({"enabled": on}), {"enabled": on})


def water_heater(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """WATERHEATER_COMMAND: operating mode or setpoint temperature."""
    if name == "set_mode":
        return _set_plan(ctx, args, {"mode": "operating_modes"}, {})
    return _set_plan(
        ctx,
        args,
        {"temperature": "set_point_temperature"},
        {"temperature": "setpoint"},
        TEMPERATURE_TOLERANCE,
    )


def water_pump(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """WATER_PUMP_COMMAND command 1 enable (standby) / 0 disable."""
    on = ctx.state.get("state") != "on" if name == "toggle" else args.get("state") == "on"
    frame = _frame(ctx, {"command": "enable_pump_standby" if on else "disable_pump"})
    target = "on" if on else "off"
    return CommandPlan((frame,), _expect_equal({"state": target}), {"state": target})


# --- motors -------------------------------------------------------------------------------------

_DIRECTION = {"extend": "extending", "retract": "retracting", "open": "opening", "close": "closing"}


def native_motor(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """AWNING_COMMAND / SLIDE_COMMAND direction 1 extend, 2 retract, 0 stop.

    A manual move is repeated every 100 ms ("100 ms when in motion", 3.2.4.5) while its hold
    lease lives (``ctx.hold``), for at most the motor run duration, then ended with a stop; a
    device whose firmware runs the whole move (``self_run``) gets the command once.
    """
    stop = _frame(ctx, {"direction_of_movement": "stop"})
    if name == "stop":
        return CommandPlan((stop,), _expect_equal({"motion": "stopped"}), {"motion": "stopped"})
    return _held_move(ctx, _frame(ctx, {"direction_of_movement": name}), name, stop)


def _held_move(ctx: CommandContext, frame: FrameSpec, name: str, stop: FrameSpec) -> CommandPlan:
    """A manual move: ``frame`` repeated every 100 ms while the hold lease lives (``ctx.hold``),
    for at most the motor run duration, then ended with ``stop``."""
    motion = _DIRECTION[name]
    repeat = Repeat(MOTOR_REPEAT_INTERVAL, float(ctx.motor_run_seconds), (stop,))
    return CommandPlan(
        (frame,),
        _expect_equal({"motion": motion}),
        {"motion": motion},
        repeat if ctx.hold else None,
    )


# A held dimmer-pair motor is switched on for this long at each repeat, so the dimmer itself
# stops it within a second when the repeats stop (CoachIQ gone); DC_DIMMER_COMMAND_2 byte 4.
HOLD_DIMMER_SECONDS = 1


def dimmer_pair(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """A motor on two DC_DIMMER_COMMAND_2 outputs: Stop (0x04) the other, ON (duration) this one.

    Held (slides, awnings): ON for 1 s, repeated every 100 ms while the lease lives, then Stop
    on both outputs. Not held (shades): ON for the motor run duration; the dimmer turns its
    output off after it (max 240 s, spec 6.24.6).
    """

    def dimmer(instance: int, code: int, level: float | None, duration: int | None) -> FrameSpec:
        signals = {
            "group": None,
            "desired_level_brightness": level,
            "command": code,
            "delay_duration": duration,
            "interlock": NO_INTERLOCK,
        }
        return FrameSpec(ctx.command_dgn, signals, instance)

    roles = list(ctx.instances)
    stops = tuple(dimmer(ctx.instances[r], STOP, None, 0) for r in roles)
    if name == "stop":
        expected = {f"{r}_output": False for r in roles}
        return CommandPlan(stops, _expect_equal(expected), {"motion": "stopped"})
    other = [r for r in roles if r != name]
    duration = HOLD_DIMMER_SECONDS if ctx.hold else ctx.motor_run_seconds
    frames = (
        *(dimmer(ctx.instances[r], STOP, None, 0) for r in other),
        dimmer(ctx.instances[name], ON_DURATION, 100, duration),
    )
    motion = _DIRECTION[name]
    repeat = Repeat(
        MOTOR_REPEAT_INTERVAL,
        float(ctx.motor_run_seconds),
        stops,
        done=lambda state: state.get(f"{name}_output") is False,
    )
    return CommandPlan(
        frames,
        _expect_equal({f"{name}_output": True}),
        {"motion": motion},
        repeat if ctx.hold else None,
    )


def shade(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """WINDOW_SHADE_CONTROL_COMMAND: 0x81 forward (open), 0x41 reverse (close), 0x04 stop.

    Forward and reverse carry the motor run duration in seconds, so the controller stops itself.
    Interlock A and B (byte 5 bits 0-1) are 0: with either set, the controller would wait for an
    identical command from another source (6.39.3); the reserved bits 2-7 stay 1.
    """
    if name == "stop":
        frame = _frame(ctx, {"command": SHADE_STOP, "duration": 0, "interlock": NO_INTERLOCK})
        return CommandPlan((frame,), _expect_equal({"motion": "stopped"}), {"motion": "stopped"})
    code = SHADE_FORWARD if name == "open" else SHADE_REVERSE
    signals = {
        "motor_duty": 100,
        "command": code,
        "duration": ctx.motor_run_seconds,
        "interlock": NO_INTERLOCK,
    }
    motion = _DIRECTION[name]
    return CommandPlan(
        (_frame(ctx, signals),), _expect_equal({"motion": motion}), {"motion": motion}
    )


LID_POSITIONS = ("closed", "1_4_open", "1_2_open", "3_4_open", "open")  # ROOF_FAN_STATUS_1


def _lid_moving_to(target: str, start: Any):
    """A predicate: the lid is at ``target`` or has moved from ``start`` toward it.

    ROOF_FAN_STATUS_1 reports the dome in quarters and no motion, so a move is seen as a
    position between ``start`` and ``target`` (any position between the ends when ``start`` is
    not known).
    """
    goal = LID_POSITIONS.index(target)
    origin = LID_POSITIONS.index(start) if start in LID_POSITIONS else None

    def check(state: State) -> bool:
        lid = state.get("lid")
        if lid not in LID_POSITIONS:
            return False
        at = LID_POSITIONS.index(lid)
        if at == goal:
            return True
        if origin is None:
            return 0 < at < len(LID_POSITIONS) - 1
        return (at - origin) * (goal - origin) > 0

    return check


def roof_fan(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """ROOF_FAN_COMMAND_1: system on/off, speed, direction (air in/out), lid (dome) open/closed.

    The lid is a motor load: its command is confirmed when the status shows the lid moving
    toward the target (it travels a quarter at a time), and after the motor run duration a
    dome ``stop`` (5) is sent, so a lost connection never leaves it running. A command without
    ``lid`` leaves a moving lid's run alone.
    """
    signals: dict[str, Any] = {}
    expected: State = {}
    if "state" in args:
        signals["system_status"] = args["state"]
        expected["state"] = args["state"]
    if "speed" in args:
        signals["fan_speed_setting"] = args["speed"]
        expected["speed"] = args["speed"]
    if "direction" in args:
        signals["wind_direction_switch"] = args["direction"]
        expected["direction"] = args["direction"]
    if "lid" not in args:
        return CommandPlan(
            (_frame(ctx, signals),), _expect_equal(expected), expected, keeps_motor=True
        )
    target = "open" if args["lid"] == "open" else "closed"
    signals["dome_position_deprecated"] = "open" if target == "open" else "close"
    settings_confirmed = _expect_equal(expected)
    lid_moving = _lid_moving_to(target, ctx.state.get("lid"))
    stop = _frame(ctx, {"dome_position_deprecated": "stop"})
    run = Repeat(
        MOTOR_REPEAT_INTERVAL,
        float(ctx.motor_run_seconds),
        (stop,),
        resend=False,
        done=lambda state: state.get("lid") == target,
    )
    return CommandPlan(
        (_frame(ctx, signals),),
        lambda state: settings_confirmed(state) and lid_moving(state),
        {**expected, "lid": target},
        run,
    )


def date_time(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """SET_DATE_TIME_COMMAND from an ISO 8601 local date and time; the time zone is not changed.

    Confirmed when DATE_TIME_STATUS reports a time within two minutes of the one set.
    """
    text = args["datetime"]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandValidationError(
            f"set: datetime={text!r} is not ISO 8601 (e.g. 2024-06-03T14:32:56)",
            allowed=["datetime"],
        ) from None
    if not 2000 <= when.year <= 2250:
        raise CommandValidationError(
            f"set: year {when.year} is not allowed; RV-C carries 2000 to 2250", allowed=["datetime"]
        )
    signals = {
        "year": when.year,
        "month": when.month,
        "day_of_month": when.day,
        "day_of_week": (when.isoweekday() % 7) + 1,  # spec: 1 = Sunday
        "hour": when.hour,
        "minute": when.minute,
        "second": when.second,
    }
    target = when.replace(tzinfo=None, microsecond=0)

    def check(state: State) -> bool:
        value = state.get("datetime")
        if not isinstance(value, str):
            return False
        try:
            return abs((datetime.fromisoformat(value) - target).total_seconds()) <= 120
        except ValueError:
            return False

    return CommandPlan((_frame(ctx, signals),), check, {"datetime": target.isoformat()})


# --- leveling (LEVELING_CONTROL_COMMAND 1FFEE, spec 6.13.3) ------------------------------------

# Jacks as the spec addresses them (table 6.13.3b), in its byte order. A three-point system's
# front jack is addressed on the left-front bits.
LEVELING_JACKS = (
    "left_rear",
    "right_front",
    "right_rear",
    "left_front",
    "left_middle",
    "right_middle",
    "tongue",
)
CORNER_JACKS = ("left_front", "right_front", "left_rear", "right_rear")
THREE_POINT_JACKS = frozenset({"left_front", "left_rear", "right_rear"})
# Groups a manual move may name besides one jack: the spec's command moves any set of jacks at
# once (one bit pair per jack).
JACK_GROUPS: dict[str, frozenset[str]] = {
    "all": frozenset(LEVELING_JACKS),
    "front": frozenset({"left_front", "right_front"}),
    "rear": frozenset({"left_rear", "right_rear"}),
    "left": frozenset({"left_front", "left_middle", "left_rear"}),
    "right": frozenset({"right_front", "right_middle", "right_rear"}),
}
# Operating modes (table 6.13.3b) by system (control) and layout: (manual, automatic).
LEVELING_MODES: dict[tuple[str, str], tuple[int, int]] = {
    ("hydraulic", "four_point"): (71, 81),
    ("hydraulic", "three_point"): (73, 83),
    ("hydraulic", "multi_point"): (74, 84),
    ("air", "four_point"): (41, 51),
    ("air", "three_point"): (43, 53),
    ("air", "multi_point"): (44, 54),
}
LEVELING_STORE = 3  # "Store active (store jacks/go to ride height)"
LEVELING_ABORT = 11  # "Abort Function": ends a manual or an automatic move
JACK_OFF = 0  # 00b Off
JACK_ON = 1  # 01b On


def leveling_layout(jacks: Iterable[str]) -> str:
    """``four_point``, ``three_point`` or ``multi_point`` for a system's set of jacks."""
    names = set(jacks)
    if names == THREE_POINT_JACKS:
        return "three_point"
    if names <= set(CORNER_JACKS):
        return "four_point"
    return "multi_point"


def jack_signal(jack: str, direction: str) -> str:
    """The LEVELING_CONTROL_COMMAND signal of one jack's extend or retract bit pair."""
    if jack == "tongue":
        return f"jack_{direction}_tongue"
    if direction == "extend":
        return f"jack_extend_or_air_spring_fill_{jack}"
    return f"jack_retract_or_air_spring_dump_{jack}"


def _system_jacks(ctx: CommandContext) -> tuple[str, ...]:
    jacks = ctx.attributes.get("jacks")
    return tuple(jacks) if isinstance(jacks, list | tuple) and jacks else CORNER_JACKS


def _leveling_frame(ctx: CommandContext, mode: int, on: Mapping[str, str]) -> FrameSpec:
    """Operating mode plus every jack's extend and retract bits: On for ``on`` (jack ->
    direction), Off for the rest."""
    signals: dict[str, Any] = {"operating_mode": mode}
    for jack in LEVELING_JACKS:
        for direction in ("extend", "retract"):
            signals[jack_signal(jack, direction)] = (
                JACK_ON if on.get(jack) == direction else JACK_OFF
            )
    return FrameSpec(ctx.command_dgn, signals, None)


def leveling(system: str) -> Encoder:
    """The encoder of a ``hydraulic`` or ``air`` leveling system (see :func:`_leveling`)."""

    def encode(ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
        return _leveling(system, ctx, name, args)

    return encode


def _leveling(system: str, ctx: CommandContext, name: str, args: Mapping[str, Any]) -> CommandPlan:
    """LEVELING_CONTROL_COMMAND (6.13.3): manual jack moves, automatic level, store, stop.

    ``extend``/``retract`` send the manual mode of the system (hydraulic 71/73/74, air 41/43/44
    for four-point, three-point, multi-point) with the named jack's (or group's) bits On (01b)
    and every other bit Off; held, the frame is repeated every 100 ms ("100 ms when manually
    controlling the system") and ended with ``stop``. ``stop`` is mode 11 "Abort Function" with
    every jack Off. ``auto_level`` (automatic mode 81/83/84 or 51/53/54) and ``store`` (mode 3)
    are sent once: the system's firmware runs them.
    """
    jacks = _system_jacks(ctx)
    manual, automatic = LEVELING_MODES[(system, leveling_layout(jacks))]
    stop = _leveling_frame(ctx, LEVELING_ABORT, {})
    if name == "stop":
        return CommandPlan((stop,), _expect_equal({"motion": "stopped"}), {"motion": "stopped"})
    if name in ("auto_level", "store"):
        mode = automatic if name == "auto_level" else LEVELING_STORE
        motion = "leveling" if name == "auto_level" else "retracting"
        return CommandPlan(
            (_leveling_frame(ctx, mode, {}),),
            lambda state: state.get("motion") not in (None, "stopped"),
            {"motion": motion},
        )
    target = args.get("jack", "all")
    chosen = JACK_GROUPS.get(target, frozenset({target}))
    moving = [j for j in jacks if j in chosen]
    if not moving:
        raise CommandValidationError(
            f"{name}: jack={target!r} names no jack of this system; its jacks: " + ", ".join(jacks),
            argument="jack",
            allowed=list(jacks),
        )
    return _held_move(ctx, _leveling_frame(ctx, manual, dict.fromkeys(moving, name)), name, stop)
