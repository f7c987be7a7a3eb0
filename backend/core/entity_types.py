"""The entity type table: for every type of RV device, how it is reported and controlled.

Data, not classes: each :class:`EntityType` lists its controls (ways a coach wires it; the first
is the default), each control its status DGNs with a reader, its command DGN with the commands it
accepts and their encoder. ``ENTITY_TYPES`` is the one table the mapping loader, the manager,
the service and ``GET /api/entities/metadata`` read.
"""

from __future__ import annotations

from collections.abc import Mapping

from backend.core import entity_commands as cmd
from backend.core import entity_readers as rd
from backend.core.entity_model import (
    Arg,
    CommandSpec,
    Control,
    Encoder,
    EntityType,
    Reader,
    State,
)

# --- arguments shared by several commands -------------------------------------------------------

ON_OFF = Arg("state", "enum", ("on", "off"), description="on or off")
PERCENT_BRIGHTNESS = Arg("brightness", "number", minimum=0, maximum=100, unit="%")


def _percent(name: str, description: str = "") -> Arg:
    return Arg(name, "number", minimum=0, maximum=100, unit="%", description=description)


def _celsius(name: str, low: float, high: float, description: str = "") -> Arg:
    return Arg(name, "number", minimum=low, maximum=high, unit="°C", description=description)


SET_ON_OFF = CommandSpec("set", "Switch on or off.", (ON_OFF,), needs_one_of=True)
# ISO 8601 local date and time in the years RV-C carries (2000-2250), seconds optional.
COACH_DATETIME = (
    r"^(2[01][0-9]{2}|22[0-4][0-9]|2250)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
)
TOGGLE = CommandSpec("toggle", "Switch to the other state.")

LIGHT_COMMANDS = (
    CommandSpec(
        "set",
        "Switch on or off; a dimmable light also takes a brightness (0 switches off).",
        (ON_OFF, PERCENT_BRIGHTNESS),
        needs_one_of=True,
    ),
    TOGGLE,
    CommandSpec("brightness_up", "Brighter by 10 %.", requires="dimmable"),
    CommandSpec("brightness_down", "Dimmer by 10 % (0 switches off).", requires="dimmable"),
)

AUTO_MANUAL = ("automatic", "manual")


def _motor_commands(forward: str, backward: str) -> tuple[CommandSpec, ...]:
    return (
        CommandSpec(forward, f"{forward.title()} for at most the motor run duration."),
        CommandSpec(backward, f"{backward.title()} for at most the motor run duration."),
        CommandSpec("stop", "Stop the motor (always accepted).", always_allowed=True),
    )


def _pair_motion(forward: str, backward: str, moving: tuple[str, str]):
    """Derive ``motion`` of a ``dimmer_pair`` motor from its two outputs."""

    def derive(state: State) -> State:
        if state.get(f"{forward}_output"):
            return {"motion": moving[0]}
        if state.get(f"{backward}_output"):
            return {"motion": moving[1]}
        if f"{forward}_output" in state or f"{backward}_output" in state:
            return {"motion": "stopped"}
        return {}

    return derive


def _dimmer_pair(forward: str, backward: str, moving: tuple[str, str]) -> Control:
    return Control(
        "dimmer_pair",
        {"DC_DIMMER_STATUS_3": rd.dimmer_output},
        "DC_DIMMER_COMMAND_2",
        _motor_commands(forward, backward),
        cmd.dimmer_pair,
        roles=(forward, backward),
        derive=_pair_motion(forward, backward, moving),
    )


JACK_CHOICES = (*cmd.LEVELING_JACKS, *cmd.JACK_GROUPS)


def _leveling_control(system: str) -> Control:
    """A ``hydraulic`` or ``air`` leveling system on LEVELING_CONTROL_COMMAND (6.13.3)."""
    jack = Arg(
        "jack",
        "enum",
        JACK_CHOICES,
        description="one jack (air spring), or a group: all (default), front, rear, left, right",
    )
    return Control(
        system,
        {
            "LEVELING_CONTROL_STATUS": rd.leveling_control,
            "LEVELING_JACK_STATUS": rd.leveling_jacks,
            "LEVELING_AIR_STATUS": rd.leveling_air,
        },
        "LEVELING_CONTROL_COMMAND",
        (
            CommandSpec("extend", "Extend the jack(s) while held (manual mode).", (jack,)),
            CommandSpec("retract", "Retract the jack(s) while held (manual mode).", (jack,)),
            CommandSpec("stop", "Stop (Abort Function; always accepted).", always_allowed=True),
            CommandSpec(
                "auto_level",
                "Level the coach automatically (the system's firmware runs the whole move).",
                requires="self_run",
            ),
            CommandSpec(
                "store",
                "Retract all jacks to ride height (the system's firmware runs the whole move).",
                requires="self_run",
            ),
        ),
        cmd.leveling(system),
    )


