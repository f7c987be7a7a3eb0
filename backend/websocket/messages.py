"""WebSocket message shapes: encoding once with orjson, and parsing what clients send.

Server messages are built here as plain dicts and encoded to ``str`` once; the same text goes to
every client. Client messages are parsed into small frozen dataclasses; anything malformed raises
:class:`ClientMessageError`, whose code and message become an ``error`` reply to that client only.
The shapes are documented in ``docs/websocket.schema.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MAX_CLIENT_MESSAGE = 65536
MAX_LIST_ITEMS = 1000
DIRECTIONS = frozenset({"rx", "tx"})

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    """Fallback for types orjson does not know (sets, bytes, paths, anything else as text)."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex().upper()
    if isinstance(value, Path):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    return str(value)


def encode(message: dict[str, Any]) -> str:
    """Encode one server message to JSON text (done once per message, shared by all clients)."""
    return orjson.dumps(message, default=_default, option=_OPTIONS).decode()


def pong(request_id: Any = None) -> str:
    """The answer to a client's ``ping``."""
    message: dict[str, Any] = {"type": "pong", "timestamp": time.time()}
    if request_id is not None:
        message["id"] = request_id
    return encode(message)


def heartbeat() -> str:
    """The message an idle client receives every heartbeat interval."""
    return encode({"type": "heartbeat", "timestamp": time.time()})


def error(code: str, message: str, request_id: Any = None) -> str:
    """An ``error`` reply naming the problem; sent only to the client that caused it."""
    payload: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        payload["id"] = request_id
    return encode(payload)


