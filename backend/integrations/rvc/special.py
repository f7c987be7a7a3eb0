"""DGNs that need more than the field table: PRODUCT_ID text, DM_RV codes, tank geometry tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PRODUCT_ID = 0x0FEEB
DM_RV = 0x1FECA
TANK_GEOMETRY_STATUS = 0x1FFB5
TANK_GEOMETRY_COMMAND = 0x1FFB4

FMI_NOT_AVAILABLE = 31
_DTC_BYTES = 5


def product_id_fields(data: bytes, signals: dict[str, Any]) -> None:
    """Add ``make``, ``model``, ``serial_number``, ``unit_number`` from the ``*``-separated text.

    Empty fields are None; the text is ISO 8859-1, trailing padding (FF, NUL) removed.
    """
    text = data.rstrip(b"\xff\x00").decode("latin-1")
    parts = text.split("*")
    for i, key in enumerate(("make", "model", "serial_number", "unit_number")):
        value = parts[i].strip() if i < len(parts) else ""
        signals[key] = value or None


def _dtc(chunk: bytes) -> dict[str, Any] | None:
    """One trouble code from SPN-MSB, SPN-ISB, SPN-LSB/FMI, occurrence, DSA extension."""
    if len(chunk) < 4 or chunk[0:4] == b"\xff\xff\xff\xff":
        return None
    spn = chunk[0] << 11 | chunk[1] << 3 | chunk[2] >> 5
    occurrence = chunk[3] & 0x7F
    return {
        "spn": spn,
        "fmi": chunk[2] & 0x1F,
        "occurrence_count": None if occurrence == 0x7F else occurrence,
        "dsa_extension": None if len(chunk) < 5 or chunk[4] == 0xFF else chunk[4],
    }


def dm_rv_fields(data: bytes, signals: dict[str, Any]) -> None:
    """Add ``dtcs``: the active trouble codes (spn 19-bit, fmi, occurrence count).

    The single-frame form carries one code in bytes 2-6; the (deprecated) multi-packet form
    carries one 5-byte code per fault from byte 2 on, and has no bank select byte.
    """
    dtcs = []
    if len(data) > 8:
        signals["bank_select"] = None
        for start in range(2, len(data) - _DTC_BYTES + 1, _DTC_BYTES):
            dtc = _dtc(data[start : start + _DTC_BYTES])
            if dtc is not None:
                dtcs.append(dtc)
    else:
        dtc = _dtc(data[2:7])
        if dtc is not None:
            dtcs.append(dtc)
    signals["dtcs"] = dtcs


_POINT_BYTES = 4  # level uint8, precision uint8, table value uint16 (table 6.28.4b)


def _u(value: int, not_available: int) -> int | None:
    """The data type's special values (3.2.3: all ones and the two below) are null."""
    return None if value >= not_available - 2 else value


def tank_geometry_fields(data: bytes, signals: dict[str, Any]) -> None:
    """Add ``table``: every point of a TANK_GEOMETRY_STATUS / _COMMAND table (6.28.4, 6.28.5).

    The table starts at byte 2 and has one 4-byte entry per point (level, precision, table
    value, LSB first); "additional table entries may follow in the same format", as many as
    byte 1 (number of entries) says. Points 1 and 2 are also the DGN's own signals; ``table``
    lists them all, point 1 first. Entries the data does not hold completely are left out; when
    the number of entries is not available (FFh) every complete entry is listed.
    """
    count = data[1] if len(data) > 1 else 0
    held = max(0, (len(data) - 2) // _POINT_BYTES)
    if count < 0xFD:
        held = min(held, count)
    table = []
    for n in range(held):
        start = 2 + n * _POINT_BYTES
        table.append(
            {
                "point": n + 1,
                "level": _u(data[start], 0xFF),
                "precision": _u(data[start + 1], 0xFF),
                "table_value": _u(int.from_bytes(data[start + 2 : start + 4], "little"), 0xFFFF),
            }
        )
    signals["table"] = table


TABLE_DGNS = frozenset((TANK_GEOMETRY_STATUS, TANK_GEOMETRY_COMMAND))
_ENTRY_LIMITS = (("level", 0xFF), ("precision", 0xFF), ("table_value", 0xFFFF))
TABLE_ALLOWED = (
    "a list of points {level: 0-252, precision: 0-252, table_value: 0-65532} (null: not "
    "available), point 1 first"
)


def tank_geometry_entries(table: Any) -> bytes | None:
    """The table entries from byte 2 on for ``table`` (as decoded), or None if it is invalid."""
    if not isinstance(table, list | tuple) or not table:
        return None
    out = bytearray()
    for n, entry in enumerate(table, start=1):
        if not isinstance(entry, dict) or entry.get("point", n) != n:
            return None
        if set(entry) - {"point", "level", "precision", "table_value"}:
            return None
        for key, all_ones in _ENTRY_LIMITS:
            value = entry.get(key)
            if value is None:
                value = all_ones
            elif isinstance(value, bool) or not isinstance(value, int):
                return None
            if not 0 <= value <= all_ones:
                return None
            if value >= all_ones - 2 and entry.get(key) is not None:
                return None  # the special values (3.2.3) are sent as null, not as numbers
            out += value.to_bytes(2 if all_ones == 0xFFFF else 1, "little")
    return bytes(out)


EXTRAS: dict[int, Callable[[bytes, dict[str, Any]], None]] = {
    PRODUCT_ID: product_id_fields,
    DM_RV: dm_rv_fields,
    TANK_GEOMETRY_STATUS: tank_geometry_fields,
    TANK_GEOMETRY_COMMAND: tank_geometry_fields,
}
