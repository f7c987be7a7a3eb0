"""Loading ``config/rvc.json`` once and compiling it into per-DGN definitions and codecs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from backend.integrations.rvc.errors import SpecError
from backend.integrations.rvc.fields import Field

# backend/integrations/rvc/spec.py -> repository root is three levels above the package.
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SPEC_PATH = REPO_ROOT / "config" / "rvc.json"

PROPRIETARY = "PROPRIETARY"

# Other names a DGN is commonly known by -> the specification's name. Looked up only when the
# name itself is not a DGN of the spec (an alias never hides a real name).
ALIASES: dict[str, str] = {
    "REQUEST": "DG_REQUEST",  # section 3.2.4.3 and J1939 call EA00 "Request for DGN"
}


@dataclass(slots=True)
class Variants:
    """Signals that depend on a selector field's raw value (a multiplexed layout)."""

    selector: Field
    cases: dict[int, tuple[Field, ...]]


@dataclass(slots=True)
class DgnDefinition:
    """One DGN of the specification with its layout resolved and its fields compiled."""

    dgn: int
    name: str
    title: str
    section: str
    priority: int
    broadcast: dict[str, Any]
    frames: int | str
    pdu1: bool
    instance: str | None
    kind: str
    destination: int | None
    fields: tuple[Field, ...]
    variants: Variants | None = None
    units: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    by_name: dict[str, Field] = field(default_factory=dict)
    signal_names: tuple[str, ...] = ()
    named_fields: tuple[Field, ...] = ()  # numeric fields with named values (-> ``labels``)
    enum_fields: tuple[Field, ...] = ()  # enumerations (-> ``raw``)
    # Where the instance is read (DecodedMessage.instance, per frame on the receive path):
    # (first byte, bit, mask, bytes needed, "not available" raw or None, inside one byte).
    instance_at: tuple[int, int, int, int, int | None, bool] | None = None

    @property
    def key(self) -> str:
        """The DGN as 5 upper-case hex digits."""
        return f"{self.dgn:05X}"

    @property
    def multi_packet(self) -> bool:
        """True when the message needs the multi-packet protocol."""
        return self.frames != 1

    def all_fields(self) -> tuple[Field, ...]:
        """Fields including every variant case's fields (each name once)."""
        if self.variants is None:
            return self.fields
        seen = {f.name for f in self.fields}
        extra = []
        for case in self.variants.cases.values():
            for f in case:
                if f.name not in seen:
                    seen.add(f.name)
                    extra.append(f)
        return self.fields + tuple(extra)


@dataclass(slots=True)
class RVCSpec:
    """The whole specification: definitions by DGN number and by name."""

    path: Path
    title: str
    edition: str
    by_dgn: dict[int, DgnDefinition]
    by_name: dict[str, DgnDefinition]

    def __len__(self) -> int:
        return len(self.by_dgn)

    def get(self, dgn_or_name: int | str) -> DgnDefinition | None:
        """Look a DGN up by number, name, alias (:data:`ALIASES`: ``"REQUEST"``), or hex string
        (``"1FFFD"``, ``"0x1FFFD"``)."""
        if isinstance(dgn_or_name, int):
            return self.by_dgn.get(dgn_or_name)
        name = dgn_or_name.upper()
        found = self.by_name.get(name)
        if found is not None:
            return found
        alias = ALIASES.get(name)
        if alias is not None and alias in self.by_name:
            return self.by_name[alias]
        try:
            return self.by_dgn.get(int(dgn_or_name, 16))
        except ValueError:
            return None


