"""DGNs that need more than the field table: PRODUCT_ID text fields and DM_RV trouble codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PRODUCT_ID = 0x0FEEB
DM_RV = 0x1FECA

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


EXTRAS: dict[int, Callable[[bytes, dict[str, Any]], None]] = {
    PRODUCT_ID: product_id_fields,
    DM_RV: dm_rv_fields,
}
