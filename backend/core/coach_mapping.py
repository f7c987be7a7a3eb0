"""Loading a coach mapping file: YAML -> schema check -> meaning check -> entity records.

Every problem is reported with the file, the line and what is wrong
(``config/x.yml:42: entities[3].status[0]: unknown DGN 'DC_DIMMER_STATUS_9'``), all at once, in a
:class:`MappingError` that stops start-up. Format: ``docs/coach-mapping.md``.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from backend.core.entity_commands import CORNER_JACKS, leveling_layout
from backend.core.entity_errors import MappingError
from backend.core.entity_model import Binding, Entity
from backend.core.entity_types import ENTITY_TYPES
from backend.integrations.rvc.errors import SpecError
from backend.integrations.rvc.loader import load_config_data
from backend.integrations.rvc.spec import DgnDefinition, RVCSpec

if TYPE_CHECKING:
    from backend.core.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "config"
DEFAULT_MAPPING_PATH = CONFIG_DIR / "coach_mapping.default.yml"
SCHEMA_PATH = CONFIG_DIR / "coach_mapping.schema.json"
OWNER_MAPPING_NAME = "coach_mapping.yml"  # the owner's edited mapping, in the data directory

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Availability:
    """How long a status counts as seen: the spec's maximum gap plus ``grace``, else ``floor``."""

    floor: float = 60.0
    grace: float = 0.5

    def timeout(self, definition: DgnDefinition) -> float:
        """Seconds after a status of ``definition`` before it no longer counts as seen."""
        gap_ms = definition.broadcast.get("max_ms")
        if not gap_ms:
            return self.floor
        return gap_ms / 1000 + self.grace


@dataclass(slots=True)
class CoachMapping:
    """A loaded mapping: coach information, areas and the entity records."""

    path: Path
    coach: dict[str, Any]
    areas: dict[str, str]
    entities: list[Entity] = field(default_factory=list)
    chassis: dict[str, Any] = field(default_factory=dict)  # ``mobility_status``: present/absent


def resolve_mapping_path(mapping_path: Path | None, coach_model: str | None) -> Path:
    """The mapping file to load: an explicit path, a shipped model, else the default."""
    if mapping_path is not None:
        return Path(mapping_path)
    if coach_model:
        return CONFIG_DIR / f"coach_mapping.{coach_model}.yml"
    return DEFAULT_MAPPING_PATH


def _writable(path: Path) -> bool:
    """True when ``path`` can be replaced (the file, if any, and its directory are writable)."""
    parent = path.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        return False
    return not path.exists() or (path.is_file() and os.access(path, os.W_OK))


def owner_mapping_path(settings: Settings) -> Path:
    """Where the owner's edits go: ``rvc.coach_mapping_path`` when writable, else the data
    directory's ``coach_mapping.yml``."""
    explicit = settings.rvc.coach_mapping_path
    if explicit is not None and _writable(Path(explicit)):
        return Path(explicit)
    return settings.data_dir() / OWNER_MAPPING_NAME


def active_mapping_path(settings: Settings) -> Path:
    """The mapping file the settings select: the owner's file once it exists, else
    ``rvc.coach_mapping_path``, a shipped ``rvc.coach_model``, else the default."""
    owner = owner_mapping_path(settings)
    if owner.is_file():
        return owner
    return resolve_mapping_path(settings.rvc.coach_mapping_path, settings.rvc.coach_model)


def shipped_models() -> list[str]:
    """Names of the shipped mappings (``config/coach_mapping.<model>.yml``)."""
    return sorted(
        p.name[len("coach_mapping.") : -len(".yml")] for p in CONFIG_DIR.glob("coach_mapping.*.yml")
    )


