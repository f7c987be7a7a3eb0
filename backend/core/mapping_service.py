"""MappingService: the owner's mapping file, edited, checked, applied in place and undone.

Every text goes through :func:`backend.core.coach_mapping.load_mapping` (the start-up loader)
before anything is written: a mapping that fails is never written nor applied, and the running
one stays. A written mapping replaces the EntityManager's in place (no restart). Each write first
keeps the file it replaces in ``<data dir>/mapping_versions/`` (newest ``rvc.mapping_versions``),
which is what undo restores.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.core.coach_mapping import (
    CONFIG_DIR,
    Availability,
    CoachMapping,
    active_mapping_path,
    empty_mapping,
    load_coach_mapping,
    load_mapping,
    owner_mapping_path,
    shipped_models,
    unmapped_reason,
)
from backend.core.entity_errors import MappingError
from backend.core.entity_manager import EntityManager, MappingChange
from backend.core.entity_model import Entity
from backend.core.entity_types import ENTITY_TYPES
from backend.core.mapping_edit import add_entity, remove_entity, slug, unified_diff
from backend.integrations.rvc.spec import RVCSpec

if TYPE_CHECKING:
    from backend.core.config import Settings

logger = logging.getLogger(__name__)

VERSIONS_DIRNAME = "mapping_versions"
# Where the wizard's first edit starts when the coach is empty (no mapping chosen).
EMPTY_MAPPING = """\
# Coach mapping written with the CoachIQ discovery wizard (docs/coach-mapping.md).
version: 1
coach:
  name: My coach
areas: []
entities: []
"""
_ACTION = re.compile(r"[^a-zA-Z0-9_.-]+")


class MappingWriteError(Exception):
    """The owner's mapping (or a saved version) cannot be written or read; one line."""


class NoVersionError(Exception):
    """Undo was asked for with no previous version kept."""


@dataclass(frozen=True, slots=True)
class Version:
    """A previous mapping kept for undo."""

    path: Path
    saved_at: float
    action: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.path.name, "saved_at": self.saved_at, "action": self.action}


def device_kinds(dgn_name: str | None) -> list[dict[str, Any]]:
    """What the spec says a device reporting ``dgn_name`` can be: ``[{type, control, roles}]``,
    in the type table's order (the first is the wizard's preselection)."""
    kinds = []
    for entity_type in ENTITY_TYPES.values():
        for control in entity_type.controls:
            if dgn_name in control.readers:
                kinds.append(
                    {
                        "type": entity_type.name,
                        "control": control.name,
                        "roles": list(control.roles),
                        "commandable": control.command_dgn is not None,
                        "capabilities": list(entity_type.default_capabilities),
                    }
                )
    return kinds


