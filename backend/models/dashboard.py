"""API models of the dashboard routes (``/api/dashboard``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AlertModel(BaseModel):
    """A condition a person cares about."""

    alert_id: str = Field(description="Stable id of the condition, e.g. tank_high:black_tank.")
    kind: str = Field(
        description=(
            "tank_high, tank_low, battery_low, low_air_pressure, fault, can_inactive, unavailable."
        )
    )
    severity: Literal["info", "warning", "critical"]
    message: str
    entity_id: str | None = None
    value: float | None = None
    threshold: float | None = None


class EntityCounts(BaseModel):
    """How many entities, and how many report."""

    total: int
    available: int
    unavailable: int


class InterfaceActivity(BaseModel):
    """Frames received on an interface and how long it has been quiet."""

    name: str
    rx_frames: int
    idle_seconds: float | None = Field(description="Seconds since the last frame; null if none.")
    active: bool


class SummaryResponse(BaseModel):
    """The coach at a glance."""

    generated_at: float
    entities: EntityCounts
    by_type: dict[str, int]
    by_area: dict[str, int]
    alerts: list[AlertModel]
    alert_counts: dict[str, int]
    interfaces: list[InterfaceActivity]


class ActivityEntry(BaseModel):
    """One line of the activity feed."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(description="Increasing sequence number; poll with ?after=<last id>.")
    timestamp: float
    kind: str = Field(
        description="command, command_result, alert_raised, alert_cleared, unavailable, "
        "available, bulk."
    )
    severity: Literal["info", "warning", "critical"]
    message: str
    entity_id: str | None = None
    command_id: str | None = None
    status: str | None = None
    alert_id: str | None = None


class ActivityResponse(BaseModel):
    """Newest first."""

    entries: list[ActivityEntry]
    started_at: float = Field(
        description="When the feed started; a new value means the server restarted (ids reset)."
    )


class BulkRequest(BaseModel):
    """One action on many entities: a list of ids, or a type and/or an area."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            # The rule _selects_something enforces, stated for generated clients.
            "anyOf": [
                {
                    "required": ["entity_ids"],
                    "properties": {"entity_ids": {"type": "array", "minItems": 1}},
                },
                {"required": ["type"], "properties": {"type": {"type": "string"}}},
                {"required": ["area"], "properties": {"area": {"type": "string"}}},
            ],
            "description": "Give `entity_ids` (at least one), or a `type` and/or an `area`.",
        },
    )

    action: Literal["on", "off"]
    entity_ids: list[str] | None = Field(default=None, max_length=200)
    type: str | None = None
    area: str | None = None

    @model_validator(mode="after")
    def _selects_something(self) -> BulkRequest:
        if not self.entity_ids and self.type is None and self.area is None:
            raise ValueError("give entity_ids, or a type and/or an area")
        return self


class BulkResult(BaseModel):
    """What happened to one entity."""

    entity_id: str
    status: Literal["accepted", "skipped", "error"]
    command_id: str | None = None
    detail: str | None = None
    http_status: int | None = None


class BulkResponse(BaseModel):
    """Answered per entity."""

    action: str
    results: list[BulkResult]


class FaultEntity(BaseModel):
    """An entity whose device has the fault's source address."""

    entity_id: str
    name: str | None = None


class _FaultFields(BaseModel):
    """What identifies and describes a DM_RV fault (RV-C 3.2.5), live or in history."""

    fault_id: str = Field(description="source:dsa:spn_raw:fmi, stable while the fault lasts.")
    source: int = Field(description="Source address of the reporting device.")
    dsa: int | None = Field(description="Default source address: the device type (table 7.2).")
    dsa_extension: int | None = None
    spn: int = Field(description="SPN after the single/multi-instance rule (3.2.5.5).")
    spn_raw: int = Field(description="The 19-bit SPN field as sent.")
    spn_encoding: Literal["single_instance", "multi_instance"]
    instance: int | None = Field(description="Instance from the ISB (multi-instance devices).")
    spn_name: str | None = Field(description="Standard (table 7.3) or device-specific name.")
    device_type: str | None = Field(description="Device type, when its SPN table is known.")
    fmi: int
    fmi_meaning: str = Field(description="Table 3.2.5.8.")
    occurrence_count: int | None = Field(description="The occurrence count the device sent.")
    red_lamp: bool
    yellow_lamp: bool
    severity: Literal["warning", "critical"]


class DiagnosticFault(_FaultFields):
    """One active DM_RV fault (RV-C 3.2.5), see docs/diagnostics.md."""

    first_seen: float = Field(description="Seconds since the epoch.")
    last_seen: float = Field(description="Seconds since the epoch.")
    entities: list[FaultEntity]


class DiagnosticsResponse(BaseModel):
    """The active faults of every device on the bus."""

    generated_at: float
    faults: list[DiagnosticFault]
    count: int
    max_faults: int = Field(description="At most this many faults are kept.")
    dropped: int = Field(description="New faults not kept because the table was full.")
    expiry_seconds: float = Field(description="A fault not repeated for this long clears.")


class FaultHistoryEntry(_FaultFields):
    """One life of one DM_RV fault, from when it became active until it cleared.

    ``occurrence_count``, the lamps and the severity are the last the device reported.
    """

    entity_ids: list[str] = Field(description="Entities at the fault's source address then.")
    first_seen: float = Field(description="When it became active (seconds since the epoch).")
    last_seen: float = Field(description="When the device last reported it.")
    active: bool = Field(description="True while it has not cleared.")
    cleared_at: float | None = Field(description="When it cleared; null while active.")
    cleared_reason: Literal["cleared", "server_stopped"] | None = Field(
        description="`cleared`: the device stopped reporting it; `server_stopped`: CoachIQ "
        "stopped while it was active (`cleared_at` is then its last-seen time)."
    )


class FaultHistoryResponse(BaseModel):
    """Stored fault lives, newest first (by first seen)."""

    faults: list[FaultHistoryEntry]
    count: int
    since: float | None
    until: float | None
    limit: int
    retention_days: int = Field(description="Faults that cleared longer ago are pruned.")
