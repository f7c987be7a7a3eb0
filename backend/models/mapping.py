"""Request and response bodies of the mapping routes (``/api/mapping``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MappingChangeResponse(BaseModel):
    """A mapping applied in place: entity ids added, removed and kept (with their state)."""

    path: str = Field(..., description="The mapping file now running.")
    added: list[str]
    removed: list[str]
    kept: list[str]
    entities: int = Field(..., description="Entities now mapped.")
    entity_id: str | None = Field(None, description="The entity the wizard named, if any.")


class NameDevice(BaseModel):
    """The wizard's "name it": a device seen unmapped becomes an entity of the mapping."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dgn: str = Field(..., description="The device's status DGN (name or 5 hex digits).")
    instance: int | None = Field(None, ge=0, le=255, description="The device's instance.")
    instances: dict[str, int] | None = Field(
        None,
        description="For motors driven as a pair of dimmer outputs: {extend: 20, retract: 21} "
        "(or {open: .., close: ..} for a shade).",
    )
    type: str | None = Field(None, description="Entity type (default: what the DGN reports).")
    control: str | None = Field(None, description="How the type is wired (default: its first).")
    name: str = Field(..., min_length=1, max_length=80, examples=["Porch light"])
    area: str | None = Field(None, max_length=80, description="An area id, or a new area's name.")
    hidden: bool = False
    capabilities: list[str] | None = Field(None, examples=[["dimmable"]])
    entity_id: str | None = Field(
        None, pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$", description="Default: type.name_in_snake_case."
    )


class MappingText(BaseModel):
    """A whole mapping: its YAML text, or a shipped example to start from."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = Field(None, max_length=1_000_000, description="The mapping's YAML.")
    example: str | None = Field(None, description="A shipped mapping's model name.")


class IdentifyRequest(BaseModel):
    """Blink an unmapped light or load."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dgn: str = Field(..., examples=["DC_DIMMER_STATUS_3"])
    instance: int = Field(..., ge=0, le=255)
    type: str | None = Field(None, description="light, dc_load or ac_load (default: by the DGN).")


class DeviceGroup(BaseModel):
    """Unmapped devices of one kind, with their live values."""

    kind: str
    devices: list[dict[str, Any]]