class MappingService:
    """Reads, checks, writes, reloads and undoes the coach mapping of a running EntityManager."""

    def __init__(
        self, settings: Settings, spec: RVCSpec, manager: EntityManager, *, simulated: bool = False
    ) -> None:
        self.settings = settings
        self.simulated = simulated  # the simulator runs here: the default mapping is its coach
        self.spec = spec
        self.manager = manager
        entities = settings.entities
        self.availability = Availability(entities.availability_floor, entities.availability_grace)
        self.stats = {"reloads": 0, "applied": 0, "refused": 0, "undone": 0}

    # --- where things are -----------------------------------------------------------------------

    @property
    def target(self) -> Path:
        """The file edits are written to (the owner's mapping)."""
        return owner_mapping_path(self.settings)

    @property
    def running_path(self) -> Path:
        """The file the running mapping was loaded from (the target when the coach is empty)."""
        mapping = self.manager.mapping
        if mapping is None:
            return active_mapping_path(self.settings)
        return self.target if self._empty else Path(mapping.path)

    @property
    def _empty(self) -> bool:
        """An empty coach: no mapping file was chosen (a real bus without a mapping)."""
        mapping = self.manager.mapping
        return mapping is not None and Path(mapping.path) == Path()

    @property
    def versions_dir(self) -> Path:
        """Where previous versions are kept."""
        return self.settings.data_dir() / VERSIONS_DIRNAME

    def running_text(self) -> str:
        """The running mapping's YAML text (a coach with no entities when none was chosen)."""
        if self._empty:
            return EMPTY_MAPPING
        try:
            return self.running_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingWriteError(
                f"cannot read {self.running_path}: {exc.strerror or exc}"
            ) from None

    def summary(self) -> dict[str, Any]:
        """The running mapping, where edits go and what undo would restore."""
        mapping = self.manager.mapping
        return {
            "path": str(self.running_path),
            "target": str(self.target),
            "coach": dict(mapping.coach) if mapping else {},
            "areas": [{"id": k, "name": v} for k, v in self.manager.areas.items()],
            "entities": len(self.manager.get_all_entities()),
            "versions": [v.to_dict() for v in reversed(self.versions())],
            "examples": shipped_models(),
            "stats": dict(self.stats),
        }

    # --- checking -------------------------------------------------------------------------------

    def check(self, text: str, path: Path | None = None) -> CoachMapping:
        """Load ``text`` with the start-up loader, problems named against ``path`` (the target).

        Raises:
            MappingError: one ``file:line: where: what`` line per problem.
        """
        return load_mapping(path or self.target, self.spec, self.availability, text=text)

    def preview(self, text: str) -> dict[str, Any]:
        """What applying ``text`` would do: its problems, else the entity and text differences."""
        current = self.running_text()
        result: dict[str, Any] = {
            "valid": True,
            "problems": [],
            "diff": unified_diff(current, text, str(self.running_path), str(self.target)),
        }
        try:
            proposed = self.check(text)
        except MappingError as exc:
            result.update(valid=False, problems=list(exc.problems))
            return result
        before = {e.entity_id: _describe(e) for e in self.manager.get_all_entities()}
        after = {e.entity_id: _describe(e) for e in proposed.entities}
        result["added"] = sorted(set(after) - set(before))
        result["removed"] = sorted(set(before) - set(after))
        result["changed"] = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        result["entities"] = len(proposed.entities)
        return result

    # --- applying -------------------------------------------------------------------------------

    def reload(self) -> MappingChange:
        """Load the mapping file the settings select again and apply it in place.

        Raises:
            MappingError: the file fails validation; the running mapping stays.
        """
        reason = unmapped_reason(self.settings, simulated=self.simulated)
        try:
            mapping = (
                empty_mapping(reason) if reason else load_coach_mapping(self.settings, self.spec)
            )
        except MappingError:
            self.stats["refused"] += 1
            raise
        self.stats["reloads"] += 1
        change = self.manager.replace_mapping(mapping)
        logger.info(
            "Coach mapping %s reloaded: +%d -%d =%d",
            mapping.path,
            len(change.added),
            len(change.removed),
            len(change.kept),
        )
        return change

    def apply(self, text: str, action: str) -> MappingChange:
        """Check ``text``, keep the current owner file as a version, write, apply in place.

        Raises:
            MappingError: ``text`` fails validation; nothing is written or applied.
            MappingWriteError: the file or the version cannot be written.
        """
        try:
            mapping = self.check(text)
        except MappingError:
            self.stats["refused"] += 1
            raise
        self._keep_version(self.running_text(), action)
        self._write(self.target, text)
        self.stats["applied"] += 1
        return self.manager.replace_mapping(mapping)

    def undo(self) -> MappingChange:
        """Restore the newest kept version (checked again first) and apply it.

        Raises:
            NoVersionError: nothing to undo.
            MappingError: the kept version no longer loads (left in place).
            MappingWriteError: the file cannot be written.
        """
        versions = self.versions()
        if not versions:
            raise NoVersionError("no previous mapping version is kept; nothing to undo")
        newest = versions[-1]
        try:
            text = newest.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingWriteError(f"cannot read {newest.path}: {exc.strerror or exc}") from None
        mapping = self.check(text)
        self._write(self.target, text)
        with contextlib.suppress(OSError):
            newest.path.unlink()
        self.stats["undone"] += 1
        return self.manager.replace_mapping(mapping)

    def name_device(self, request: Mapping[str, Any]) -> tuple[str, MappingChange]:
        """Add (or replace) the entity the wizard named; returns its id and the change.

        ``request``: ``dgn`` (name) and ``instance`` of the device, or ``instances`` by role for
        a dimmer pair; ``type``, ``name``, optional ``control``, ``area`` (an id, or a new
        area's name), ``hidden``, ``capabilities``, ``entity_id``.

        Raises:
            ValueError: the request does not fit the device (message names the field).
            MappingError / MappingWriteError: as :meth:`apply`.
        """
        entity, new_area = self._wizard_entity(request)
        text = add_entity(self.running_text(), entity, new_area)
        return entity["entity_id"], self.apply(text, f"add {entity['entity_id']}")

    def remove(self, entity_id: str) -> MappingChange:
        """Remove an entity from the owner's mapping (undo brings it back)."""
        text = remove_entity(self.running_text(), entity_id)
        return self.apply(text, f"remove {entity_id}")

    def example_text(self, model: str) -> str:
        """The text of a shipped mapping ``config/coach_mapping.<model>.yml``.

        Raises:
            ValueError: no such shipped model (names the shipped ones).
        """
        if model not in shipped_models():
            raise ValueError(
                f"example: unknown shipped mapping {model!r}; examples: "
                + ", ".join(shipped_models())
            )
        return (CONFIG_DIR / f"coach_mapping.{model}.yml").read_text(encoding="utf-8")

    # --- versions -------------------------------------------------------------------------------

    def versions(self) -> list[Version]:
        """Kept versions, oldest first."""
        directory = self.versions_dir
        if not directory.is_dir():
            return []
        kept = []
        for path in sorted(directory.glob("*.yml")):
            stamp, _, action = path.stem.partition("_")
            try:
                saved_at = int(stamp) / 1e6
            except ValueError:
                continue
            kept.append(Version(path, saved_at, action.replace("~", " ")))
        return kept

    def _keep_version(self, text: str, action: str) -> None:
        directory = self.versions_dir
        stamp = max(time.time_ns() // 1000, self._last_stamp() + 1)
        name = f"{stamp:016d}_{_ACTION.sub('~', action)[:80]}.yml"
        self._write(directory / name, text)
        for old in self.versions()[: -self.settings.rvc.mapping_versions]:
            with contextlib.suppress(OSError):
                old.path.unlink()

    def _last_stamp(self) -> int:
        versions = self.versions()
        return int(versions[-1].saved_at * 1e6) if versions else 0

    @staticmethod
    def _write(path: Path, text: str) -> None:
        """Replace ``path`` atomically (a temporary file in the same directory, then rename)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise MappingWriteError(
                f"cannot write {path}: {exc.strerror or exc}; set COACHIQ_PERSISTENCE__DATA_DIR "
                "(or COACHIQ_RVC__COACH_MAPPING_PATH) to a writable place"
            ) from None

    # --- the wizard's entity --------------------------------------------------------------------

    def _wizard_entity(
        self, request: Mapping[str, Any]
    ) -> tuple[dict[str, Any], tuple[str, str] | None]:
        dgn = request.get("dgn")
        definition = self.spec.get(dgn) if isinstance(dgn, str | int) else None
        if definition is None:
            raise ValueError(f"dgn: unknown DGN {dgn!r}")
        kinds = device_kinds(definition.name)
        if not kinds:
            raise ValueError(f"dgn: {definition.name} reports no entity type CoachIQ maps")
        type_name = request.get("type") or kinds[0]["type"]
        fitting = [k for k in kinds if k["type"] == type_name]
        if request.get("control"):
            fitting = [k for k in fitting if k["control"] == request["control"]]
        if not fitting:
            allowed = ", ".join(sorted({f"{k['type']} ({k['control']})" for k in kinds}))
            raise ValueError(
                f"type: a {definition.name} device cannot be {type_name!r}; it can be: {allowed}"
            )
        kind = fitting[0]
        name = str(request.get("name") or "").strip()
        if not name:
            raise ValueError("name: give the device a name (e.g. 'Porch light')")
        entity_id = request.get("entity_id") or f"{type_name}.{slug(name)}"
        existing = self.manager.get_entity(entity_id)
        if existing is not None and not request.get("replace"):
            raise ValueError(f"entity_id: '{entity_id}' exists already; choose another name")
        entity: dict[str, Any] = {
            "entity_id": entity_id,
            "name": name,
            "type": type_name,
            "control": kind["control"],
        }
        area, new_area = self._area(request.get("area"))
        if area is not None:
            entity["area"] = area
        if kind["roles"]:
            instances = request.get("instances")
            if not isinstance(instances, Mapping) or set(instances) != set(kind["roles"]):
                raise ValueError(
                    f"instances: a {type_name} driven as a dimmer pair needs one instance for "
                    f"each of {', '.join(kind['roles'])}"
                )
            entity["instances"] = {role: int(instances[role]) for role in kind["roles"]}
        elif definition.instance is not None:
            instance = request.get("instance")
            if not isinstance(instance, int) or isinstance(instance, bool):
                raise ValueError(f"instance: {definition.name} needs the device's instance")
            entity["instance"] = instance
        control = ENTITY_TYPES[type_name].control(kind["control"])
        if control is not None and definition.name not in control.status_dgns:
            entity["status"] = [definition.name]
        capabilities = request.get("capabilities")
        if capabilities is not None:
            entity["capabilities"] = list(capabilities)
        if request.get("hidden"):
            entity["hidden"] = True
        return entity, new_area

    def _area(self, value: Any) -> tuple[str | None, tuple[str, str] | None]:
        if value is None or value == "":
            return None, None
        text = str(value).strip()
        areas = self.manager.mapping.areas if self.manager.mapping else {}
        if text in areas:
            return text, None
        for area_id, area_name in areas.items():
            if area_name.lower() == text.lower():
                return area_id, None
        area_id = slug(text)
        if not area_id:
            raise ValueError("area: an area needs a name with letters or digits")
        return area_id, (area_id, text)


def _describe(entity: Entity) -> tuple[Any, ...]:
    return (
        entity.name,
        entity.entity_type,
        entity.control.name,
        entity.area,
        entity.instance,
        tuple(sorted(entity.instances.items())),
        entity.hidden,
        entity.command_dgn,
        tuple(sorted((b.dgn_name, b.instance, b.match) for b in entity.bindings)),
    )
