"""Hold-to-run leases: a movement lives while its commander keeps renewing it.

A lease is started by a motion command and renewed by the same command on the same entity within
``hold_timeout``; it lapses when not renewed, when its owner closes (a WebSocket connection, an
MQTT session), or at ``max_run`` (``COACHIQ_ENTITIES__MOTOR_RUN_SECONDS``, the absolute cap).
Plain bookkeeping with an injected clock; the EntityService runs the motor and sends the Stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CAPPED = "maximum run time reached"
LAPSED = "hold lapsed (not renewed)"


@dataclass(slots=True)
class Lease:
    """One held movement."""

    entity_id: str
    command: dict[str, Any]
    command_id: str
    owner: str | None
    client: str | None
    started: float  # monotonic
    deadline: float  # monotonic: lapses after this unless renewed
    cap: float  # monotonic: never runs past this
    held: bool = True  # False: runs without renewals (the firmware runs the move)
    renewals: int = 0
    ended: str | None = None  # why it ended (lapsed, owner closed, stopped, ...)
    owners: set[str] = field(default_factory=set)

    def same_command(self, command: Mapping[str, Any]) -> bool:
        """True when ``command`` renews this lease (same command and arguments)."""
        return dict(command) == self.command

    def renew(self, now: float, hold_timeout: float, owner: str | None) -> None:
        """Push the deadline to ``now + hold_timeout`` (never past the cap)."""
        self.deadline = min(self.cap, now + hold_timeout)
        self.renewals += 1
        if owner is not None:
            self.owners.add(owner)

    def expired(self, now: float) -> str | None:
        """Why the lease is over at ``now`` (``lapsed``, ``max run``), or None while it lives."""
        if now >= self.cap:
            return CAPPED
        if self.held and now >= self.deadline:
            return LAPSED
        return None

    def to_dict(self, now: float) -> dict[str, Any]:
        """JSON-ready view for GET /api/safety."""
        return {
            "entity_id": self.entity_id,
            "command": dict(self.command),
            "command_id": self.command_id,
            "owner": self.owner,
            "client": self.client,
            "held": self.held,
            "running_s": round(now - self.started, 3),
            "expires_in_ms": round(max(0.0, self.deadline - now) * 1000) if self.held else None,
            "max_run_left_s": round(max(0.0, self.cap - now), 3),
            "renewals": self.renewals,
        }


def start_lease(
    entity_id: str,
    command: Mapping[str, Any],
    command_id: str,
    *,
    now: float,
    hold_timeout: float,
    max_run: float,
    held: bool,
    owner: str | None = None,
    client: str | None = None,
) -> Lease:
    """A new lease starting at ``now``."""
    cap = now + max_run
    return Lease(
        entity_id,
        dict(command),
        command_id,
        owner,
        client,
        started=now,
        deadline=min(cap, now + hold_timeout) if held else cap,
        cap=cap,
        held=held,
        owners={owner} if owner is not None else set(),
    )