def unmapped_reason(settings: Settings, *, simulated: bool) -> str:
    """Why the coach is empty: a real bus (or a replayed log) and no mapping chosen; else "".

    The default mapping describes the simulated coach; off the simulator it would show someone
    else's coach as the owner's. ``simulated``: the simulator feature runs on this server.
    """
    rvc, can = settings.rvc, settings.can
    if rvc.coach_mapping_path is not None or rvc.coach_model or simulated:
        return ""
    if (settings.data_dir() / OWNER_MAPPING_NAME).is_file():
        return ""  # the owner's mapping, written by the discovery wizard
    if can.bustype == "virtual" and not all(c.startswith("replay:") for c in can.interfaces):
        return ""  # the in-process virtual bus is the simulator's (or a test's)
    source = "replayed logs" if can.bustype == "virtual" else f"a {can.bustype} bus"
    return (
        f"no coach mapping: the server reads {source} and neither COACHIQ_RVC__COACH_MAPPING_PATH "
        "nor COACHIQ_RVC__COACH_MODEL is set, so every device on the bus is unmapped "
        "(see Discover, GET /api/entities/unmapped, to write a mapping)"
    )


def empty_mapping(reason: str) -> CoachMapping:
    """A coach with no entities (no mapping chosen); ``coach["unmapped_reason"]`` says why."""
    return CoachMapping(path=Path(), coach={"unmapped_reason": reason}, areas={})


def load_coach_mapping(settings: Settings, spec: RVCSpec | None = None) -> CoachMapping:
    """The mapping the settings select, loaded and checked exactly as start-up does.

    The server's ``entities`` feature, the simulator and :func:`validate_coach_mapping` all
    load the mapping through here, so they accept and refuse the same files. The file is
    :func:`active_mapping_path`: the owner's edited mapping once the wizard has written one.

    Args:
        settings: ``rvc.coach_mapping_path`` / ``rvc.coach_model`` choose the file,
            ``entities.availability_*`` the availability timeouts.
        spec: the loaded specification (read from ``rvc.spec_path`` when None).

    Raises:
        MappingError: one ``file:line: what`` line per problem (an unknown coach model too).
        SpecError: the specification cannot be read.
    """
    rvc = settings.rvc
    path = active_mapping_path(settings)
    if rvc.coach_mapping_path is None and rvc.coach_model and not path.is_file():
        raise MappingError(
            str(path),
            [
                f"COACHIQ_RVC__COACH_MODEL: unknown coach model {rvc.coach_model!r} (no {path}); "
                f"models: {', '.join(shipped_models())}"
            ],
        )
    if spec is None:
        spec = load_config_data(rvc.spec_path).spec
    entities = settings.entities
    availability = Availability(entities.availability_floor, entities.availability_grace)
    return load_mapping(path, spec, availability)


