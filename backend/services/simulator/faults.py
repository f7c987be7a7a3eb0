"""DM_RV faults raised and cleared now and then by a simulated node (RV-C 3.2.5)."""

from __future__ import annotations

import random
from typing import Any

from backend.services.simulator.model import DeviceModel, DeviceSpec, Signals, World

# (SPN, FMI label) pairs a node may report: e.g. a low supply voltage, an open circuit.
FAULTS = (
    (0x0101, "datum_value_below_normal_range"),
    (0x0202, "open_circuit_or_output_current_below_normal"),
    (0x0303, "datum_value_above_normal_range"),
    (0x0404, "mechanical_device_not_responding"),
)


class FaultModel(DeviceModel):
    """The diagnostic state of one node: DM_RV with a yellow lamp while a fault is active."""

    status_dgns = ("DM_RV",)
    node_kind = "faults"

    def __init__(self, kind: str, address: int, rng: random.Random, interval: float = 120.0):
        super().__init__(DeviceSpec(f"dm_rv_{kind}", "dm_rv", None), World(), rng)
        self.address = address
        self.interval = interval
        self.active: tuple[int, str] | None = None
        self.count = 0
        self.next_change: float | None = None

    def tick(self, now: float, dt: float) -> None:
        """Raise a fault after a random wait, clear it 10 to 30 s later."""
        if self.next_change is None:
            self.next_change = now + self.rng.expovariate(1 / self.interval)
        if now < self.next_change:
            return
        if self.active is None:
            self.active = self.rng.choice(FAULTS)
            self.count = min(self.count + 1, 126)
            self.next_change = now + self.rng.uniform(10, 30)
        else:
            self.active = None
            self.next_change = now + self.rng.expovariate(1 / self.interval)

    def status(self, dgn: str) -> Signals:
        """DM_RV: operating, the lamps, DSA and the active SPN/FMI (none when cleared)."""
        signals: dict[str, Any] = {
            "operating_status": "on",
            "operating_status_2": "active",
            "yellow_lamp_status": "on" if self.active else "off",
            "red_lamp_status": "off",
            "dsa": self.address,
        }
        if self.active:
            spn, fmi = self.active
            signals.update(
                spn_msb=spn >> 11 & 0xFF,
                spn_isb=spn >> 3 & 0xFF,
                spn_lsb=spn & 0x7,
                fmi=fmi,
                occurrence_count=self.count,
            )
        return signals
