"""What a raw frame sent through ``POST /api/can/send`` may not be.

Raw send is for diagnostics by an admin. It may not pretend to be another node (its source
address must be CoachIQ's own), claim or command addresses, or carry the motion and chassis DGNs
that the motion-safety rules govern: those go through entity commands only, where the interlocks,
leases and the motion grant apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backend.safety.classify import is_motion_entity

# DGN -> name, from the RV-C specification (config/rvc.json) and J1939-81 for the address ones.
ADDRESS_DGNS: dict[int, str] = {
    0x0EE00: "ADDRESS_CLAIMED",
    0x0FED8: "COMMANDED_ADDRESS",
}
MOTION_DGNS: dict[int, str] = {
    0x1FFE7: "SLIDE_COMMAND",
    0x1FEF2: "AWNING_COMMAND",
    0x1FDCC: "AWNING_COMMAND_2",
    0x1FE88: "STEP_COMMAND",
    0x1FFEE: "LEVELING_CONTROL_COMMAND",
    0x1FDE8: "LEVELING_SENSOR_PITCH_CONFIG_COMMAND",
    0x1FDEA: "LEVELING_SENSOR_ROLL_CONFIG_COMMAND",
    0x1FEBC: "HYDRAULIC_PUMP_COMMAND",
    0x1FEDF: "WINDOW_SHADE_CONTROL_COMMAND",
    0x1FEA6: "ROOF_FAN_COMMAND_1",
    0x1FDE2: "ROOF_FAN_COMMAND_2",
}
CHASSIS_DGNS: dict[int, str] = {
    0x1FFF3: "CHASSIS_MOBILITY_COMMAND",
    0x1FFF4: "CHASSIS_MOBILITY_STATUS",
    0x1FEA8: "CHASSIS_MOBILITY_STATUS_2",
}
# Shared with lights: refused only for the instances a motion entity uses (motors on dimmers).
DIMMER_DGNS: dict[int, str] = {0x1FEDB: "DC_DIMMER_COMMAND_2", 0x1FFB9: "DC_DIMMER_COMMAND"}


def dgn_of(arbitration_id: int) -> int:
    """The DGN of a 29-bit id (PDU1: the destination byte is not part of it)."""
    dgn = (arbitration_id >> 8) & 0x1FFFF
    return dgn & 0x1FF00 if ((dgn >> 8) & 0xFF) < 0xF0 else dgn


def motion_dimmer_instances(entities: Iterable[Any]) -> frozenset[int]:
    """Dimmer instances that drive motion loads (a motor on a dimmer pair)."""
    found: set[int] = set()
    for entity in entities:
        if entity.command_dgn not in DIMMER_DGNS.values() or not is_motion_entity(entity):
            continue
        found.update(entity.instances.values() if entity.instances else [entity.instance])
    found.discard(None)  # type: ignore[arg-type]
    return frozenset(found)


def raw_send_problem(
    arbitration_id: int, data: bytes, own_source: int, motion_instances: frozenset[int]
) -> str | None:
    """Why this raw frame may not be sent, or None."""
    source = arbitration_id & 0xFF
    if source != own_source:
        return (
            f"can_id: source address {source} (0x{source:02X}) is not CoachIQ's own "
            f"({own_source}, 0x{own_source:02X}); raw frames may not impersonate another node"
        )
    dgn = dgn_of(arbitration_id)
    if dgn in ADDRESS_DGNS:
        return f"can_id: {ADDRESS_DGNS[dgn]} ({dgn:05X}) may not be sent raw (address claiming)"
    if dgn in MOTION_DGNS or dgn in CHASSIS_DGNS:
        name = MOTION_DGNS.get(dgn) or CHASSIS_DGNS[dgn]
        return (
            f"can_id: {name} ({dgn:05X}) is governed by the motion-safety rules; send it as an "
            "entity command (POST /api/entities/{id}/command)"
        )
    if dgn in DIMMER_DGNS and data and data[0] in motion_instances:
        return (
            f"can_id: {DIMMER_DGNS[dgn]} instance {data[0]} drives a motion load; send it as an "
            "entity command"
        )
    return None