def validate_coach_mapping(settings: Settings) -> list[str]:
    """Problems of the mapping the settings select, one ``file:line: where: what`` line each.

    An empty list means the mapping loads (what ``coachiq serve`` and ``coachiq config
    validate`` check before anything starts).
    """
    try:
        load_coach_mapping(settings)
    except MappingError as exc:
        return list(exc.problems)
    except SpecError as exc:
        return [f"RV-C specification: {exc}"]
    return []


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _walk_lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    """Record the 1-based line of every node, following YAML merge keys (<<)."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        merges: list[yaml.Node] = []
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                merges.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
                continue
            _walk_lines(value, (*path, str(key.value)), out)
        for merged in merges:
            if isinstance(merged, yaml.MappingNode):
                for key, value in merged.value:
                    _walk_lines(value, (*path, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk_lines(item, (*path, i), out)


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


class _Problems:
    """Collects ``file:line: where: what`` lines."""

    def __init__(self, path: Path, lines: dict[Path_, int]) -> None:
        self.path = path
        self.lines = lines
        self.items: list[str] = []

    def add(self, where: Path_, message: str) -> None:
        probe = where
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe, 1)
        self.items.append(f"{self.path}:{line}: {_dotted(where)}: {message}")


def load_mapping(
    path: Path,
    spec: RVCSpec,
    availability: Availability | None = None,
    *,
    default_interface: str = "house",
    text: str | None = None,
) -> CoachMapping:
    """Load, check and compile a coach mapping.

    Args:
        path: the file; problems are reported against it.
        spec: the loaded specification.
        availability: availability timeouts.
        default_interface: the interface when the file's ``defaults`` names none.
        text: check this text as if it were the file's content (a proposed edit) instead of
            reading ``path``.

    Raises:
        MappingError: with one ``file:line: what`` line per problem.
    """
    availability = availability or Availability()
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError(str(path), [f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise MappingError(str(path), [f"{path}{line}: not valid YAML: {exc}"]) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk_lines(node, (), lines)
    problems = _Problems(path, lines)

    validator = jsonschema.Draft202012Validator(_schema())
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        problems.add(tuple(error.absolute_path), _schema_message(error))
    if problems.items:
        raise MappingError(str(path), problems.items)

    assert isinstance(data, dict)
    areas = {a["id"]: a["name"] for a in data.get("areas") or []}
    interface = (data.get("defaults") or {}).get("interface", default_interface)
    mapping = CoachMapping(
        path=path, coach=dict(data["coach"]), areas=areas, chassis=dict(data.get("chassis") or {})
    )
    claims: dict[tuple[int, int | None], list[tuple[str, tuple[tuple[str, Any], ...]]]] = {}
    seen_ids: set[str] = set()
    for index, raw in enumerate(data["entities"]):
        where: Path_ = ("entities", index)
        entity = _compile_entity(raw, where, spec, availability, areas, interface, problems)
        if entity is None:
            continue
        if entity.entity_id in seen_ids:
            problems.add((*where, "entity_id"), f"duplicate entity_id '{entity.entity_id}'")
            continue
        seen_ids.add(entity.entity_id)
        for b in entity.bindings:
            others = claims.setdefault((b.dgn, b.instance), [])
            for other_id, other_match in others:
                if not b.match or not other_match or b.match == other_match:
                    problems.add(
                        (*where, "status"),
                        f"{b.dgn_name} instance {b.instance} is already claimed by "
                        f"'{other_id}'; give both a distinct 'match' to share it",
                    )
            others.append((entity.entity_id, b.match))
        entity.line = lines.get(where, 0)
        mapping.entities.append(entity)
    if problems.items:
        raise MappingError(str(path), problems.items)
    return mapping


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key(s)")
    if error.validator == "enum":
        choices = error.validator_value if isinstance(error.validator_value, list) else []
        return f"{error.instance!r} is not one of {', '.join(map(str, choices))}"
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return "a status item is a DGN name, 5 hex digits, or {dgn, instance, match, role}"
    return error.message


def _compile_entity(
    raw: Mapping[str, Any],
    where: Path_,
    spec: RVCSpec,
    availability: Availability,
    areas: Mapping[str, str],
    default_interface: str,
    problems: _Problems,
) -> Entity | None:
    """Check one entity's meaning and build its record (None when it has problems)."""
    before = len(problems.items)
    entity_type = ENTITY_TYPES[raw["type"]]
    control = entity_type.control(raw.get("control"))
    if control is None:
        problems.add(
            (*where, "control"),
            f"{raw['type']} has no control {raw.get('control')!r}; controls: "
            + ", ".join(c.name for c in entity_type.controls),
        )
        return None
    area = raw.get("area")
    if area is not None and area not in areas:
        problems.add((*where, "area"), f"unknown area '{area}'; areas: {', '.join(areas)}")
    instance = raw.get("instance")
    instances: dict[str, int] = dict(raw.get("instances") or {})
    if control.roles:
        missing = [r for r in control.roles if r not in instances]
        if missing or set(instances) - set(control.roles):
            problems.add(
                (*where, "instances"),
                f"control {control.name} needs instances for exactly "
                f"{', '.join(control.roles)} (e.g. {{{control.roles[0]}: 20, "
                f"{control.roles[1]}: 21}})",
            )
            return None
    command_dgn: str | None = control.command_dgn
    if "command" in raw:
        command_dgn = None
        if raw["command"] is not None:
            definition = spec.get(raw["command"])
            if definition is None:
                problems.add((*where, "command"), f"unknown DGN {raw['command']!r}")
            elif definition.name != control.command_dgn:
                problems.add(
                    (*where, "command"),
                    f"{raw['type']} ({control.name}) is commanded on "
                    f"{control.command_dgn or 'nothing (read-only)'}, not {definition.name}",
                )
            else:
                command_dgn = definition.name
    bindings: list[Binding] = []
    items = raw.get("status") or list(control.status_dgns)
    for i, item in enumerate(items):
        item_where = (*where, "status", i)
        entry: dict[str, Any] = {"dgn": item} if isinstance(item, str) else dict(item)
        definition = spec.get(entry["dgn"])
        if definition is None:
            problems.add(item_where, f"unknown DGN {entry['dgn']!r} (not in the RV-C spec)")
            continue
        reader = control.readers.get(definition.name)
        if reader is None:
            problems.add(
                item_where,
                f"{raw['type']} ({control.name}) is not reported by {definition.name}; "
                f"status DGNs: {', '.join(control.readers)}",
            )
            continue
        fields = {f.name: f for f in definition.all_fields()}
        wanted: dict[str, Any] = {}
        for key, value in sorted((entry.get("match") or {}).items()):
            f = fields.get(key)
            wanted[key] = value
            if f is None:
                problems.add(
                    (*item_where, "match"),
                    f"{definition.name} has no signal '{key}'; signals: {', '.join(fields)}",
                )
            elif isinstance(value, str) and f.labels and value not in f.labels.values():
                problems.add(
                    (*item_where, "match", key),
                    f"'{value}' is not a value of {key}: {', '.join(f.labels.values())}",
                )
            elif isinstance(value, str) and f.named_number:
                # a numeric signal decodes to a number; its name matches that number
                wanted[key] = f.value(f.label_to_raw[value])
                if wanted[key] is None:
                    problems.add(
                        (*item_where, "match", key),
                        f"'{value}' is not a number of {key}; match a number",
                    )
        match = tuple(wanted.items())
        roles: list[tuple[str | None, int | None]]
        if control.roles:
            roles = [(r, instances[r]) for r in control.roles]
        else:
            roles = [(entry.get("role"), entry.get("instance", instance))]
        for role, inst in roles:
            if definition.instance is None and inst is not None:
                problems.add(
                    item_where,
                    f"{definition.name} is single-instance; leave instance out (or null)",
                )
                inst = None
            elif definition.instance is not None and inst is None:
                problems.add(item_where, f"{definition.name} needs an instance")
                continue
            bindings.append(
                Binding(
                    dgn=definition.dgn,
                    dgn_name=definition.name,
                    instance=inst,
                    reader=reader,
                    timeout=availability.timeout(definition),
                    match=match,
                    role=role,
                )
            )
    if command_dgn is not None and not control.roles:
        definition = spec.get(command_dgn)
        if definition is not None and (definition.instance is None) != (instance is None):
            need = "needs an instance" if instance is None else "is single-instance"
            problems.add((*where, "instance"), f"{command_dgn} {need}")
    attributes = dict(raw.get("attributes") or {})
    capabilities = raw.get("capabilities")
    capability_set = set(entity_type.default_capabilities if capabilities is None else capabilities)
    if entity_type.name == "leveling":
        jacks = list(raw.get("jacks") or CORNER_JACKS)
        attributes["jacks"] = jacks
        attributes["layout"] = leveling_layout(jacks)
        if raw.get("self_run"):
            capability_set.add("self_run")  # auto_level and store: the firmware runs them
    elif "jacks" in raw:
        problems.add((*where, "jacks"), f"jacks is only for a leveling entity, not {raw['type']}")
    if len(problems.items) > before:
        return None
    return Entity(
        entity_id=raw["entity_id"],
        name=raw["name"],
        entity_type=entity_type.name,
        control=control,
        area=area,
        instance=instance,
        instances=instances,
        interface=raw.get("interface", default_interface),
        source_address=raw.get("source_address"),
        capabilities=frozenset(capability_set),
        attributes=attributes,
        hidden=bool(raw.get("hidden", False)),
        command_dgn=command_dgn,
        bindings=bindings,
        history=deque(),
        motion=raw.get("motion"),
        self_run=bool(raw.get("self_run", False)),
    )
