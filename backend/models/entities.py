"""API models of the coach model: entities, commands, history, unmapped and unknown DGNs."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from backend.core.entity_types import ENTITY_TYPES, commands_text


class EntityResponse(BaseModel):
    """One entity: what it is, its state as the device last reported it, and its commands."""

    entity_id: str = Field(..., examples=["light.galley_ceiling"])
    name: str = Field(..., examples=["Galley ceiling"])
    type: str = Field(..., examples=["light"])
    area: str | None = Field(None, examples=["galley"])
    area_name: str | None = Field(None, examples=["Galley"])
    state: dict[str, Any] = Field(..., examples=[{"state": "on", "brightness": 40.0}])
    available: bool = Field(..., description="The device reported within its broadcast gap.")
    restored: bool = Field(False, description="State restored from the database, not live.")
    last_updated: float = Field(
        ..., description="Seconds since the epoch of the last change (state or availability)."
    )
    last_seen: float | None = Field(
        None,
        description="Seconds since the epoch of the device's last status, changed or not; null "
        "before the first.",
    )
    capabilities: list[str] = Field(default_factory=list, examples=[["dimmable"]])
    commands: list[str] = Field(default_factory=list, examples=[["set", "toggle"]])
    attributes: dict[str, Any] = Field(default_factory=dict)
    hidden: bool = False
    device: dict[str, Any] = Field(
        default_factory=dict, description="Control, instance(s), interface, status/command DGNs."
    )
    pending_command: dict[str, Any] | None = Field(
        None, description="The command awaiting the device's confirmation."
    )
    last_command_result: dict[str, Any] | None = Field(
        None, description="How the last command ended (confirmed, timed_out, failed)."
    )


_COMMAND_TEXT = (
    "A command. The commands each entity type accepts, with their arguments (generated from "
    "the entity type table; `GET /api/entities/metadata` has the same, per control):\n\n"
    + commands_text()
    + "\n\nAn entity's own `commands` list says which of its type's commands it accepts."
)


def command_schemas() -> list[dict[str, Any]]:
    """One JSON Schema per distinct command body of the type table, naming the types it is for."""
    shapes: dict[str, dict[str, Any]] = {}
    types: dict[str, list[str]] = {}
    for entity_type in ENTITY_TYPES.values():
        for control in entity_type.controls:
            for spec in control.commands:
                schema = spec.json_schema()
                key = json.dumps(
                    {k: v for k, v in schema.items() if k not in ("title", "description")},
                    sort_keys=True,
                )
                shapes.setdefault(key, schema)
                names = types.setdefault(key, [])
                if entity_type.name not in names:
                    names.append(entity_type.name)
    out: list[dict[str, Any]] = []
    for key, schema in shapes.items():
        out.append(
            {
                **schema,
                "title": f"{schema['title']} ({', '.join(types[key])})",
                "description": f"{', '.join(types[key])}: {schema['description']}",
            }
        )
    return out


_COMMAND_EXAMPLES = [
    {"command": "set", "state": "on", "brightness": 40},
    {"command": "toggle"},
    {"command": "set_setpoint", "heat": 20.0, "cool": 24.0},
    {"command": "set_mode", "mode": "heat"},
    {"command": "start"},
    {"command": "extend"},
    {"command": "set", "lid": "open"},
]


def _command_json_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(
        {
            "title": "EntityCommand",
            "description": _COMMAND_TEXT,
            "anyOf": command_schemas(),
            "examples": _COMMAND_EXAMPLES,
        }
    )


# Keys the coach model ignores in a command object (they name the target over WebSocket); over
# REST the target is the path, so they are refused rather than silently dropped.
_TARGET_KEYS = ("entity_id", "type", "id")


class EntityCommand(BaseModel):
    """A command: one of the bodies in the schema's ``anyOf`` (one per command and argument set).

    The server checks the body against the entity's own type (``GET /api/entities/{id}`` lists
    its ``commands``); a command of another type is refused with 422 and ``allowed``.
    """

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra=lambda schema, _: _command_json_schema(schema),  # pyright: ignore
    )

    command: str = Field(..., examples=["set"])

    @model_validator(mode="before")
    @classmethod
    def _no_target_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in _TARGET_KEYS:
                if key in value:
                    raise ValueError(f"'{key}' is not a command argument (the entity is the path)")
        return value

    def arguments(self) -> dict[str, Any]:
        """The command object as sent (``command`` and each argument; null means not given)."""
        return {"command": self.command, **(self.model_extra or {})}


class CommandAcceptedResponse(BaseModel):
    """The command is on the bus; its result follows (entity view, WebSocket)."""

    command_id: str
    entity_id: str
    status: Literal["pending"] = "pending"
    optimistic: dict[str, Any] | None = Field(
        None, description="The state the device is expected to report; not yet shown."
    )


class CommandRecordResponse(BaseModel):
    """A recent command: its state, outcome and timestamps."""

    command_id: str
    entity_id: str
    command: dict[str, Any] = Field(description="The command as sent, with its arguments.")
    status: Literal["pending", "confirmed", "timed_out", "failed"]
    detail: str = Field(description="Why it failed or timed out; empty otherwise.")
    requested_at: float = Field(description="When it was accepted (seconds since the epoch).")
    completed_at: float | None = Field(description="When it ended; null while pending.")
    client: str | None = Field(description="Who sent it (address, or mqtt/websocket).")


class HistoryEntry(BaseModel):
    """One state change."""

    timestamp: float
    state: dict[str, Any]
    available: bool


class HistoryResponse(BaseModel):
    """An entity's changes, oldest first."""

    entity_id: str
    source: Literal["memory", "database"]
    entries: list[HistoryEntry]


