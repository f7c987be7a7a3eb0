"""Compiled signal fields: raw extraction, scaling conversions, special values and labels.

A :class:`Field` is built once from a signal of the specification. It knows where its bits are,
how to turn a raw integer into an engineering value (a small conversion object chosen by
:func:`make_conversion`), which raw values mean "not available" / "error" / "reserved", and how to
go back from a value or a label to a raw integer for encoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

TYPE_WIDTHS = {
    "bit": 1,
    "uint2": 2,
    "uint4": 4,
    "uint8": 8,
    "uint16": 16,
    "uint24": 24,
    "uint32": 32,
}

FLAG_ERROR = "error"
FLAG_OUT_OF_RANGE = "out_of_range"
FLAG_RESERVED = "reserved"
FLAG_UNDEFINED = "undefined"  # an enumeration's raw value that the spec gives no name

JSON_TYPES = ("integer", "number", "string")


# --- conversions --------------------------------------------------------------------------------


class Identity:
    """Raw value as is (scale 1, offset 0)."""

    __slots__ = ()

    def __call__(self, raw: int) -> int | float:
        return raw

    def expr(self, var: str) -> str:
        """Python source computing the value from the raw integer ``var``."""
        return var

    def to_raw(self, value: float) -> int:
        """Raw integer for an engineering value."""
        return round(value)


class IntOffset:
    """``raw + offset`` with an integral offset (e.g. °C as uint8: offset -40)."""

    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __call__(self, raw: int) -> int | float:
        return raw + self.offset

    def expr(self, var: str) -> str:
        """Python source computing the value from the raw integer ``var``."""
        return f"({var} + {self.offset})"

    def to_raw(self, value: float) -> int:
        """Raw integer for an engineering value."""
        return round(value - self.offset)


class Rational:
    """``(raw + k) / n``: scale 1/n and offset k/n exactly, so 258 × 0.05 reads 12.9, not 12.900001.

    One integer addition and one correctly rounded division give the nearest float to the
    specification's value, where ``raw * 0.05`` would accumulate representation error.
    """

    __slots__ = ("k", "n")

    def __init__(self, k: int, n: int) -> None:
        self.k = k
        self.n = n

    def __call__(self, raw: int) -> int | float:
        return (raw + self.k) / self.n

    def expr(self, var: str) -> str:
        """Python source computing the value from the raw integer ``var``."""
        if self.k:
            return f"(({var} + {self.k}) / {self.n})"
        return f"({var} / {self.n})"

    def to_raw(self, value: float) -> int:
        """Raw integer for an engineering value."""
        return round(value * self.n) - self.k


class Linear:
    """``raw * scale + offset`` for scales that are not a unit fraction."""

    __slots__ = ("offset", "scale")

    def __init__(self, scale: float, offset: float) -> None:
        self.scale = scale
        self.offset = offset

    def __call__(self, raw: int) -> int | float:
        return raw * self.scale + self.offset

    def expr(self, var: str) -> str:
        """Python source computing the value from the raw integer ``var``."""
        if self.offset == 0 and (type(self.offset) is int or type(self.scale) is float):
            return f"({var} * {self.scale!r})"  # adding 0 would change neither value nor type
        return f"({var} * {self.scale!r} + {self.offset!r})"

    def to_raw(self, value: float) -> int:
        """Raw integer for an engineering value."""
        return round((value - self.offset) / self.scale)


Conversion = Identity | IntOffset | Rational | Linear


def _as_int(x: float) -> int | None:
    """``x`` as an int when it is (within float noise) a whole number."""
    r = round(x)
    return r if math.isclose(x, r, rel_tol=0, abs_tol=1e-9 * max(1.0, abs(x))) else None


def make_conversion(scale: float = 1, offset: float = 0) -> Conversion:
    """Pick the cheapest exact conversion for a scale and offset (table 5.3)."""
    if scale == 1:
        int_offset = _as_int(offset)
        if int_offset == 0:
            return Identity()
        if int_offset is not None:
            return IntOffset(int_offset)
        return Linear(1, offset)
    n = _as_int(1 / scale)
    if n is not None and n > 0:
        k = _as_int(offset * n)
        if k is not None:
            return Rational(k, n)
    return Linear(scale, offset)


# --- fields -------------------------------------------------------------------------------------


def special_flags(width: int) -> dict[int, str]:
    """Raw values of a ``width``-bit field that decode to ``None`` with a flag (section 3.2.3)."""
    top = (1 << width) - 1
    if width == 1:
        return {}
    if width in (8, 16, 24, 32):
        return {top - 1: FLAG_OUT_OF_RANGE, top - 2: FLAG_RESERVED}
    return {top - 1: FLAG_ERROR}


@dataclass(slots=True)
class Field:
    """One compiled signal: position, conversion, labels and special values."""

    name: str
    type: str
    byte: int
    bit: int
    width: int | None  # bits; None for an ascii field that runs to the end of the message
    unit: str | None
    conversion: Conversion
    labels: dict[int, str]
    special: bool
    json_type: str = "integer"
    numbers: dict[int, int | float | None] = field(default_factory=dict)
    start: int = 0
    mask: int = 0
    end_byte: int = 0  # exclusive; the bytes a frame must hold to carry the whole field
    na: int | None = None
    flagged: dict[int, str] = field(default_factory=dict)
    label_to_raw: dict[str, int] = field(default_factory=dict)
    number_to_raw: dict[int | float, int] = field(default_factory=dict)
    max_valid: int = 0

    @classmethod
    def from_spec(cls, sig: dict[str, Any]) -> Field:
        """Compile a signal dict of ``config/rvc.json``."""
        typ = sig["type"]
        if typ in TYPE_WIDTHS:
            width: int | None = TYPE_WIDTHS[typ]
        elif typ == "uint":
            width = int(sig["bits"])
        elif typ in ("ascii", "bytes"):
            width = 8 * int(sig["length"]) if "length" in sig else None
        else:
            raise ValueError(f"signal {sig.get('name')!r}: unknown type {typ!r}")
        labels = {int(k): v for k, v in sig.get("values", {}).items()}
        conversion = make_conversion(sig.get("scale", 1), sig.get("offset", 0))
        json_type = sig.get("json_type") or _infer_json_type(typ, labels, conversion)
        numbers = {int(k): v for k, v in sig.get("numbers", {}).items()}
        _check_json_type(sig.get("name"), typ, json_type, labels, numbers, conversion)
        f = cls(
            name=sig["name"],
            type=typ,
            byte=int(sig["byte"]),
            bit=int(sig.get("bit", 0)),
            width=width,
            unit=sig.get("unit"),
            conversion=conversion,
            labels=labels,
            special=bool(sig.get("special", True)) and typ not in ("ascii", "bytes"),
            json_type=json_type,
            numbers=numbers,
        )
        f.start = f.byte * 8 + f.bit
        if width is not None:
            f.mask = (1 << width) - 1
            f.end_byte = (f.start + width + 7) // 8
        else:
            f.end_byte = f.byte + 1
        if f.is_int:
            assert width is not None
            top = (1 << width) - 1
            if f.special and width > 1:
                f.na = top
                f.flagged = {r: c for r, c in special_flags(width).items() if r not in labels}
                if top in labels:
                    f.na = None
                f.max_valid = top - (3 if width >= 8 else 2)
            else:
                f.max_valid = top
            f.label_to_raw = {v: k for k, v in labels.items()}
            f.number_to_raw = {v: k for k, v in numbers.items() if v is not None}
        return f

    @property
    def is_int(self) -> bool:
        """True for numeric fields (everything but ascii and bytes)."""
        return self.type not in ("ascii", "bytes")

    @property
    def is_enum(self) -> bool:
        """True for an enumeration: an integer field that decodes to its labels only."""
        return self.json_type == "string" and self.type not in ("ascii", "bytes")

    @property
    def named_number(self) -> bool:
        """True for a numeric field some of whose values the spec names (labels on the side)."""
        return bool(self.labels) and self.json_type != "string"

    @property
    def single_byte(self) -> bool:
        """True when the field is an integer of at most 8 bits inside one byte."""
        return self.is_int and self.width is not None and self.bit + self.width <= 8

    def value(self, raw: int) -> Any:
        """The decoded value of a raw integer: its label for an enumeration, else a number.

        None for "not available", the special values, an enumeration's unnamed values and a
        named value that is not a quantity (``numbers`` maps it to null: "continuous_duration").
        """
        if self.json_type == "string":
            return self.labels.get(raw)
        if raw in self.numbers:
            return self.numbers[raw]
        if raw == self.na or raw in self.flagged:
            return None
        return self.conversion(raw)

    def flag(self, raw: int) -> str | None:
        """The special condition a raw value signals (``out_of_range``, ...), else None."""
        cond = self.flagged.get(raw)
        if (
            cond is None
            and self.json_type == "string"
            and raw != self.na
            and raw not in self.labels
        ):
            return FLAG_UNDEFINED
        return cond

    def table(self) -> tuple[Any, ...]:
        """Every raw value's decoded value, for fields of at most 8 bits."""
        assert self.width is not None and self.width <= 8
        return tuple(self.value(raw) for raw in range(1 << self.width))

    def bytes_value(self, data: bytes) -> Any:
        """Decode an ascii or bytes field from the message bytes (None when absent)."""
        chunk = data[self.byte : self.end_byte] if self.width is not None else data[self.byte :]
        if not chunk:
            return None
        if self.type == "bytes":
            return chunk.hex().upper()
        return chunk.rstrip(b"\xff\x00").decode("latin-1")

    def allowed(self) -> str:
        """Human description of what encoding accepts, for error messages."""
        if not self.is_int:
            return f"a str of at most {self.width // 8} bytes" if self.width else "a str"
        parts = []
        if self.labels:
            parts.append("labels " + ", ".join(self.labels.values()))
        if self.json_type == "string":
            parts.append(f"raw integers 0 to {self.max_valid}")
            parts.append("None (not available)")
            return "; ".join(parts)
        lo, hi = self.conversion(0), self.conversion(self.max_valid)
        lo, hi = min(lo, hi), max(lo, hi)
        unit = f" {self.unit}" if self.unit else ""
        parts.append(f"numbers {_fmt(lo)} to {_fmt(hi)}{unit}")
        parts.append("None (not available)")
        return "; ".join(parts)

    def to_raw(self, value: Any) -> int | None:
        """Raw integer for a value or label; None when the value is not allowed."""
        if value is None:
            return self.mask
        if isinstance(value, str):
            return self.label_to_raw.get(value)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
        named = self.number_to_raw.get(value)
        if named is not None:
            return named
        raw = self.conversion.to_raw(value)
        if raw in self.numbers:  # that raw value stands for another number (241 = 5 min)
            return None
        if raw in self.labels:
            return raw
        if 0 <= raw <= self.max_valid and math.isclose(
            self.conversion(raw), value, rel_tol=1e-9, abs_tol=_tolerance(self.conversion)
        ):
            return raw
        return None


