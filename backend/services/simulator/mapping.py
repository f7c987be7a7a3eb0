"""Simulated devices from a coach mapping, loaded and checked by the server's own loader
(``backend.core.coach_mapping``), so the simulated coach and the server's entities never
disagree: a file the server refuses, the simulator refuses with the same lines."""

from __future__ import annotations

from pathlib import Path

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, CoachMapping, load_mapping
from backend.core.entity_model import Entity
from backend.integrations.rvc.spec import RVCSpec
from backend.services.simulator.chassis import chassis_device
from backend.services.simulator.model import DeviceSpec

__all__ = ["DEFAULT_MAPPING_PATH", "devices_from_mapping", "read_mapping_devices"]


def _device(entity: Entity, entity_id: str, instance: int | None, **options: object) -> DeviceSpec:
    bindings = [b for b in entity.bindings if b.role is None or entity_id.endswith(f"#{b.role}")]
    base_options = dict(entity.attributes)
    if "kind" in base_options:
        base_options.setdefault("fluid", base_options["kind"])
    base_options["dimmable"] = "dimmable" in entity.capabilities
    base_options.update(options)
    return DeviceSpec(
        entity_id=entity_id,
        type=entity.entity_type,
        instance=instance,
        status_dgns=tuple(dict.fromkeys(b.dgn_name for b in bindings)),
        command_dgns=(entity.command_dgn,) if entity.command_dgn else (),
        name=entity.name,
        interface=entity.interface,
        options=base_options,
        source_address=entity.source_address,
        status_extra={b.dgn_name: dict(b.match) for b in bindings if b.match},
        status_instances={
            b.dgn_name: b.instance
            for b in bindings
            if b.role is None and b.instance is not None and b.instance != instance
        },
    )


def devices_from_mapping(mapping: CoachMapping) -> list[DeviceSpec]:
    """One device per entity (two for a ``dimmer_pair``: one dimmer output per direction).

    A device broadcasts the status DGNs its entity is bound to and accepts its command DGN.
    The chassis (CHASSIS_MOBILITY_STATUS) is added unless the mapping says it is absent.
    """
    devices: list[DeviceSpec] = []
    if mapping.chassis.get("mobility_status") != "absent":
        devices.append(chassis_device())
    for entity in mapping.entities:
        if entity.control.roles:
            for role in entity.control.roles:
                devices.append(
                    _device(
                        entity,
                        f"{entity.entity_id}#{role}",
                        entity.instances[role],
                        dimmable=False,
                        watts=60.0,
                    )
                )
            continue
        devices.append(_device(entity, entity.entity_id, entity.instance))
    return devices


def read_mapping_devices(path: Path, spec: RVCSpec) -> list[DeviceSpec]:
    """Load ``path`` with the server's loader and build its devices.

    Raises:
        MappingError: the file is missing, not YAML or not a valid mapping (``file:line`` lines).
    """
    return devices_from_mapping(load_mapping(path, spec))
