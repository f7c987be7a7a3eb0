"""The building blocks of the coach model: entity type descriptions, commands, entity records.

An entity type is data (:class:`EntityType` with its :class:`Control` variants), not a class per
device: a control names the status DGNs that report the device and a reader per DGN that turns
decoded signals into state, the command DGN, the commands it accepts (:class:`CommandSpec` with
typed :class:`Arg` s) and an encoder that turns a validated command into :class:`CommandPlan`
frames. ``backend.core.entity_types`` holds the table.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from backend.core.entity_errors import CommandValidationError

State = dict[str, Any]


class _HasLabels(Protocol):
    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class KeptLabels:
    """The ``labels`` of a message that was kept as a record (an unmapped instance's last)."""

    labels: Mapping[str, str]


Labelled = _HasLabels | None
"""The decoded message a reader may ask for the spec's names of numeric values (``labels``)."""


class Reader(Protocol):
    """(decoded signals, binding role, message) -> the state keys this DGN gives."""

    def __call__(self, s: Mapping[str, Any], role: str | None, m: Labelled = None, /) -> State: ...


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command: its kind and what values are allowed."""

    name: str
    kind: Literal["enum", "number", "str"]
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    required: bool = False
    description: str = ""
    pattern: str | None = None  # kind "str": the whole value must match (also in the schema)

    def allowed(self) -> str:
        """Human description of the allowed values."""
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        if self.kind == "number":
            unit = f" {self.unit}" if self.unit else ""
            return f"a number from {self.minimum:g} to {self.maximum:g}{unit}"
        if self.pattern is not None and self.description:
            return self.description
        return "a string"

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of a given value (null is allowed unless required: it means not given)."""
        schema: dict[str, Any]
        if self.kind == "enum":
            schema = {"type": "string", "enum": list(self.choices)}
        elif self.kind == "number":
            schema = {"type": "number"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        else:
            schema = {"type": "string", "minLength": 1}
            if self.pattern is not None:
                schema["pattern"] = self.pattern
        unit = f"({self.unit})" if self.unit else ""
        text = " ".join(part for part in (self.description, unit) if part)
        if text:
            schema["description"] = text
        return schema if self.required else {"anyOf": [schema, {"type": "null"}]}

    def check(self, value: Any, command: str) -> Any:
        """Return ``value`` if allowed, else raise CommandValidationError naming the range."""
        ok = False
        if self.kind == "enum":
            ok = isinstance(value, str) and value in self.choices
        elif self.kind == "number":
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
                and (self.minimum is None or value >= self.minimum)
                and (self.maximum is None or value <= self.maximum)
            )
        else:
            ok = isinstance(value, str) and bool(value)
            if ok and self.pattern is not None:
                ok = re.fullmatch(self.pattern, value) is not None
        if not ok:
            raise CommandValidationError(
                f"{command}: {self.name}={value!r} is not allowed; {self.name} must be "
                f"{self.allowed()}",
                argument=self.name,
                allowed=self.allowed(),
            )
        return value

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the metadata endpoint."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "required": self.required}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.unit:
            out["unit"] = self.unit
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command a control accepts."""

    name: str
    description: str
    args: tuple[Arg, ...] = ()
    requires: str | None = None  # a capability the entity must have (``dimmable``)
    needs_one_of: bool = False  # at least one argument must be given
    always_allowed: bool = False  # accepted even when the entity is unavailable (``stop``)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the metadata endpoint."""
        out: dict[str, Any] = {
            "command": self.name,
            "description": self.description,
            "args": [a.describe() for a in self.args],
        }
        if self.requires:
            out["requires_capability"] = self.requires
        if self.always_allowed:
            out["always_allowed"] = True
        return out

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of this command's body: its name, its arguments and nothing else."""
        properties: dict[str, Any] = {"command": {"const": self.name}}
        for arg in self.args:
            properties[arg.name] = arg.json_schema()
        schema: dict[str, Any] = {
            "type": "object",
            "title": self.name,
            "description": self.description,
            "properties": properties,
            "required": ["command", *(a.name for a in self.args if a.required)],
            "additionalProperties": False,
        }
        if self.needs_one_of and self.args:
            schema["anyOf"] = [
                {"required": [a.name], "properties": {a.name: {"not": {"type": "null"}}}}
                for a in self.args
            ]
        return schema


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """One message to send: DGN name, signal values (spec units or labels), instance."""

    dgn: str
    signals: Mapping[str, Any]
    instance: int | None


def motion_stopped(state: State) -> bool:
    """A motor's end of travel: its status shows it stopped."""
    return state.get("motion") == "stopped"


@dataclass(frozen=True, slots=True)
class Repeat:
    """A motor run: every ``interval`` s resend the frames (when ``resend``), for at most
    ``duration`` s, then send ``final``; the run ends early once the command is confirmed and
    ``done`` (end of travel) holds."""

    interval: float
    duration: float
    final: tuple[FrameSpec, ...]
    resend: bool = True
    done: Callable[[State], bool] = motion_stopped


@dataclass(frozen=True, slots=True)
class CommandPlan:
    """What a validated command becomes: frames, the status that confirms it, expectations.

    ``keeps_motor``: the command does not touch the entity's running motor (a roof fan's speed
    while its lid moves), so the motor's bounded run goes on.
    """

    frames: tuple[FrameSpec, ...]
    expect: Callable[[State], bool]
    optimistic: State
    repeat: Repeat | None = None
    keeps_motor: bool = False


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What an encoder may know: the entity's addressing, current state and motor settings."""

    instance: int | None
    instances: Mapping[str, int]
    capabilities: frozenset[str]
    state: Mapping[str, Any]
    command_dgn: str
    motor_run_seconds: int
    hold: bool = False  # the movement runs under a hold-to-run lease (repeated while held)
    attributes: Mapping[str, Any] = field(default_factory=dict)  # the mapping's (leveling jacks)


Encoder = Callable[[CommandContext, str, Mapping[str, Any]], CommandPlan]


@dataclass(frozen=True, slots=True)
class Control:
    """One way a type of device is wired: status DGNs with readers, command DGN and commands."""

    name: str
    readers: Mapping[str, Reader]  # status DGN name -> reader; the defaults are all of them
    command_dgn: str | None = None
    commands: tuple[CommandSpec, ...] = ()
    encoder: Encoder | None = None
    roles: tuple[str, ...] = ()  # per-role instances (``dimmer_pair``: extend, retract)
    derive: Callable[[State], State] | None = None  # computed keys after each update
    default_status: tuple[str, ...] = ()  # when empty: every reader's DGN

    @property
    def status_dgns(self) -> tuple[str, ...]:
        """The DGNs an entity of this control reports on unless its mapping says otherwise."""
        return self.default_status or tuple(self.readers)

    def command(self, name: str) -> CommandSpec | None:
        """The command ``name``, or None."""
        for spec in self.commands:
            if spec.name == name:
                return spec
        return None


@dataclass(frozen=True, slots=True)
class EntityType:
    """An entity type: its controls (the first is the default), units and description."""

    name: str
    description: str
    controls: tuple[Control, ...]
    units: Mapping[str, str] = field(default_factory=dict)
    default_capabilities: tuple[str, ...] = ()
    # numeric state keys that are not quantities (a number, a count): key -> what it is
    unitless: Mapping[str, str] = field(default_factory=dict)

    def control(self, name: str | None) -> Control | None:
        """The control ``name`` (the default one when None), or None when unknown."""
        if name is None:
            return self.controls[0]
        for control in self.controls:
            if control.name == name:
                return control
        return None


def validate_command(
    control: Control,
    capabilities: frozenset[str],
    type_name: str,
    command: Mapping[str, Any],
) -> tuple[CommandSpec, dict[str, Any]]:
    """Check a command object against the control's table.

    Returns:
        The command's spec and its validated arguments.

    Raises:
        CommandValidationError: unknown command, unknown or missing argument, value out of range;
            the message lists what is allowed.
    """
    allowed = [c.name for c in control.commands if c.requires is None or c.requires in capabilities]
    if not isinstance(command, Mapping):
        raise CommandValidationError("the command must be a JSON object", allowed=allowed)
    name = command.get("command")
    if not allowed:
        raise CommandValidationError(
            f"{type_name} entities mapped this way are read-only; they accept no commands",
            allowed=[],
        )
    spec = control.command(name) if isinstance(name, str) else None
    if spec is None or name not in allowed:
        why = (
            f"'{name}' needs the capability '{spec.requires}'"
            if spec is not None
            else f"unknown command {name!r}"
        )
        raise CommandValidationError(
            f"{why}; {type_name} accepts: {', '.join(allowed)}", allowed=allowed
        )
    known = {a.name: a for a in spec.args}
    args: dict[str, Any] = {}
    for key, value in command.items():
        if key in ("command", "entity_id", "type", "id"):
            continue
        arg = known.get(key)
        if arg is None:
            names = ", ".join(known) or "none"
            raise CommandValidationError(
                f"{name}: unknown argument '{key}'; arguments: {names}", allowed=list(known)
            )
        if value is None:
            continue
        args[key] = arg.check(value, name)
    missing = [a.name for a in spec.args if a.required and a.name not in args]
    if missing:
        raise CommandValidationError(
            f"{name}: missing {', '.join(missing)} ("
            + "; ".join(f"{known[m].name} must be {known[m].allowed()}" for m in missing)
            + ")",
            allowed=list(known),
        )
    if spec.needs_one_of and not args:
        raise CommandValidationError(
            f"{name}: give at least one of {', '.join(known)}", allowed=list(known)
        )
    return spec, args


@dataclass(slots=True)
class Binding:
    """A claim of (DGN, instance) by an entity, with an optional signal filter and role."""

    dgn: int
    dgn_name: str
    instance: int | None
    reader: Reader
    timeout: float  # seconds without this status before it no longer counts as seen
    match: tuple[tuple[str, Any], ...] = ()
    role: str | None = None

    def matches(self, signals: Mapping[str, Any]) -> bool:
        """True when the frame carries the filter's signal values."""
        return all(signals.get(k) == v for k, v in self.match)


@dataclass(slots=True)
class Entity:
    """The live record of one entity (mutable; owned by the EntityManager)."""

    entity_id: str
    name: str
    entity_type: str
    control: Control
    area: str | None
    instance: int | None
    instances: dict[str, int]
    interface: str
    source_address: int | None
    capabilities: frozenset[str]
    attributes: dict[str, Any]
    hidden: bool
    command_dgn: str | None
    bindings: list[Binding]
    line: int = 0
    state: State = field(default_factory=dict)
    available: bool = False
    restored: bool = False
    last_updated: float = 0.0  # wall time of the last change (state or availability)
    last_seen: float = 0.0  # wall time of the device's last status, changed or not
    deadline: float = 0.0  # monotonic time after which the entity is unavailable
    history: deque[tuple[float, State, bool]] = field(default_factory=deque)
    motion: bool | None = None  # the mapping's ``motion`` (None: decided by the type)
    self_run: bool = False  # the device's firmware runs a whole move (no hold lease)

    @property
    def commands(self) -> list[str]:
        """Names of the commands this entity accepts."""
        if self.command_dgn is None:
            return []
        return [
            c.name
            for c in self.control.commands
            if c.requires is None or c.requires in self.capabilities
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready view of the entity (the API's and the WebSocket snapshot's shape)."""
        device: dict[str, Any] = {
            "control": self.control.name,
            "instance": self.instance,
            "interface": self.interface,
            "status_dgns": sorted({b.dgn_name for b in self.bindings}),
            "command_dgn": self.command_dgn,
            "source_address": self.source_address,
        }
        if self.instances:
            device["instances"] = dict(self.instances)
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "type": self.entity_type,
            "area": self.area,
            "state": dict(self.state),
            "available": self.available,
            "restored": self.restored,
            "last_updated": self.last_updated,
            "last_seen": self.last_seen or None,
            "capabilities": sorted(self.capabilities),
            "commands": self.commands,
            "attributes": dict(self.attributes),
            "hidden": self.hidden,
            "device": device,
        }