def _infer_json_type(typ: str, labels: dict[int, str], conversion: Conversion) -> str:
    """The JSON type of a signal that does not declare one (text and labelled fields: string)."""
    if typ in ("ascii", "bytes") or labels:
        return "string"
    return "integer" if isinstance(conversion, Identity | IntOffset) else "number"


def _check_json_type(
    name: Any,
    typ: str,
    json_type: str,
    labels: dict[int, str],
    numbers: dict[int, Any],
    conversion: Conversion,
) -> None:
    """Raise ValueError when a declared JSON type cannot be what the field decodes to."""
    if json_type not in JSON_TYPES:
        raise ValueError(f"signal {name!r}: json_type {json_type!r} is not one of {JSON_TYPES}")
    text = typ in ("ascii", "bytes")
    if text and json_type != "string":
        raise ValueError(f"signal {name!r}: an {typ} field is a string")
    if json_type == "string" and not text and not labels:
        raise ValueError(f"signal {name!r}: an enumeration (json_type string) needs values")
    if json_type == "integer" and not isinstance(conversion, Identity | IntOffset):
        raise ValueError(f"signal {name!r}: a scaled field is a number, not an integer")
    if numbers and json_type == "string":
        raise ValueError(f"signal {name!r}: numbers are for numeric fields, not enumerations")
    for raw, number in numbers.items():
        if raw not in labels:
            raise ValueError(f"signal {name!r}: numbers[{raw}] has no label in values")
        if number is not None and (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or (json_type == "integer" and not isinstance(number, int))
        ):
            raise ValueError(f"signal {name!r}: numbers[{raw}] must be a {json_type} or null")


def _tolerance(conv: Conversion) -> float:
    """Half a raw step: values are rounded to the nearest step the field can carry."""
    if isinstance(conv, Rational):
        return 0.5 / conv.n + 1e-12
    if isinstance(conv, Linear):
        return abs(conv.scale) / 2 + 1e-12
    return 0.5


def _fmt(x: float) -> str:
    """Compact number for messages."""
    return f"{x:g}" if isinstance(x, float) else str(x)
