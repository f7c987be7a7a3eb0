"""RV-C command interlock, as a simulated device honours it.

DC_LOAD_COMMAND (6.23.4), AC_LOAD_COMMAND (6.22.4), DC_DIMMER_COMMAND_2 (6.24.6),
WINDOW_SHADE_CONTROL_COMMAND (6.39.3) and DC_MOTOR_CONTROL_COMMAND carry Interlock A (bit 0)
and Interlock B (bit 1) in their ``interlock`` field: "A command message with either interlock
bit set to '1' will not be activated until an identical message is received from a different
source with the opposing interlock bit set to '1'." A sender that leaves the field all ones (both
bits set) is never obeyed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from backend.integrations.rvc.spec import DgnDefinition

INTERLOCK_A = 0b01
INTERLOCK_B = 0b10
HOLD_SECONDS = 2.0  # how long a half of an interlocked pair waits (the spec gives no limit)
HOLD_LIMIT = 256  # commands waiting for their other half, at most


@dataclass(frozen=True, slots=True)
class _Held:
    bits: int
    source: int
    since: float


class InterlockGate:
    """Decides whether a received command may act; holds interlocked halves (bounded)."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS, limit: int = HOLD_LIMIT) -> None:
        self.hold_seconds = hold_seconds
        self.limit = limit
        self._held: OrderedDict[tuple[int, int, int], _Held] = OrderedDict()
        self._shift: dict[int, int | None] = {}
        self.stats = {"held": 0, "released": 0, "dropped": 0}

    def _interlock_shift(self, definition: DgnDefinition) -> int | None:
        """Bit position of the DGN's interlock field in the frame, or None when it has none."""
        if definition.dgn not in self._shift:
            start = next((f.start for f in definition.fields if f.name == "interlock"), None)
            self._shift[definition.dgn] = start
        return self._shift[definition.dgn]

    def admit(self, definition: DgnDefinition, can_id: int, data: bytes, now: float) -> bool:
        """True when the command acts now: no interlock bit set, or it completes a pair."""
        shift = self._interlock_shift(definition)
        if shift is None or len(data) * 8 <= shift:
            return True
        raw = int.from_bytes(data, "little")
        bits = (raw >> shift) & (INTERLOCK_A | INTERLOCK_B)
        if not bits:
            return True
        key = (definition.dgn, len(data), raw & ~((INTERLOCK_A | INTERLOCK_B) << shift))
        source = can_id & 0xFF
        other = self._held.pop(key, None)
        if (
            other is not None
            and other.source != source
            and now - other.since <= self.hold_seconds
            and {other.bits, bits} == {INTERLOCK_A, INTERLOCK_B}
        ):
            self.stats["released"] += 1
            return True
        while self._held and (
            len(self._held) >= self.limit
            or now - next(iter(self._held.values())).since > self.hold_seconds
        ):
            self._held.popitem(last=False)
            self.stats["dropped"] += 1
        self._held[key] = _Held(bits, source, now)
        self.stats["held"] += 1
        return False
