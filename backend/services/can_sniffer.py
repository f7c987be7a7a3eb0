"""The sniffer: the last N frames (rx and tx) and command/response groups.

Frames are kept as :class:`FrameEvent` objects in a ``deque(maxlen=N)`` and turned into
``coachiq decode`` records only when asked for. A command CoachIQ sends waits (bounded, for
``timeout`` seconds) for the frame that answers it: the device's status DGN of the same family
and instance, an ACKNOWLEDGMENT of the command's DGN, or, for a REQUEST, the requested DGN. The
pair (or the command alone, when nothing answered in time) goes into a ring of ``group_size``.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from backend.integrations.can.frame_event import FrameEvent
from backend.integrations.can.message_factory import DGN_ACKNOWLEDGMENT, DGN_REQUEST, requested_dgn

_MAX_PENDING = 256


def event_record(event: FrameEvent) -> dict[str, Any]:
    """The ``coachiq decode`` record of a frame plus timestamp, direction and interface."""
    decoded = event.decoded
    to_record = getattr(decoded, "to_record", None)
    if to_record is not None:
        record = to_record()
    else:
        record = {
            "can_id": f"{event.arbitration_id:08X}",
            "dgn": f"{(event.arbitration_id >> 8) & 0x1FFFF:05X}",
            "name": None,
            "source": event.arbitration_id & 0xFF,
            "destination": None,
            "data": event.data.hex().upper(),
            "signals": {},
        }
    return {
        "timestamp": event.timestamp,
        "interface": event.interface,
        "direction": event.direction,
        **record,
    }


def _dgn(decoded: Any, arbitration_id: int) -> int:
    dgn = getattr(decoded, "dgn", None)
    if isinstance(dgn, int):
        return dgn
    dgn = (arbitration_id >> 8) & 0x1FFFF
    return dgn & 0x1FF00 if ((dgn >> 8) & 0xFF) < 0xF0 else dgn


class Sniffer:
    """The last ``size`` frames, newest last."""

    def __init__(self, size: int = 1000) -> None:
        self.frames: deque[FrameEvent] = deque(maxlen=size)

    def append(self, event: FrameEvent) -> None:
        """Keep a frame (the oldest leaves when full)."""
        self.frames.append(event)

    def records(
        self,
        limit: int = 100,
        *,
        dgn: int | None = None,
        source: int | None = None,
        direction: str | None = None,
        interface: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` records, newest first, matching every filter given."""
        result: list[dict[str, Any]] = []
        for event in reversed(self.frames):
            if direction is not None and event.direction != direction:
                continue
            if interface is not None and event.interface != interface:
                continue
            if source is not None and (event.arbitration_id & 0xFF) != source:
                continue
            if dgn is not None and _dgn(event.decoded, event.arbitration_id) != dgn:
                continue
            result.append(event_record(event))
            if len(result) >= limit:
                break
        return result


@dataclass(slots=True)
class PendingCommand:
    """A command waiting for its answer."""

    id: int
    command: FrameEvent
    deadline: float
    sent: float
    entity_id: str | None = None
    family: str | None = None
    instance: Any = None
    response_dgns: frozenset[int] = field(default_factory=frozenset)
    responder: int | None = None
    command_dgn: int = 0


def _family(name: str | None) -> str | None:
    if not name or "_COMMAND" not in name:
        return None
    return name.rsplit("_COMMAND", 1)[0] + "_STATUS"


