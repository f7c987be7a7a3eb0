"""JSON Schemas of decoded messages, generated from the specification (one per DGN).

The schema of a DGN describes the record every edge publishes for one of its messages (the
``coachiq decode`` line, the sniffer and WebSocket ``frame`` bodies): ``signals`` with one JSON
type per signal (an enumeration's labels, or an integer / number within the range the field can
carry, or null), ``labels`` (the spec's names of named numeric values), ``raw`` (the raw integer
of every enumeration), ``units`` and ``flags``. Built from the same compiled fields the decoder
uses, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from backend.integrations.rvc.fields import FLAG_ERROR, FLAG_OUT_OF_RANGE, FLAG_RESERVED, Field
from backend.integrations.rvc.fields import FLAG_UNDEFINED as _UNDEFINED
from backend.integrations.rvc.spec import DgnDefinition, RVCSpec
from backend.integrations.rvc.special import (
    DM_RV,
    PRODUCT_ID,
    TANK_GEOMETRY_COMMAND,
    TANK_GEOMETRY_STATUS,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://coachiq.invalid/schemas/rvc-messages.schema.json"
FLAG_VALUES = [FLAG_ERROR, FLAG_OUT_OF_RANGE, FLAG_RESERVED, _UNDEFINED]

_NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"]}
_DTC: dict[str, Any] = {
    "type": "object",
    "required": ["spn", "fmi", "occurrence_count", "dsa_extension"],
    "additionalProperties": False,
    "properties": {
        "spn": {"type": "integer", "minimum": 0, "maximum": (1 << 19) - 1},
        "fmi": {"type": "integer", "minimum": 0, "maximum": 31},
        "occurrence_count": {"type": ["integer", "null"], "minimum": 0, "maximum": 126},
        "dsa_extension": {"type": ["integer", "null"], "minimum": 0, "maximum": 254},
    },
}
_BYTE: dict[str, Any] = {"type": ["integer", "null"], "minimum": 0, "maximum": 252}
_TANK_POINT: dict[str, Any] = {
    "type": "object",
    "required": ["point", "level", "precision", "table_value"],
    "additionalProperties": False,
    "properties": {
        "point": {"type": "integer", "minimum": 1},
        "level": _BYTE,
        "precision": _BYTE,
        "table_value": {"type": ["integer", "null"], "minimum": 0, "maximum": 65532},
    },
}
_TANK_TABLE: dict[str, Any] = {"table": {"type": "array", "items": _TANK_POINT}}
# Signals that the special handling adds (backend.integrations.rvc.special), by DGN.
_EXTRA_SIGNALS: dict[int, dict[str, Any]] = {
    PRODUCT_ID: dict.fromkeys(("make", "model", "serial_number", "unit_number"), _NULLABLE_TEXT),
    DM_RV: {"dtcs": {"type": "array", "items": _DTC}, "bank_select": {"type": ["integer", "null"]}},
    TANK_GEOMETRY_STATUS: _TANK_TABLE,
    TANK_GEOMETRY_COMMAND: _TANK_TABLE,
}


def _numeric_range(f: Field) -> tuple[int | float, int | float]:
    """The smallest and largest number the field decodes to (scales are positive)."""
    raw_hi = f.mask
    while raw_hi > 0 and (raw_hi == f.na or raw_hi in f.flagged or raw_hi in f.numbers):
        raw_hi -= 1
    raw_lo = 0
    while raw_lo < raw_hi and raw_lo in f.numbers:
        raw_lo += 1
    values = [f.conversion(raw_lo), f.conversion(raw_hi)]
    values += [n for n in f.numbers.values() if n is not None]
    return min(values), max(values)


def signal_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema of one signal's decoded value."""
    schema: dict[str, Any]
    if not f.is_int:
        schema = dict(_NULLABLE_TEXT)
        if f.type == "bytes":
            schema["pattern"] = "^([0-9A-F]{2})*$"
    elif f.json_type == "string":
        schema = {"enum": [*(f.labels[k] for k in sorted(f.labels)), None]}
    else:
        lo, hi = _numeric_range(f)
        schema = {"type": [f.json_type, "null"], "minimum": lo, "maximum": hi}
    if f.unit:
        schema["x-unit"] = f.unit
    if f.labels and f.json_type != "string":
        schema["x-labels"] = {str(k): v for k, v in sorted(f.labels.items())}
    return schema


def dgn_schema(definition: DgnDefinition) -> dict[str, Any]:
    """The JSON Schema of a decoded message of ``definition`` (one ``coachiq decode`` record)."""
    fields = definition.all_fields()
    signals = {f.name: signal_schema(f) for f in fields}
    signals.update(_EXTRA_SIGNALS.get(definition.dgn, {}))
    named = [f for f in fields if f.named_number]
    enums = [f for f in fields if f.is_enum]
    return {
        "$schema": DRAFT,
        "title": f"{definition.name} ({definition.key})",
        "description": f"A decoded {definition.name} message (RV-C section {definition.section}).",
        "type": "object",
        "required": ["dgn", "name", "signals", "labels", "raw", "units"],
        "properties": {
            "can_id": {"type": "string", "pattern": "^[0-9A-F]{8}$"},
            "priority": {"type": "integer", "minimum": 0, "maximum": 7},
            "dgn": {"const": definition.key},
            "name": {"const": definition.name},
            "source": {"type": "integer", "minimum": 0, "maximum": 255},
            "destination": {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
            "data": {"type": "string", "pattern": "^([0-9A-F]{2})*$"},
            "signals": {
                "type": "object",
                "required": list(definition.signal_names),
                "additionalProperties": False,
                "properties": signals,
            },
            "labels": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    f.name: {"enum": [f.labels[k] for k in sorted(f.labels)]} for f in named
                },
            },
            "raw": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    f.name: {"type": "integer", "minimum": 0, "maximum": f.mask} for f in enums
                },
            },
            "units": {
                "type": "object",
                "additionalProperties": False,
                "properties": {f.name: {"const": f.unit} for f in fields if f.unit},
            },
            "flags": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "data": {"const": "invalid"},
                    **{f.name: {"enum": FLAG_VALUES} for f in fields if f.flagged or f.is_enum},
                },
            },
        },
    }


def spec_schema(spec: RVCSpec) -> dict[str, Any]:
    """One document holding every DGN's schema under ``$defs`` (keyed by DGN), chosen by ``dgn``."""
    definitions = sorted(spec.by_dgn.values(), key=lambda d: d.dgn)
    defs = {d.key: {k: v for k, v in dgn_schema(d).items() if k != "$schema"} for d in definitions}
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": f"CoachIQ decoded RV-C messages ({spec.title} {spec.edition})",
        "description": "A decoded message of a DGN of the specification; see docs/signals.md.",
        "type": "object",
        "required": ["dgn"],
        "properties": {"dgn": {"enum": list(defs)}},
        "allOf": [
            {
                "if": {"properties": {"dgn": {"const": key}}, "required": ["dgn"]},
                "then": {"$ref": f"#/$defs/{key}"},
            }
            for key in defs
        ],
        "$defs": defs,
    }