class ClientMessageError(Exception):
    """A client message that cannot be used; ``code`` and the text go back in an ``error``."""

    def __init__(self, code: str, message: str, request_id: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def to_text(self) -> str:
        """The encoded ``error`` message."""
        return error(self.code, self.message, self.request_id)


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """A parsed client message: its type, optional ``id`` echoed in replies, and the rest."""

    type: str
    request_id: Any
    body: dict[str, Any]


def parse(data: str | bytes | None, allowed: frozenset[str]) -> ClientMessage:
    """Parse one client message.

    Args:
        data: the text of a WebSocket message (bytes for a binary message).
        allowed: the message types this endpoint accepts.

    Raises:
        ClientMessageError: on binary, oversized, non-JSON, non-object or unknown messages.
    """
    if not isinstance(data, str):
        raise ClientMessageError("invalid_message", "send JSON text messages, not binary")
    if len(data) > MAX_CLIENT_MESSAGE:
        raise ClientMessageError(
            "message_too_large", f"messages are limited to {MAX_CLIENT_MESSAGE} characters"
        )
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ClientMessageError("invalid_json", f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClientMessageError("invalid_message", "a message must be a JSON object")
    request_id = body.pop("id", None)
    if request_id is not None and not isinstance(request_id, str | int):
        raise ClientMessageError("invalid_message", "'id' must be a string or an integer")
    kind = body.pop("type", None)
    if not isinstance(kind, str):
        raise ClientMessageError("invalid_message", "a message needs a string 'type'", request_id)
    if kind not in allowed:
        raise ClientMessageError(
            "unknown_type",
            f"unknown message type {kind!r}; expected one of {', '.join(sorted(allowed))}",
            request_id,
        )
    return ClientMessage(kind, request_id, body)


def reject_unknown_keys(message: ClientMessage, known: frozenset[str]) -> None:
    """Raise when ``message`` carries keys its type does not define.

    Raises:
        ClientMessageError: naming the unknown keys and the allowed ones.
    """
    unknown = sorted(set(message.body) - known)
    if unknown:
        raise ClientMessageError(
            "invalid_message",
            f"{message.type}: unknown field(s) {', '.join(unknown)};"
            f" allowed: {', '.join(sorted(known)) or 'none'}",
            message.request_id,
        )


def string_set(message: ClientMessage, key: str) -> frozenset[str] | None:
    """The optional list of non-empty strings under ``key`` as a set (None when absent).

    Raises:
        ClientMessageError: when it is not a list of non-empty strings or is too long.
    """
    value = message.body.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST_ITEMS
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ClientMessageError(
            "invalid_message",
            f"{message.type}: '{key}' must be a list of at most {MAX_LIST_ITEMS} non-empty strings",
            message.request_id,
        )
    return frozenset(value)


# --- entity subscriptions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """Which entities a client wants: each set narrows (None means any); all must match."""

    entity_ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    areas: frozenset[str] | None = None

    def matches(self, entity_id: str, entity_type: str | None, area: str | None) -> bool:
        """True when an entity with these keys is wanted."""
        return (
            (self.entity_ids is None or entity_id in self.entity_ids)
            and (self.types is None or entity_type in self.types)
            and (self.areas is None or area in self.areas)
        )

    @property
    def is_all(self) -> bool:
        """True when nothing is narrowed."""
        return self.entity_ids is None and self.types is None and self.areas is None

    def to_dict(self) -> dict[str, list[str] | None]:
        """The JSON form used in the ``subscribed`` acknowledgement."""
        return {
            "entity_ids": sorted(self.entity_ids) if self.entity_ids is not None else None,
            "types": sorted(self.types) if self.types is not None else None,
            "areas": sorted(self.areas) if self.areas is not None else None,
        }


SUBSCRIBE_KEYS = frozenset({"entity_ids", "types", "areas"})


def parse_subscription(message: ClientMessage) -> Subscription:
    """The subscription a ``subscribe`` message asks for (it replaces the previous one).

    Raises:
        ClientMessageError: on unknown keys or values that are not lists of strings.
    """
    reject_unknown_keys(message, SUBSCRIBE_KEYS)
    return Subscription(
        entity_ids=string_set(message, "entity_ids"),
        types=string_set(message, "types"),
        areas=string_set(message, "areas"),
    )


# --- sniffer filters -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SnifferFilter:
    """Which frames a sniffer client wants: each set narrows (None means any)."""

    dgns: frozenset[int] | None = None
    sources: frozenset[int] | None = None
    interfaces: frozenset[str] | None = None
    directions: frozenset[str] | None = None

    def matches(self, dgn: int, source: int, interface: str, direction: str) -> bool:
        """True when a frame with these keys is wanted."""
        return (
            (self.dgns is None or dgn in self.dgns)
            and (self.sources is None or source in self.sources)
            and (self.interfaces is None or interface in self.interfaces)
            and (self.directions is None or direction in self.directions)
        )

    def to_dict(self) -> dict[str, list[Any] | None]:
        """The JSON form used in the ``filter_applied`` acknowledgement (DGNs as hex)."""
        return {
            "dgns": [f"{d:05X}" for d in sorted(self.dgns)] if self.dgns is not None else None,
            "sources": sorted(self.sources) if self.sources is not None else None,
            "interfaces": sorted(self.interfaces) if self.interfaces is not None else None,
            "directions": sorted(self.directions) if self.directions is not None else None,
        }


FILTER_KEYS = frozenset({"dgns", "sources", "interfaces", "directions"})


def _int_set(
    message: ClientMessage, key: str, maximum: int, hex_strings: bool
) -> frozenset[int] | None:
    value = message.body.get(key)
    if value is None:
        return None
    what = "DGNs (hex strings such as '1FFBD' or integers)" if hex_strings else "integers"
    problem = ClientMessageError(
        "invalid_message",
        f"{message.type}: '{key}' must be a list of {what} from 0 to {maximum:#X}",
        message.request_id,
    )
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
        raise problem
    result: set[int] = set()
    for item in value:
        if isinstance(item, str) and hex_strings:
            try:
                number = int(item.strip().removeprefix("0x").removeprefix("0X"), 16)
            except ValueError:
                raise problem from None
        elif isinstance(item, int) and not isinstance(item, bool):
            number = item
        else:
            raise problem
        if not 0 <= number <= maximum:
            raise problem
        result.add(number)
    return frozenset(result)


def parse_filter(message: ClientMessage) -> SnifferFilter:
    """The sniffer filter a ``filter`` message asks for (it replaces the previous one).

    Raises:
        ClientMessageError: on unknown keys or bad values.
    """
    reject_unknown_keys(message, FILTER_KEYS)
    directions = string_set(message, "directions")
    if directions is not None and not directions <= DIRECTIONS:
        raise ClientMessageError(
            "invalid_message",
            f"filter: 'directions' items must be 'rx' or 'tx', got {sorted(directions)}",
            message.request_id,
        )
    return SnifferFilter(
        dgns=_int_set(message, "dgns", 0x1FFFF, hex_strings=True),
        sources=_int_set(message, "sources", 0xFF, hex_strings=False),
        interfaces=string_set(message, "interfaces"),
        directions=directions,
    )