def _heater(
    name: str, description: str, dgn_stem: str, reader: Reader, encoder: Encoder
) -> EntityType:
    """A furnace-like type: <STEM>_STATUS / <STEM>_COMMAND with mode, fan speed, heat output."""
    command = CommandSpec(
        "set",
        "Set mode, fan speed and/or heat output level.",
        (Arg("mode", "enum", AUTO_MANUAL), _percent("fan_speed"), _percent("output_level")),
        needs_one_of=True,
    )
    control = Control(
        name, {f"{dgn_stem}_STATUS": reader}, f"{dgn_stem}_COMMAND", (command,), encoder
    )
    units = {"fan_speed": "%", "output_level": "%", "dead_band": "K"}
    if name == "heat_pump":
        units["max_output_level"] = "%"
    return EntityType(name, description, (control,), units)


def _load_control(name: str, status: str, command: str) -> Control:
    return Control(name, {status: rd.load}, command, (SET_ON_OFF, TOGGLE), cmd.switched_load)


_AC_POINT_STATUS = (
    "CHARGER_AC_STATUS_1",
    "INVERTER_AC_STATUS_1",
    "GENERATOR_AC_STATUS_1",
    "ATS_AC_STATUS_1",
    "GENERIC_AC_STATUS_1",
)

_TYPES: tuple[EntityType, ...] = (
    EntityType(
        "light",
        "A light: on/off, and 0-100 % brightness when dimmable.",
        (
            Control(
                "dimmer",
                {"DC_DIMMER_STATUS_3": rd.dimmer_light},
                "DC_DIMMER_COMMAND_2",
                LIGHT_COMMANDS,
                cmd.light,
            ),
            Control(
                "dc_load",
                {"DC_LOAD_STATUS": rd.load_light},
                "DC_LOAD_COMMAND",
                LIGHT_COMMANDS,
                cmd.light,
            ),
        ),
        {"brightness": "%"},
    ),
    EntityType(
        "dc_load",
        "A switched DC load.",
        (
            _load_control("dc_load", "DC_LOAD_STATUS", "DC_LOAD_COMMAND"),
            Control(
                "dimmer",
                {"DC_DIMMER_STATUS_3": rd.dimmer_light},
                "DC_DIMMER_COMMAND_2",
                (SET_ON_OFF, TOGGLE),
                cmd.light,
            ),
        ),
        {"level": "%", "current": "A", "brightness": "%"},
    ),
    EntityType(
        "ac_load",
        "A switched AC load.",
        (_load_control("ac_load", "AC_LOAD_STATUS", "AC_LOAD_COMMAND"),),
        {"level": "%", "current": "A"},
    ),
    EntityType(
        "lock",
        "A door lock.",
        (
            Control(
                "door",
                {"DOOR_STATUS": rd.door_lock},
                "DOOR_COMMAND",
                (CommandSpec("lock", "Lock."), CommandSpec("unlock", "Unlock.")),
                cmd.door_lock,
            ),
        ),
        {"position": "%"},
    ),
    EntityType(
        "tank",
        "A tank (fresh, black, gray, LPG): level %, litres, capacity.",
        (Control("tank", {"TANK_STATUS": rd.tank}),),
        {"level": "%", "volume_l": "L", "capacity_l": "L"},
    ),
    EntityType(
        "battery",
        "A battery or other DC source: voltage, current, state of charge, temperature.",
        (
            Control(
                "dc_source",
                {"DC_SOURCE_STATUS_1": rd.dc_source_1, "DC_SOURCE_STATUS_2": rd.dc_source_2},
            ),
        ),
        {
            "voltage": "V",
            "current": "A",
            "state_of_charge": "%",
            "temperature": "°C",
            "time_remaining_min": "min",
        },
    ),
    EntityType(
        "thermostat",
        "A climate zone's thermostat: mode, fan, setpoints, ambient temperature.",
        (
            Control(
                "thermostat",
                {
                    "THERMOSTAT_STATUS_1": rd.thermostat,
                    "THERMOSTAT_AMBIENT_STATUS": rd.thermostat_ambient,
                },
                "THERMOSTAT_COMMAND_1",
                (
                    CommandSpec(
                        "set_mode",
                        "Set the operating mode.",
                        (
                            Arg(
                                "mode",
                                "enum",
                                (
                                    "off",
                                    "cool",
                                    "heat",
                                    "auto_heat_cool",
                                    "fan_only",
                                    "aux_heat",
                                    "window_defrost_dehumidify",
                                ),
                                required=True,
                            ),
                        ),
                    ),
                    CommandSpec(
                        "set_fan",
                        "Set the fan mode and/or speed.",
                        (Arg("fan_mode", "enum", ("auto", "on")), _percent("fan_speed")),
                        needs_one_of=True,
                    ),
                    CommandSpec(
                        "set_setpoint",
                        "Set the heat and/or cool setpoint.",
                        (_celsius("heat", 0, 40), _celsius("cool", 0, 40)),
                        needs_one_of=True,
                    ),
                ),
                cmd.thermostat,
            ),
        ),
        {
            "fan_speed": "%",
            "setpoint_heat": "°C",
            "setpoint_cool": "°C",
            "ambient_temperature": "°C",
        },
    ),
    EntityType(
        "air_conditioner",
        "A roof air conditioner: mode, fan speed, output level.",
        (
            Control(
                "air_conditioner",
                # AIR_CONDITIONER_COMMAND has the status layout: a coach whose own controller
                # commands the units (and whose units do not report) is read from its commands.
                {
                    "AIR_CONDITIONER_STATUS": rd.air_conditioner,
                    "AIR_CONDITIONER_COMMAND": rd.air_conditioner,
                },
                "AIR_CONDITIONER_COMMAND",
                (
                    CommandSpec(
                        "set",
                        "Set mode, fan speed, output level and/or their maxima.",
                        (
                            Arg("mode", "enum", AUTO_MANUAL),
                            _percent("fan_speed"),
                            _percent("output_level"),
                            _percent("max_fan_speed"),
                            _percent("max_output_level"),
                        ),
                        needs_one_of=True,
                    ),
                ),
                cmd.air_conditioner,
                default_status=("AIR_CONDITIONER_STATUS",),
            ),
        ),
        {
            "fan_speed": "%",
            "output_level": "%",
            "max_fan_speed": "%",
            "max_output_level": "%",
            "dead_band": "K",
            "second_stage_dead_band": "K",
        },
    ),
    _heater(
        "furnace",
        "A furnace: mode, circulation fan speed, heat output.",
        "FURNACE",
        rd.furnace,
        cmd.furnace,
    ),
    _heater(
        "heat_pump",
        "A heat pump: mode, fan speed, heat output.",
        "HEAT_PUMP",
        rd.heat_pump,
        cmd.heat_pump,
    ),
    EntityType(
        "generator",
        "A generator: status, run time, load, start battery; start and stop.",
        (
            Control(
                "generator",
                {"GENERATOR_STATUS_1": rd.generator_1, "GENERATOR_STATUS_2": rd.generator_2},
                "GENERATOR_COMMAND",
                (CommandSpec("start", "Start the generator."), CommandSpec("stop", "Stop it.")),
                cmd.generator,
                default_status=("GENERATOR_STATUS_1",),
            ),
        ),
        {
            "run_time_h": "h",
            "load": "%",
            "start_battery_voltage": "V",
            "rpm": "rpm",
            "coolant_temperature": "°C",
            "oil_pressure_kpa": "kPa",
            "fuel_rate_l_h": "L/h",
        },
    ),
    EntityType(
        "inverter",
        "An inverter: status, AC output; enable and disable.",
        (
            Control(
                "inverter",
                {"INVERTER_STATUS": rd.inverter, "INVERTER_AC_STATUS_1": rd.inverter_output},
                "INVERTER_COMMAND",
                (CommandSpec("enable", "Enable inverting."), CommandSpec("disable", "Disable.")),
                cmd.inverter,
                default_status=("INVERTER_STATUS",),
            ),
        ),
        {"ac_voltage": "V", "ac_current": "A", "ac_frequency": "Hz"},
    ),
    EntityType(
        "charger",
        "A charger (converter): state, voltage, current; enable and disable.",
        (
            Control(
                "charger",
                {"CHARGER_STATUS": rd.charger},
                "CHARGER_COMMAND",
                (CommandSpec("enable", "Enable charging."), CommandSpec("disable", "Disable.")),
                cmd.charger,
            ),
        ),
        {"voltage": "V", "current": "A", "percent_of_max": "%"},
    ),
    EntityType(
        "ac_input",
        "An AC input or output point: voltage, current, frequency, faults.",
        (
            Control(
                "ac_point",
                dict.fromkeys(_AC_POINT_STATUS, rd.ac_point),
                default_status=("CHARGER_AC_STATUS_1",),
            ),
        ),
        {"voltage": "V", "current": "A", "frequency": "Hz"},
    ),
    EntityType(
        "transfer_switch",
        "An automatic transfer switch: source in use, voltage, current, frequency.",
        (
            Control(
                "ats",
                {"ATS_STATUS": rd.ats, "ATS_AC_STATUS_1": rd.ac_point},
                default_status=("ATS_STATUS",),
            ),
        ),
        {"voltage": "V", "current": "A", "frequency": "Hz"},
        unitless={"source": "the number of the source in use; its spec name is source_name"},
    ),
    EntityType(
        "solar_controller",
        "A solar charge controller: state, voltage, current.",
        (Control("solar", {"SOLAR_CONTROLLER_STATUS": rd.solar}),),
        {"voltage": "V", "current": "A", "percent_of_max": "%"},
    ),
    EntityType(
        "water_heater",
        "A water heater: mode, setpoint, water temperature, burner and element.",
        (
            Control(
                "water_heater",
                {"WATERHEATER_STATUS": rd.water_heater},
                "WATERHEATER_COMMAND",
                (
                    CommandSpec(
                        "set_mode",
                        "Set the operating mode.",
                        (
                            Arg(
                                "mode",
                                "enum",
                                ("off", "combustion", "electric", "gas_electric_both", "automatic"),
                                required=True,
                            ),
                        ),
                    ),
                    CommandSpec(
                        "set_setpoint",
                        "Set the water temperature setpoint.",
                        (_celsius("temperature", 0, 100, "°C"),),
                        needs_one_of=True,
                    ),
                ),
                cmd.water_heater,
            ),
        ),
        {"setpoint": "°C", "water_temperature": "°C"},
    ),
    EntityType(
        "water_pump",
        "The fresh water pump: on (enabled) / off, running, pressure.",
        (
            Control(
                "water_pump",
                {"WATER_PUMP_STATUS": rd.water_pump},
                "WATER_PUMP_COMMAND",
                (SET_ON_OFF, TOGGLE),
                cmd.water_pump,
            ),
        ),
        {"pressure_kpa": "kPa", "current": "A"},
    ),
    EntityType(
        "awning",
        "An awning: extend, retract, stop; position when reported.",
        (
            Control(
                "native",
                {"AWNING_STATUS": rd.motor},
                "AWNING_COMMAND",
                _motor_commands("extend", "retract"),
                cmd.native_motor,
            ),
            _dimmer_pair("extend", "retract", ("extending", "retracting")),
        ),
        {"position": "%"},
    ),
    EntityType(
        "slide",
        "A slide room: extend, retract, stop.",
        (
            Control(
                "native",
                {"SLIDE_STATUS": rd.motor},
                "SLIDE_COMMAND",
                _motor_commands("extend", "retract"),
                cmd.native_motor,
            ),
            _dimmer_pair("extend", "retract", ("extending", "retracting")),
        ),
        {"position": "%"},
    ),
    EntityType(
        "leveling",
        "A leveling system and its jacks (or air springs): hold extend/retract on one jack or a "
        "group, stop; auto level and store when its firmware runs them (self_run).",
        (_leveling_control("hydraulic"), _leveling_control("air")),
        unitless={"number_of_jacks": "how many jacks the system reports", "jacks_down": "count"},
    ),
    EntityType(
        "step",
        "A powered entry step: extend, retract, stop; position when reported.",
        (
            Control(
                "native",
                {"STEP_STATUS": rd.step},
                "STEP_COMMAND",
                _motor_commands("extend", "retract"),
                cmd.native_motor,
            ),
        ),
        {"position": "%"},
    ),
    EntityType(
        "shade",
        "A window shade: open, close, stop.",
        (
            Control(
                "shade",
                {"WINDOW_SHADE_CONTROL_STATUS": rd.shade},
                "WINDOW_SHADE_CONTROL_COMMAND",
                _motor_commands("open", "close"),
                cmd.shade,
            ),
            _dimmer_pair("open", "close", ("opening", "closing")),
        ),
    ),
    EntityType(
        "roof_fan",
        "A roof fan: on/off, speed, direction, lid.",
        (
            Control(
                "roof_fan",
                {"ROOF_FAN_STATUS_1": rd.roof_fan},
                "ROOF_FAN_COMMAND_1",
                (
                    CommandSpec(
                        "set",
                        "Set on/off, speed, direction and/or lid; the lid moves for at most the "
                        "motor run duration and is confirmed once it moves toward the target.",
                        (
                            ON_OFF,
                            _percent("speed"),
                            Arg("direction", "enum", ("air_out", "air_in")),
                            Arg("lid", "enum", ("open", "closed")),
                        ),
                        needs_one_of=True,
                    ),
                ),
                cmd.roof_fan,
            ),
        ),
        {"speed": "%", "ambient_temperature": "°C"},
    ),
    EntityType(
        "datetime",
        "The coach's date and time.",
        (
            Control(
                "datetime",
                {"DATE_TIME_STATUS": rd.date_time},
                "SET_DATE_TIME_COMMAND",
                (
                    CommandSpec(
                        "set",
                        "Set the date and time (ISO 8601 local time).",
                        (
                            Arg(
                                "datetime",
                                "str",
                                required=True,
                                description="ISO 8601 local time in 2000-2250, e.g. "
                                "2024-06-03T14:32:56",
                                pattern=COACH_DATETIME,
                            ),
                        ),
                    ),
                ),
                cmd.date_time,
            ),
        ),
        {"time_zone": "h"},
    ),
)

