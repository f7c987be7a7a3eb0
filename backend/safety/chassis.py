"""The coach-is-moving interlock: CHASSIS_MOBILITY_STATUS (1FFF4, spec 6.11.2) -> parked or why not.

Pure rules: :func:`interlock_verdict` takes the last decoded signals and their age and says
whether a motion load may move. It fails closed: no status within the DGN's maximum broadcast gap
(5000 ms) refuses motion, unless the coach mapping says the chassis does not report it
(``chassis: {mobility_status: absent}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHASSIS_MOBILITY_STATUS = 0x1FFF4
MOBILITY_MAX_GAP_S = 5.0  # spec table 6.11.2a, maximum broadcast gap
PARK_BRAKE_ENGAGED = "park_brake_engaged"
PARK_BRAKE_RELEASED = "park_brake_released"
# Transmission gears (table 6.11.2b): 125 neutral, 251 park; heavy transmissions park in neutral.
# The gear is a number (its name, "park", is in the message's labels).
GEAR_NEUTRAL = 125
GEAR_PARK = 251
STILL_GEARS = frozenset({GEAR_NEUTRAL, GEAR_PARK})


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether motion loads may move, and the reason when they may not."""

    parked: bool
    reason: str
    moving: bool = False  # the coach moves (speed) or may roll (park brake released)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"parked": self.parked, "reason": self.reason, "moving": self.moving}


def interlock_verdict(
    signals: Mapping[str, Any] | None,
    age: float | None,
    *,
    absent: bool = False,
    max_gap: float = MOBILITY_MAX_GAP_S,
    max_speed_kph: float = 0.5,
) -> Verdict:
    """Decide from the last CHASSIS_MOBILITY_STATUS (its signals and age in seconds).

    Args:
        signals: decoded signals of the last status, None when none was received.
        age: seconds since it was received (None when none was).
        absent: the mapping says this chassis does not report the DGN (no interlock).
        max_gap: seconds after which the status no longer counts (spec gap plus grace).
        max_speed_kph: speeds above this mean the coach is moving.
    """
    if absent:
        return Verdict(
            True,
            "not interlocked: the coach mapping says this chassis does not report "
            "CHASSIS_MOBILITY_STATUS (chassis: {mobility_status: absent})",
        )
    if signals is None or age is None:
        return Verdict(
            False,
            "no CHASSIS_MOBILITY_STATUS (1FFF4) received, so CoachIQ cannot tell the coach is "
            "parked; check the chassis interface (COACHIQ_CAN__INTERFACE_MAPPINGS), or set "
            "chassis: {mobility_status: absent} in the coach mapping if this chassis does not "
            "send it",
        )
    if age > max_gap:
        return Verdict(
            False,
            f"no CHASSIS_MOBILITY_STATUS (1FFF4) for {age:.1f} s (maximum gap "
            f"{max_gap:g} s), so CoachIQ cannot tell the coach is parked; check the chassis "
            "interface (COACHIQ_CAN__INTERFACE_MAPPINGS), or set chassis: {mobility_status: "
            "absent} in the coach mapping if this chassis does not send it",
        )
    speed = signals.get("vehicle_speed")
    brake = signals.get("park_brake_status")
    gear = signals.get("transmission_current_gear")
    if isinstance(speed, int | float) and speed > max_speed_kph:
        return Verdict(False, f"coach moving at {speed:.0f} km/h", moving=True)
    if brake == PARK_BRAKE_RELEASED:
        return Verdict(False, "park brake released", moving=True)
    if brake != PARK_BRAKE_ENGAGED:
        return Verdict(False, "park brake status not reported (CHASSIS_MOBILITY_STATUS byte 4)")
    if gear is not None and gear not in STILL_GEARS:
        return Verdict(False, "transmission not in park or neutral")
    if speed is None:
        # Engaged park brake immobilises the coach (6.11.2b) even when the speed is unknown.
        return Verdict(True, "parked: park brake engaged (vehicle speed not reported)")
    return Verdict(True, "parked: park brake engaged, 0 km/h")