class UnmappedEntry(BaseModel):
    """A (DGN, instance) of the specification seen on the bus that no entity claims."""

    dgn: str = Field(..., examples=["1FEDA"])
    name: str | None = Field(None, examples=["DC_DIMMER_STATUS_3"])
    instance: int | None
    source: int
    sources: list[int]
    count: int
    first_seen: float
    last_seen: float
    changed_at: float = Field(..., description="When the decoded values last changed.")
    signals: dict[str, Any] = Field(..., description="The last decoded values.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="The spec's names of the numeric values above that it names "
        '(e.g. {"instance": "fresh_water"}); see docs/signals.md.',
    )
    raw: dict[str, int] = Field(
        default_factory=dict, description="The raw integer of every enumeration above."
    )


class UnknownDGNEntry(BaseModel):
    """A DGN seen on the bus that the specification does not define."""

    dgn: str
    name: str | None = None
    sources: list[int]
    count: int
    first_seen: float
    last_seen: float
    last_data: str


class EntityOverride(BaseModel):
    """A user's name, area or hidden flag, applied over the mapping."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(None, min_length=1, max_length=100, description="1-100 characters.")
    area: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_]*$",
        description="An area id of the coach mapping (see the metadata's areas).",
    )
    hidden: StrictBool | None = None


class EntityMetadataResponse(BaseModel):
    """Entity types with their controls, commands (arguments, ranges) and units; areas."""

    coach: dict[str, Any]
    areas: list[dict[str, str]]
    types: list[dict[str, Any]]
    entity_counts: dict[str, int]
    command_timeout: float
    motor_run_seconds: int
    chassis: dict[str, Any] = Field(
        default_factory=dict,
        description="The mapping's chassis section: mobility_status absent means motion is not "
        "interlocked with CHASSIS_MOBILITY_STATUS (docs/motion-safety.md).",
    )
    hold_timeout_ms: int | None = Field(
        None, description="Motion commands must be repeated within this many ms (hold-to-run)."
    )
    units_system: Literal["metric", "us"] = Field(
        "metric",
        description="The dashboard's default display units (COACHIQ_UNITS__SYSTEM); every value "
        "of this API stays in the SI unit its type's `units` names.",
    )
