"""Which entities and commands move something (the one place motion is decided).

Motion safety (hold-to-run leases, the coach-is-moving interlock, lockouts) and the ``motion``
permission of the security layer both ask these functions, so a device is either a motion device
everywhere or nowhere. The mapping's ``motion: true|false`` on an entity overrides its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Types whose every movement is a motion load.
MOTION_TYPES = frozenset({"slide", "awning", "leveling", "step", "shade", "roof_fan"})
# Motion loads that may move while the coach drives (a window shade, a roof fan's dome): they are
# motion for permissions and Stop, but not interlocked with CHASSIS_MOBILITY_STATUS and run
# without a hold lease (their controllers time the move themselves: 6.39 duration, lid quarters).
CABIN_TYPES = frozenset({"shade", "roof_fan"})
STOP_COMMAND = "stop"
# Leveling commands the system's firmware runs to the end by itself (LEVELING_CONTROL_COMMAND
# automatic modes and "store"): sent once without a lease on a ``self_run`` system; its manual
# jack moves stay hold-to-run whatever the mapping says.
SELF_RUN_LEVELING = frozenset({"auto_level", "store"})


class _EntityLike(Protocol):
    entity_type: str
    motion: bool | None
    self_run: bool

    @property
    def control(self) -> Any: ...


def _control_name(entity: _EntityLike) -> str | None:
    return getattr(entity.control, "name", None)


def is_motion_entity(entity: _EntityLike) -> bool:
    """True when the entity moves something: slides, awnings, leveling, steps, shades, roof-fan
    lids, motors on a dimmer pair, or anything the mapping marks ``motion: true``."""
    if entity.motion is not None:
        return entity.motion
    return entity.entity_type in MOTION_TYPES or _control_name(entity) == "dimmer_pair"


def is_motion_command(entity: _EntityLike, command: str, args: Mapping[str, Any]) -> bool:
    """True when this command on this entity starts a movement (``stop`` never does).

    A roof fan's command moves only when it carries ``lid``; its speed or direction alone is not
    a movement.
    """
    if command == STOP_COMMAND or not is_motion_entity(entity):
        return False
    if entity.entity_type == "roof_fan":
        return "lid" in args
    return True


def is_stop_command(entity: _EntityLike, command: str) -> bool:
    """True for ``stop`` on a motion entity: never gated by an interlock, lockout or lease."""
    return command == STOP_COMMAND and is_motion_entity(entity)


def needs_parked(entity: _EntityLike) -> bool:
    """True when a movement of the entity is refused unless the coach is parked."""
    if not is_motion_entity(entity):
        return False
    return entity.entity_type not in CABIN_TYPES


def needs_hold(entity: _EntityLike, command: str | None = None) -> bool:
    """True when a movement runs only while its commander holds it (a hold-to-run lease).

    False for cabin loads (their controllers time the move) and for devices the mapping marks
    ``self_run: true`` (the firmware runs a whole move: extend to position). A leveling system's
    manual jack moves are always held; only its ``auto_level`` and ``store`` run by themselves.
    """
    if not needs_parked(entity):
        return False
    if entity.entity_type == "leveling":
        return command not in SELF_RUN_LEVELING
    return not entity.self_run
