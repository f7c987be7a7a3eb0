"""API models of the CAN routes (``/api/can``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from backend.integrations.can.errors import FrameError
from backend.integrations.can.message_factory import parse_can_id_text, parse_data_text


class CANStatusResponse(BaseModel):
    """Overall CAN state."""

    state: str = Field(..., examples=["up", "degraded", "down"])
    interfaces: int
    interfaces_up: int
    bustype: str
    bitrate: int
    source_address: int
    rx: int
    tx: int
    listeners: int
    listener_errors: int
    sniffer_frames: int
    started_at: float | None = None


class CANInterfaceModel(BaseModel):
    """One physical interface."""

    channel: str = Field(..., examples=["can0"])
    logical_names: list[str] = Field(..., examples=[["house"]])
    bustype: str
    state: str = Field(..., examples=["up", "connecting", "reconnecting", "failed"])
    bitrate: int
    read_only: bool
    no_activity: bool = Field(..., description="Up, but nothing received for 10 s.")
    last_error: str | None
    rx: int
    tx: int
    errors: int
    rx_dropped: int
    tx_dropped: int
    echo_suppressed: int
    reconnects: int
    rx_queue: int
    tx_queue: int
    source_address: int | None
    address_claim: str | None = Field(None, examples=["claimed"])
    last_frame_time: float | None


class CANInterfacesResponse(BaseModel):
    """Every configured interface."""

    interfaces: list[CANInterfaceModel]


class CANStatisticsResponse(BaseModel):
    """Counters (``rx``/``tx``...), rates over 1/10/60 s, bus load, per-DGN and per-source."""

    interfaces: dict[str, dict[str, Any]]
    rx: int
    tx: int
    standard_skipped: int = Field(
        description="Standard (11-bit) frames received and skipped: RV-C uses 29-bit ids only."
    )
    dgns: list[dict[str, Any]]
    dgn_overflow: int
    sources: list[dict[str, Any]]
    unknown_frames: int
    listener_errors: int
    multipacket: dict[str, int]
    commands: dict[str, int]


class SnifferResponse(BaseModel):
    """Sniffed frames, newest first; each a ``coachiq decode`` record plus direction/interface."""

    frames: list[dict[str, Any]]
    count: int


class SnifferGroupsResponse(BaseModel):
    """Command/response groups, newest first, and commands still pending."""

    groups: list[dict[str, Any]]
    pending: list[dict[str, Any]]


class CANSendRequest(BaseModel):
    """One raw frame to send."""

    interface: str | None = Field(
        None, description="Logical (house/chassis) or physical (can0); default house.",
        examples=["house"],
    )  # fmt: skip
    can_id: str = Field(..., description="29-bit id in hex.", examples=["19FEDB9F"])
    data: str = Field(..., description="0 to 8 bytes in hex.", examples=["2AFFC800FF00FFFF"])

    @field_validator("can_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        try:
            parse_can_id_text(value)
        except FrameError as exc:
            raise ValueError(str(exc).removeprefix("can_id: ")) from None
        return value

    @field_validator("data")
    @classmethod
    def _check_data(cls, value: str) -> str:
        try:
            parse_data_text(value)
        except FrameError as exc:
            raise ValueError(str(exc).removeprefix("data: ")) from None
        return value

    def frame(self) -> tuple[int, bytes]:
        """The parsed (arbitration id, data)."""
        return parse_can_id_text(self.can_id), parse_data_text(self.data)


class CANSendResponse(BaseModel):
    """A frame was queued for transmission."""

    status: str = Field("queued", examples=["queued"])
    interface: str = Field(..., examples=["can0"])
    can_id: str
    data: str
