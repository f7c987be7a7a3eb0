"""API models of the coach model: entities, commands, history, unmapped and unknown DGNs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    last_updated: float = Field(..., description="Seconds since the epoch of the last change.")
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


class EntityCommand(BaseModel):
    """A command; ``GET /api/entities/metadata`` lists each type's commands and arguments.

    Lights: ``{"command": "set", "state": "on", "brightness": 40}``, ``{"command": "toggle"}``,
    ``brightness_up``, ``brightness_down``. Thermostats: ``set_mode`` (``mode``), ``set_fan``,
    ``set_setpoint`` (``heat``, ``cool`` in °C). Generators: ``start``, ``stop``. Inverters and
    chargers: ``enable``, ``disable``. Awnings and slides: ``extend``, ``retract``, ``stop``;
    shades: ``open``, ``close``, ``stop``. Water heaters: ``set_mode``, ``set_setpoint``
    (``temperature``). Roof fans: ``set`` (``state``, ``speed``, ``direction``, ``lid``).
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"command": "set", "state": "on", "brightness": 40},
                {"command": "toggle"},
                {"command": "set_setpoint", "heat": 20.0, "cool": 24.0},
                {"command": "set_mode", "mode": "heat"},
                {"command": "start"},
                {"command": "extend"},
            ]
        },
    )

    command: str = Field(..., examples=["set"])
    state: Literal["on", "off"] | None = None
    brightness: float | None = Field(None, description="0-100 % (dimmable lights).")


class CommandAcceptedResponse(BaseModel):
    """The command is on the bus; its result follows (entity view, WebSocket)."""

    command_id: str
    entity_id: str
    status: Literal["pending"] = "pending"
    optimistic: dict[str, Any] | None = Field(
        None, description="The state the device is expected to report; not yet shown."
    )


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
    signals: dict[str, Any] = Field(..., description="The last decoded values.")


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

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1)
    area: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_]*$")
    hidden: bool | None = None


class EntityMetadataResponse(BaseModel):
    """Entity types with their controls, commands (arguments, ranges) and units; areas."""

    coach: dict[str, Any]
    areas: list[dict[str, str]]
    types: list[dict[str, Any]]
    entity_counts: dict[str, int]
    command_timeout: float
    motor_run_seconds: int