class CommandGroups:
    """Pending commands (pruned after ``timeout``) and the ring of completed groups."""

    def __init__(self, size: int = 500, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self.pending: OrderedDict[int, PendingCommand] = OrderedDict()
        self.groups: deque[dict[str, Any]] = deque(maxlen=size)
        self.expired = 0
        self.answered = 0
        self._ids = itertools.count(1)
        # what pending commands wait for, with counts: a cheap test before scanning them
        self._want_dgns: dict[int, int] = {}
        self._families: dict[str, int] = {}

    def register(
        self,
        command: FrameEvent,
        *,
        entity_id: str | None = None,
        response_dgns: frozenset[int] | set[int] | None = None,
        now: float | None = None,
    ) -> int | None:
        """Start waiting for the answer to ``command``; None when nothing could answer it."""
        decoded = command.decoded
        name = getattr(decoded, "name", None)
        command_dgn = _dgn(decoded, command.arbitration_id)
        dgns = frozenset(response_dgns or ())
        family = None if dgns else _family(name)
        destination = (command.arbitration_id >> 8) & 0xFF
        responder = None
        if command_dgn == DGN_REQUEST:
            wanted = requested_dgn(command.data)
            if wanted is None:
                return None
            dgns = dgns | {wanted}
        if ((command_dgn >> 8) & 0xFF) < 0xF0 and destination != 0xFF:
            responder = destination
        if not dgns and family is None:
            return None
        now = time.monotonic() if now is None else now
        pending = PendingCommand(
            id=next(self._ids),
            command=command,
            deadline=now + self.timeout,
            sent=now,
            entity_id=entity_id,
            family=family,
            instance=getattr(decoded, "instance", None),
            response_dgns=dgns,
            responder=responder,
            command_dgn=command_dgn,
        )
        self.pending[pending.id] = pending
        self._want(pending, 1)
        while len(self.pending) > _MAX_PENDING:
            _, oldest = self.pending.popitem(last=False)
            self._want(oldest, -1)
            self._close(oldest, None, now)
        return pending.id

    def _want(self, pending: PendingCommand, delta: int) -> None:
        keys: list[tuple[dict[Any, int], Any]] = [
            (self._want_dgns, d) for d in pending.response_dgns
        ]
        keys.append((self._want_dgns, DGN_ACKNOWLEDGMENT))
        if pending.family is not None:
            keys.append((self._families, pending.family))
        for table, key in keys:
            count = table.get(key, 0) + delta
            if count > 0:
                table[key] = count
            else:
                table.pop(key, None)

    def _wanted(self, dgn: int, name: Any) -> bool:
        if dgn in self._want_dgns:
            return True
        if not isinstance(name, str):
            return False
        return any(name.startswith(family) for family in self._families)

    def _matches(self, pending: PendingCommand, event: FrameEvent, dgn: int, name: Any) -> bool:
        source = event.arbitration_id & 0xFF
        if pending.responder is not None and source != pending.responder:
            return False
        decoded = event.decoded
        if dgn == DGN_ACKNOWLEDGMENT:
            signals = getattr(decoded, "signals", None) or {}
            return signals.get("dgn_acknowledged") == pending.command_dgn
        if dgn in pending.response_dgns:
            return True
        if pending.family is not None and isinstance(name, str) and name.startswith(pending.family):
            return (
                pending.instance is None or getattr(decoded, "instance", None) == pending.instance
            )
        return False

    def on_rx(self, event: FrameEvent, now: float | None = None) -> None:
        """Close the oldest pending command that ``event`` answers, if any."""
        if not self.pending:
            return
        now = time.monotonic() if now is None else now
        decoded = event.decoded
        dgn = _dgn(decoded, event.arbitration_id)
        name = getattr(decoded, "name", None)
        if not self._wanted(dgn, name):
            return
        for key, pending in self.pending.items():
            if pending.command.interface == event.interface and self._matches(
                pending, event, dgn, name
            ):
                del self.pending[key]
                self._want(pending, -1)
                self._close(pending, event, now)
                self.answered += 1
                return

    def expire(self, now: float | None = None) -> int:
        """Close pending commands older than the timeout as unanswered; return how many."""
        now = time.monotonic() if now is None else now
        stale = []
        for pending in self.pending.values():
            if pending.deadline > now:
                break  # registered in order, so deadlines ascend
            stale.append(pending)
        for pending in stale:
            del self.pending[pending.id]
            self._want(pending, -1)
            self._close(pending, None, now)
        self.expired += len(stale)
        return len(stale)

    def _close(self, pending: PendingCommand, response: FrameEvent | None, now: float) -> None:
        self.groups.append(
            {
                "id": pending.id,
                "entity_id": pending.entity_id,
                "status": "answered" if response is not None else "expired",
                "latency_ms": round((now - pending.sent) * 1000, 1) if response else None,
                "command": pending.command,
                "response": response,
            }
        )

    def records(self, limit: int = 100) -> list[dict[str, Any]]:
        """Completed groups newest first, then nothing else (pending ones: ``pending_records``)."""
        result = []
        for group in itertools.islice(reversed(self.groups), limit):
            item = dict(group)
            item["command"] = event_record(group["command"])
            item["response"] = event_record(group["response"]) if group["response"] else None
            result.append(item)
        return result

    def pending_records(self) -> list[dict[str, Any]]:
        """Commands still waiting, oldest first."""
        return [
            {
                "id": p.id,
                "entity_id": p.entity_id,
                "status": "pending",
                "latency_ms": None,
                "command": event_record(p.command),
                "response": None,
            }
            for p in self.pending.values()
        ]