def _compile_dgn(key: str, raw: dict[str, Any], layouts: dict[str, Any]) -> DgnDefinition:
    """Resolve the layout (with ``omit``) and compile the fields of one DGN."""
    signals: list[dict[str, Any]] = []
    if "layout" in raw:
        layout = layouts.get(raw["layout"])
        if layout is None:
            raise SpecError(f"DGN {key} ({raw.get('name')}): layout {raw['layout']!r} not defined")
        omit = set(raw.get("omit", ()))
        signals.extend(s for s in layout["signals"] if s["name"] not in omit)
    signals.extend(raw.get("signals", ()))
    # In bit order, so a device's redefined fields sit where the frame carries them.
    fields = tuple(sorted((Field.from_spec(s) for s in signals), key=lambda f: f.start))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise SpecError(f"DGN {key} ({raw.get('name')}): duplicate signal names")
    variants = None
    if "variants" in raw:
        spec = raw["variants"]
        selector = next((f for f in fields if f.name == spec["selector"]), None)
        if selector is None:
            raise SpecError(f"DGN {key}: variant selector {spec['selector']!r} is not a signal")
        variants = Variants(
            selector,
            {int(k): tuple(Field.from_spec(s) for s in v) for k, v in spec["cases"].items()},
        )
    definition = DgnDefinition(
        dgn=int(key, 16),
        name=raw["name"],
        title=raw.get("title", ""),
        section=raw.get("section", ""),
        priority=int(raw["priority"]),
        broadcast=dict(raw.get("broadcast", {})),
        frames=raw.get("frames", 1),
        pdu1=bool(raw.get("pdu1", False)),
        instance=raw.get("instance"),
        kind=raw.get("kind", "other"),
        destination=raw.get("destination"),
        fields=fields,
        variants=variants,
    )
    all_fields = definition.all_fields()
    definition.units = MappingProxyType({f.name: f.unit for f in all_fields if f.unit})
    definition.by_name = {f.name: f for f in all_fields}
    definition.signal_names = tuple(f.name for f in fields)
    definition.named_fields = tuple(f for f in fields if f.named_number)
    definition.enum_fields = tuple(f for f in fields if f.is_enum)
    instance = definition.by_name.get(definition.instance) if definition.instance else None
    if instance is not None and instance.is_int:
        definition.instance_at = (
            instance.byte,
            instance.start,
            instance.mask,
            instance.end_byte,
            instance.na,
            instance.single_byte,
        )
    return definition


def parse_spec(data: dict[str, Any], path: Path) -> RVCSpec:
    """Compile the parsed JSON of a specification file.

    Raises:
        SpecError: the data is not a usable specification.
    """
    try:
        layouts = data.get("layouts", {})
        by_dgn: dict[int, DgnDefinition] = {}
        by_name: dict[str, DgnDefinition] = {}
        for key, raw in data["dgns"].items():
            definition = _compile_dgn(key, raw, layouts)
            if definition.name in by_name:
                raise SpecError(f"DGN name {definition.name} is used twice")
            by_dgn[definition.dgn] = definition
            by_name[definition.name] = definition
        meta = data.get("spec", {})
    except SpecError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"{path}: not a valid RV-C specification: {exc!r}") from exc
    return RVCSpec(path, meta.get("title", "RV-C"), meta.get("edition", ""), by_dgn, by_name)


def read_spec(path: Path) -> RVCSpec:
    """Read and compile a specification file.

    Raises:
        SpecError: the file is missing, not JSON, or not a usable specification.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"RV-C specification file not found: {path}") from exc
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read RV-C specification {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}: top level must be an object")
    return parse_spec(data, path)


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a coach mapping file (JSON, or YAML when PyYAML is installed).

    Raises:
        SpecError: the file is missing or unreadable.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read coach mapping {path}: {exc}") from exc
    try:
        if path.suffix.lower() in (".yml", ".yaml"):
            # Imported lazily so the protocol package itself needs only the standard library.
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ImportError as exc:
        raise SpecError(f"reading {path} needs PyYAML, which is not installed") from exc
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's common ground
        raise SpecError(f"cannot parse coach mapping {path}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError without importing yaml at module level
        raise SpecError(f"cannot parse coach mapping {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a coach mapping must be a mapping at the top level")
    return data