ENTITY_TYPES: Mapping[str, EntityType] = {t.name: t for t in _TYPES}


def describe_types() -> list[dict[str, object]]:
    """Types with their controls, status and command DGNs, commands and units (metadata)."""
    out: list[dict[str, object]] = []
    for t in _TYPES:
        commands: dict[str, dict[str, object]] = {}
        for control in t.controls:
            for spec in control.commands:
                commands.setdefault(spec.name, spec.describe())
        out.append(
            {
                "type": t.name,
                "description": t.description,
                "controls": [
                    {
                        "control": c.name,
                        "status_dgns": list(c.status_dgns),
                        "accepted_status_dgns": list(c.readers),
                        "command_dgn": c.command_dgn,
                        "commands": [s.name for s in c.commands],
                        "roles": list(c.roles),
                    }
                    for c in t.controls
                ],
                "commands": list(commands.values()),
                "units": dict(t.units),
                "unitless": dict(t.unitless),
            }
        )
    return out


def _describe_arg(arg: Arg) -> str:
    if arg.kind == "enum":
        return f"`{arg.name}`: {' | '.join(arg.choices)}"
    if arg.kind == "number":
        unit = f" {arg.unit}" if arg.unit else ""
        return f"`{arg.name}`: {arg.minimum:g}-{arg.maximum:g}{unit}"
    return f"`{arg.name}`" + (f" ({arg.description})" if arg.description else "")


def commands_text() -> str:
    """Markdown list of every type's commands and their arguments (for the OpenAPI text)."""
    lines = []
    for t in _TYPES:
        seen: dict[str, str] = {}
        for control in t.controls:
            for spec in control.commands:
                args = ", ".join(_describe_arg(a) for a in spec.args)
                text = f"`{spec.name}`" + (f" ({args})" if args else "")
                if spec.requires:
                    text += f" [needs {spec.requires}]"
                seen.setdefault(spec.name, text)
        if seen:
            lines.append(f"- **{t.name}**: " + "; ".join(seen.values()))
        else:
            lines.append(f"- **{t.name}**: read-only")
    return "\n".join(lines)
