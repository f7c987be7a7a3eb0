"""Simulated devices from a coach mapping file (docs/coach-mapping.md), so the simulated coach and
the server's entities never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from backend.integrations.rvc.spec import REPO_ROOT, RVCSpec
from backend.services.simulator.model import DeviceSpec

DEFAULT_MAPPING_PATH = REPO_ROOT / "config" / "coach_mapping.default.yml"


class MappingReadError(Exception):
    """The coach mapping cannot be read."""


def _dgn_name(spec: RVCSpec, item: Any) -> str:
    definition = spec.get(str(item))
    return definition.name if definition is not None else str(item)


def devices_from_mapping(data: Mapping[str, Any], spec: RVCSpec) -> list[DeviceSpec]:
    """One device per entity (two for a ``dimmer_pair``: one dimmer output per direction)."""
    default_interface = str((data.get("defaults") or {}).get("interface", "house"))
    devices: list[DeviceSpec] = []
    for entity in data.get("entities") or ():
        if not isinstance(entity, Mapping) or "entity_id" not in entity:
            continue
        statuses: list[str] = []
        extra: dict[str, dict[str, Any]] = {}
        instances: dict[str, int] = {}
        for item in entity.get("status") or ():
            if isinstance(item, Mapping):
                name = _dgn_name(spec, item.get("dgn"))
                if item.get("match"):
                    extra[name] = dict(item["match"])
                if item.get("instance") is not None:
                    instances[name] = int(item["instance"])
            else:
                name = _dgn_name(spec, item)
            statuses.append(name)
        command = entity.get("command", ...)
        commands: tuple[str, ...] | None
        if command is ...:
            commands = None
        elif command is None:
            commands = ()
        else:
            commands = (_dgn_name(spec, command),)
        options = dict(entity.get("attributes") or {})
        if "kind" in options:
            options.setdefault("fluid", options["kind"])
        capabilities = entity.get("capabilities")
        if capabilities is not None:
            options["dimmable"] = "dimmable" in capabilities
        base = {
            "type": str(entity.get("type", "")),
            "status_dgns": tuple(statuses),
            "command_dgns": commands,
            "name": str(entity.get("name", "")),
            "interface": str(entity.get("interface", default_interface)),
            "source_address": entity.get("source_address"),
            "status_extra": extra,
            "status_instances": instances,
        }
        pair = entity.get("instances")
        if entity.get("control") == "dimmer_pair" and isinstance(pair, Mapping):
            for role, instance in pair.items():
                devices.append(
                    DeviceSpec(
                        entity_id=f"{entity['entity_id']}#{role}",
                        instance=int(instance),
                        options={**options, "dimmable": False, "watts": 60.0},
                        **base,
                    )
                )
            continue
        instance = entity.get("instance")
        devices.append(
            DeviceSpec(
                entity_id=str(entity["entity_id"]),
                instance=None if instance is None else int(instance),
                options=options,
                **base,
            )
        )
    return devices


def read_mapping_devices(path: Path, spec: RVCSpec) -> list[DeviceSpec]:
    """Read ``path`` and build its devices.

    Raises:
        MappingReadError: the file is missing or not YAML.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MappingReadError(f"cannot read coach mapping {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise MappingReadError(f"{path}: a coach mapping must be a mapping")
    return devices_from_mapping(data, spec)
