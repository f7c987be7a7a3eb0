"""API models of the CAN routes (``/api/can``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    tx_priority: int = 0
    echo_suppressed: int
    reconnects: int
    rx_queue: int
    tx_queue: int
    replay: dict[str, Any] | None = Field(
        None,
        description="A replayed log's playback: frames, untimed frames and their rate, malformed "
        "lines and timestamp problems (counted, the newest with their line numbers).",
    )
    datagrams: dict[str, Any] | None = Field(
        None,
        description="udp_multicast only: loopback (kept on this machine), malformed and foreign "
        "(from another machine) datagrams dropped.",
    )
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
    decode_errors: int = Field(
        0, description="Frames of a known DGN whose data could not be decoded."
    )
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


# What the server accepts, stated in the schema and checked with the same expressions.
CAN_ID_PATTERN = r"^(0[xX])?0*(1[0-9A-Fa-f]{7}|[0-9A-Fa-f]{1,7})$"
DATA_PATTERN = r"^([0-9A-Fa-f]{2} ?){0,8}$"
DGN_PATTERN = r"^(0[xX])?0*(1[0-9A-Fa-f]{4}|[0-9A-Fa-f]{1,4})$"


class CANSendRequest(BaseModel):
    """One raw frame to send."""

    model_config = ConfigDict(extra="forbid", strict=True)

    interface: str | None = Field(
        None,
        description="Logical (house/chassis) or physical (can0) interface; default house. The "
        "schema lists the names this server accepts.",
        examples=["house"],
    )
    can_id: str = Field(
        ...,
        description="29-bit extended id in hex (0 to 1FFFFFFF; `0x` prefix allowed).",
        examples=["19FEDBF9"],
        json_schema_extra={"pattern": CAN_ID_PATTERN},
    )
    data: str = Field(
        ...,
        description="0 to 8 bytes in hex, two digits a byte, optionally one space after each.",
        examples=["2AFFC800FF00FFFF"],
        json_schema_extra={"pattern": DATA_PATTERN},
    )

    @field_validator("can_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not re.fullmatch(CAN_ID_PATTERN, value):
            raise ValueError(f"{value!r} is not a 29-bit CAN id in hex such as 19FEDBF9")
        try:
            parse_can_id_text(value)
        except FrameError as exc:
            raise ValueError(str(exc).removeprefix("can_id: ")) from None
        return value

    @field_validator("data")
    @classmethod
    def _check_data(cls, value: str) -> str:
        if not re.fullmatch(DATA_PATTERN, value):
            raise ValueError(
                f"{value!r} is not 0 to 8 bytes in hex such as 2AFFC800FF00FFFF "
                "(two digits a byte, at most one space after each)"
            )
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
