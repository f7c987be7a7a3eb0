"""Lockouts a device has announced: the movements it says it will refuse, read from its status.

Pure rules over decoded status signals (labels as config/rvc.json names them):
SLIDE_STATUS (6.14.1) bytes 3-5, AWNING_STATUS (6.38.2) bytes 3-4, AWNING_STATUS_2 (6.38.4)
bytes 3-4 (lockout bitmasks evaluated against CHASSIS_MOBILITY_STATUS), LEVELING_CONTROL_STATUS
(6.13.2: byte 7 for the leveling system itself, its operating mode for slides) and
VEHICLE_ENVIRONMENT_STATUS (6.11.5) "confined space" (no slide or awning goes out
in a confined space). A movement is ``extend`` (going out) or ``retract`` (coming in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["extend", "retract"]
Signals = Mapping[str, Any]

# (signal, label that means "will not move", what to tell the owner)
_SLIDE_BITS = (
    ("unlock_status", "slide_is_not_unlocked_and_shall_not_be_moved", "slide is not unlocked"),
    ("user_lock_status", "user_lock_is_activated", "user lock is activated"),
    ("park_brake", "slide_shall_not_move_because_of_park_brake_status", "park brake status"),
    ("leveling_jacks", "slide_shall_not_move_because_of_leveler_status", "leveling jacks"),
    ("ignition_key", "slide_shall_not_move_because_of_ignition_status", "ignition status"),
    ("air_seal", "slide_shall_not_move_because_of_air_seal_status", "air seal status"),
    ("low_voltage", "slide_shall_not_move_because_of_low_voltage_status", "low voltage"),
)
_AWNING_BITS = (
    ("unlock_status", "awning_is_not_unlocked_and_should_not_be_moved", "awning is not unlocked"),
    ("user_lock_status", "user_lock_is_activated", "user lock is activated"),
    ("parked_status", "awning_will_not_move_because_of_parked_status", "parked status"),
    ("ignition_key", "awning_will_not_move_because_of_ignition_status", "ignition status"),
    ("low_voltage", "awning_will_not_move_because_of_low_voltage_status", "low voltage"),
    ("generic_lock", "awning_will_not_move_because_of_generic_lockout_signal_status", "generic"),
)
# LEVELING_CONTROL_STATUS (6.13.2) byte 7: "Leveling system may not operate because of ..."
_LEVELING_BITS = (
    (
        "park_brake",
        "leveling_system_may_not_operate_because_of_park_brake_status",
        "park brake status",
    ),
    (
        "ignition_key",
        "leveling_system_may_not_operate_because_of_ignition_status",
        "ignition status",
    ),
    ("low_voltage", "leveling_system_may_not_operate_because_of_low_voltage_status", "low voltage"),
    (
        "other_lockout",
        "leveling_system_may_not_operate_because_of_an_additional_lockout",
        "an additional lockout",
    ),
)
# AWNING_STATUS_2 bytes 3 and 4: bit n set -> locked out while chassis condition n holds:
# (bit, what, CHASSIS_MOBILITY_STATUS signal, the values in which the condition holds).
_STILL = (251, 125, None)  # gear 251 = park, 125 = neutral (table 6.11.2b), or not reported
_CHASSIS_CONDITIONS: tuple[tuple[int, str, str, Any], ...] = (
    (1, "park brake off", "park_brake_status", ("park_brake_released",)),
    (2, "transmission not locked", "transmission_lock_status", ("transmission_is_not_locked",)),
    (3, "engine free to start", "engine_lock_status", ("engine_is_free_to_start",)),
    (4, "ignition switch on", "ignition_switch_status", ("on",)),
    (5, "accessory switch on", "accessory_switch_status", ("on",)),
    (6, "transmission not in park or neutral", "transmission_current_gear", _STILL),
    (7, "gear selected not park or neutral", "transmission_gear_selected", _STILL),
)


def _holds(chassis: Signals, signal: str, values: tuple[Any, ...]) -> bool:
    value = chassis.get(signal)
    if values is _STILL:
        return value not in _STILL
    return value in values


CONFINED = "rv_is_in_a_confined_space"
# LEVELING_CONTROL_STATUS operating modes during which a slide must not move (jacks in motion).
_LEVELING_BUSY = frozenset(
    {
        "automatic_hydraulic_electric_leveling_active",
        "automatic_air_leveling_active",
        "store_active",
        "start_deploy_kick_down_jacks",
    }
)


@dataclass(frozen=True, slots=True)
class Lockout:
    """One announced lockout: which DGN says it, and what it is."""

    source: str
    reason: str
    directions: tuple[Direction, ...] = ("extend", "retract")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"source": self.source, "reason": self.reason, "directions": list(self.directions)}


def _bits(source: str, signals: Signals | None, table: tuple[tuple[str, str, str], ...]):
    if not signals:
        return []
    return [
        Lockout(source, f"{text} ({name})")
        for name, label, text in table
        if signals.get(name) == label
    ]


def _mask(source: str, value: Any, chassis: Signals | None, what: str, dirs: tuple[Direction, ...]):
    if not isinstance(value, int) or value in (0, 0xFF) or not chassis:
        return []  # 0xFF: not available
    return [
        Lockout(source, f"{what} locked out: {text}", dirs)
        for bit, text, signal, values in _CHASSIS_CONDITIONS
        if value & (1 << bit) and _holds(chassis, signal, values)
    ]


def entity_lockouts(
    entity_type: str,
    statuses: Mapping[str, Signals],
    chassis: Signals | None = None,
    environment: Signals | None = None,
    leveling: Signals | None = None,
) -> list[Lockout]:
    """Lockouts in force for one motion entity.

    Args:
        entity_type: ``slide``, ``awning``, ...
        statuses: the entity's last status signals by DGN name (SLIDE_STATUS, AWNING_STATUS,
            AWNING_STATUS_2, LEVELING_CONTROL_STATUS).
        chassis: the last CHASSIS_MOBILITY_STATUS signals (for AWNING_STATUS_2's masks).
        environment: the last VEHICLE_ENVIRONMENT_STATUS signals.
        leveling: the last LEVELING_CONTROL_STATUS signals.
    """
    out: list[Lockout] = []
    out += _bits("SLIDE_STATUS", statuses.get("SLIDE_STATUS"), _SLIDE_BITS)
    out += _bits("AWNING_STATUS", statuses.get("AWNING_STATUS"), _AWNING_BITS)
    second = statuses.get("AWNING_STATUS_2") or {}
    out += _mask(
        "AWNING_STATUS_2",
        second.get("extension_lockout_based_on_chassis_mobility_status"),
        chassis,
        "extension",
        ("extend",),
    )
    out += _mask(
        "AWNING_STATUS_2",
        second.get("retract_and_extension_lockout_based_on_chassis_mobility_status"),
        chassis,
        "retract and extension",
        ("extend", "retract"),
    )
    confined = bool(environment) and environment.get("open_space") == CONFINED  # type: ignore[union-attr]
    if entity_type in ("slide", "awning") and confined:
        out.append(
            Lockout(
                "VEHICLE_ENVIRONMENT_STATUS",
                f"the coach is in a confined space; no {entity_type} goes out",
                ("extend",),
            )
        )
    if entity_type == "leveling":
        own = statuses.get("LEVELING_CONTROL_STATUS") or leveling
        out += [
            Lockout(lock.source, f"leveling system may not operate: {lock.reason}")
            for lock in _bits("LEVELING_CONTROL_STATUS", own, _LEVELING_BITS)
        ]
    if entity_type == "slide" and leveling:
        mode = leveling.get("operating_mode")
        # the four-point/biax/3-point/multi-point automatic modes (51-54, 81-84) level too
        automatic = isinstance(mode, str) and mode.startswith("automatic_")
        if mode in _LEVELING_BUSY or automatic:
            out.append(Lockout("LEVELING_CONTROL_STATUS", f"leveling system busy: {mode}"))
    return out


def blocking(lockouts: list[Lockout], direction: Direction) -> list[Lockout]:
    """The lockouts that refuse a movement in ``direction``."""
    return [lock for lock in lockouts if direction in lock.directions]
