"""Active DM_RV faults of every device on the bus (RV-C 3.2.5): decoding and a bounded table.

The names come from the specification: failure mode identifiers (table 3.2.5.8), the standard
SPNs common to all devices (table 7.3) and the device-specific SPNs of every device type whose
chapter 6 section has a "Service Points" table (``backend/services/diagnostic_spns.py``: 27
tables, keyed by the device type's default source addresses). A fault clears when its
device reports DM_RV with no fault for that DSA, when a multi-packet DM_RV (the whole fault
list) no longer carries it, or when it has not been repeated for the expiry time (an active
fault is re-broadcast at least every 5000 ms, 3.2.5.10).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.services.diagnostic_spns import SPNS_BY_DSA, SpnTable

# Table 3.2.5.8 (23 to 30 are reserved).
FMI_MEANINGS: dict[int, str] = {
    0: "Datum value above normal range",
    1: "Datum value below normal range",
    2: "Datum value erratic or invalid",
    3: "Short circuit to high voltage (or complete sensor input failure)",
    4: "Short circuit to low voltage (or complete sensor input failure)",
    5: "Open circuit, or output current below normal",
    6: "Grounded circuit, or output current above normal",
    7: "Mechanical device not responding",
    8: "Datum value showing error of frequency, pulse width, or period",
    9: "Datum not updating at proper rate",
    10: "Datum value fluctuating at abnormal rate",
    11: "Failure not identifiable",
    12: "Bad intelligent RV-C node",
    13: "Calibration required",
    14: "None of the above",
    15: "Datum valid but above normal operational range (least severe)",
    16: "Datum valid but above normal operational range (moderately severe)",
    17: "Datum valid but below normal operational range (least severe)",
    18: "Datum valid but below normal operational range (moderately severe)",
    19: "Received invalid network datum",
    20: "Network device not responding",
    21: "Networked device not responding (a second networked device does not respond)",
    22: "Reverse polarity",
    31: "Failure mode not available",
}

# Table 7.3: SPNs 0-255 apply to every device type, always encoded non-instanced (MSB 0).
STANDARD_SPNS: dict[int, str] = {
    0: "Specific point unknown",
    1: "Node microprocessor (or ECM)",
    2: "Node analog-digital converter",
    3: "Node settings or configuration",
    4: "Node RAM",
    5: "Node power supply",
    6: "Node temperature",
    7: "Node clock / timer",
    8: "Node date / time",
    9: "Node RV-C connection",
    10: "Node serial/ID number",
    11: "Node processor supervisor (watchdog)",
    12: "Node firmware",
    13: "Node internal subnetwork communications",
}


# Default source address -> the device-specific SPN table of its device type (chapter 6).
DEVICE_SPNS: dict[int, SpnTable] = SPNS_BY_DSA


def decode_spn(raw: int, dsa: int | None) -> dict[str, Any]:
    """The SPN, instance and name of a 19-bit SPN field per the single/multi-instance rule.

    MSB 0 is the single-instance encoding (generic and universal faults, 3.2.5.6-3.2.5.7); a
    device known to be multi-instance with MSB non-zero carries an 11-bit SPN and the instance
    in the ISB. A device whose type has no SPN table is read as single-instance.
    """
    msb, isb, lsb = raw >> 11 & 0xFF, raw >> 3 & 0xFF, raw & 0x7
    device = DEVICE_SPNS.get(dsa) if dsa is not None else None
    name: str | None = None
    if device is not None and device.multi_instance and msb != 0:
        spn, instance, encoding = msb << 3 | lsb, isb, "multi_instance"
        name = device.instance.get(spn)
    else:
        spn, instance, encoding = raw, None, "single_instance"
        if spn in STANDARD_SPNS:
            name = STANDARD_SPNS[spn]
        elif device is not None:
            name = device.node.get(spn)
    return {
        "spn": spn,
        "spn_raw": raw,
        "spn_encoding": encoding,
        "instance": instance,
        "spn_name": name,
        "device_type": device.device if device is not None else None,
    }


def _lamp(value: Any) -> bool:
    return value in ("on", 1, True)


@dataclass(slots=True)
class Fault:
    """One active fault: what the device reports and when it was first and last seen."""

    source: int
    dsa: int | None
    dsa_extension: int | None
    spn_raw: int
    fmi: int
    occurrence_count: int | None
    red_lamp: bool
    yellow_lamp: bool
    first_seen: float
    last_seen: float
    seen_at: float  # monotonic, for the expiry
    red_lamp_seen: bool = False  # lit in any report of this fault (the history keeps the worst)
    yellow_lamp_seen: bool = False

    @property
    def key(self) -> tuple[int, int | None, int, int]:
        """Identity of the fault: source, DSA, SPN field and FMI."""
        return (self.source, self.dsa, self.spn_raw, self.fmi)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (the API's and the WebSocket's)."""
        return {
            "fault_id": "{}:{}:{}:{}".format(*self.key),
            "source": self.source,
            "dsa": self.dsa,
            "dsa_extension": self.dsa_extension,
            **decode_spn(self.spn_raw, self.dsa),
            "fmi": self.fmi,
            "fmi_meaning": FMI_MEANINGS.get(self.fmi, "Reserved"),
            "occurrence_count": self.occurrence_count,
            "red_lamp": self.red_lamp,
            "yellow_lamp": self.yellow_lamp,
            "severity": "critical" if self.red_lamp else "warning",
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


class FaultTable:
    """The active faults, at most ``max_faults`` of them; new faults beyond it are dropped."""

    def __init__(self, max_faults: int, expiry_seconds: float):
        self.max_faults = max_faults
        self.expiry_seconds = expiry_seconds
        self._faults: dict[tuple[int, int | None, int, int], Fault] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._faults)

    def faults(self) -> list[Fault]:
        """The active faults, red first, then by source, SPN and FMI."""
        return sorted(self._faults.values(), key=lambda f: (not f.red_lamp, f.key[0], f.key[2:]))

    def by_source(self) -> dict[int, list[Fault]]:
        """The active faults grouped by source address."""
        result: dict[int, list[Fault]] = {}
        for fault in self.faults():
            result.setdefault(fault.source, []).append(fault)
        return result

    def observe(
        self, source: int, signals: dict[str, Any], now: float, monotonic: float
    ) -> tuple[list[Fault], list[Fault]]:
        """Apply one decoded DM_RV from ``source``; returns (raised, cleared) faults."""
        dsa = signals.get("dsa") if isinstance(signals.get("dsa"), int) else None
        red, yellow = (
            _lamp(signals.get("red_lamp_status")),
            _lamp(signals.get("yellow_lamp_status")),
        )
        dtcs = [d for d in signals.get("dtcs") or () if isinstance(d, dict)]
        if not (red or yellow):
            dtcs = []
        raised: list[Fault] = []
        reported: set[tuple[int, int | None, int, int]] = set()
        for dtc in dtcs:
            key = (source, dsa, int(dtc["spn"]), int(dtc["fmi"]))
            reported.add(key)
            fault = self._faults.get(key)
            if fault is None:
                if len(self._faults) >= self.max_faults:
                    self.dropped += 1
                    continue
                fault = Fault(source, dsa, None, key[2], key[3], None, red, yellow, now, now, 0.0)
                self._faults[key] = fault
                raised.append(fault)
            fault.dsa_extension = dtc.get("dsa_extension")
            fault.occurrence_count = dtc.get("occurrence_count")
            fault.red_lamp, fault.yellow_lamp = red, yellow
            fault.red_lamp_seen |= red
            fault.yellow_lamp_seen |= yellow
            fault.last_seen, fault.seen_at = now, monotonic
        # No fault (lamps off or SPN/FMI FFh) clears the DSA; a multi-packet list is complete.
        if not dtcs or len(dtcs) > 1:
            stale = [k for k in self._faults if k[:2] == (source, dsa) and k not in reported]
            return raised, [self._faults.pop(k) for k in stale]
        return raised, []

    def expire(self, monotonic: float) -> list[Fault]:
        """Remove and return the faults not repeated for the expiry time."""
        stale = [k for k, f in self._faults.items() if monotonic - f.seen_at > self.expiry_seconds]
        return [self._faults.pop(k) for k in stale]

    def clear_sources(self, sources: Iterable[int]) -> None:
        """Forget every fault of these sources."""
        wanted = set(sources)
        for key in [k for k in self._faults if k[0] in wanted]:
            del self._faults[key]
