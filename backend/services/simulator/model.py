"""Device model base: what a simulated device is told (its spec), shares (the world) and answers.

A model keeps plain state, reports it as signals of its status DGNs (engineering values or
labels, as the RV-C encoder takes them) and applies commands decoded from the bus. Commands are
checked against the specification's tables: a value outside them gets a NAK
(``command_parameters_are_out_of_range``), a command the model does not support gets no answer, as
RV-C 3.2.4.4 says.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

# ACKNOWLEDGMENT codes (RV-C table 7.5) a model may answer with.
NAK = 1
CONDITIONS_DO_NOT_ALLOW = 3
BAD_FORMAT = 4
OUT_OF_RANGE = 5
OVERRIDDEN_BY_USER = 8

Signals = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One simulated device as the coach mapping describes it.

    Attributes:
        entity_id: the mapping's entity id (or a made-up one for the built-in coach).
        type: the entity type (``light``, ``tank``, ``generator`` ...).
        instance: the RV-C instance; None for single-instance device types.
        status_dgns: names of the status DGNs it broadcasts (empty: the model's defaults).
        command_dgns: names of the command DGNs it accepts (None: the model's defaults; empty:
            read-only).
        name: friendly name.
        interface: logical or physical interface (``house``, ``chassis``, ``can0``).
        options: model options (``dimmable``, ``capacity_l``, ``fluid``, ``watts`` ...).
        source_address: the node the device transmits from (None: one chosen per node kind).
        status_extra: per status DGN, signal values always sent (the mapping's ``match``).
        status_instances: per status DGN, an instance other than ``instance``.
    """

    entity_id: str
    type: str
    instance: int | None
    status_dgns: tuple[str, ...] = ()
    command_dgns: tuple[str, ...] | None = None
    name: str = ""
    interface: str = "house"
    options: Mapping[str, Any] = field(default_factory=dict)
    source_address: int | None = None
    status_extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    status_instances: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class World:
    """What devices share: AC power sources, DC loads, water flow, zone temperatures."""

    shore_power: bool = True
    generator_running: bool = False
    pump_running: bool = False
    outside_temp: float = 27.0
    dc_loads: dict[str, float] = field(default_factory=dict)  # device -> amps at 12 V
    ac_loads: dict[str, float] = field(default_factory=dict)  # device -> amps at 120 V
    dc_sources: dict[str, float] = field(default_factory=dict)  # charger, solar -> amps
    combustion: dict[str, bool] = field(default_factory=dict)  # burners drawing LPG
    zone_temps: dict[int, float] = field(default_factory=dict)
    house_soc: float = 85.0
    park_brake_engaged: bool = True  # the chassis (CHASSIS_MOBILITY_STATUS)
    speed_kph: float = 0.0
    ignition_on: bool = False

    @property
    def parked(self) -> bool:
        """True while the park brake is set and the coach stands still."""
        return self.park_brake_engaged and self.speed_kph <= 0.0

    @property
    def ac_available(self) -> bool:
        """True when shore power or the generator feeds the coach."""
        return self.shore_power or self.generator_running

    @property
    def dc_load_amps(self) -> float:
        """Total DC draw of the loads."""
        return sum(self.dc_loads.values())

    @property
    def dc_source_amps(self) -> float:
        """Total DC charge current into the house bank."""
        return sum(self.dc_sources.values())

    @property
    def ac_load_amps(self) -> float:
        """Total AC draw of the loads."""
        return sum(self.ac_loads.values())

    def zone_temp(self, zone: int) -> float:
        """Air temperature of a climate zone (created at 23 °C)."""
        return self.zone_temps.setdefault(zone, 23.0)


class DeviceModel:
    """Base of every device model; subclasses set the class attributes and override methods."""

    status_dgns: ClassVar[tuple[str, ...]] = ()
    command_dgns: ClassVar[tuple[str, ...]] = ()
    node_kind: ClassVar[str] = "generic"
    product: ClassVar[str] = "Device"

    def __init__(self, spec: DeviceSpec, world: World, rng: random.Random) -> None:
        self.spec = spec
        self.world = world
        self.rng = rng

    @property
    def key(self) -> str:
        """A name unique in the coach (the entity id)."""
        return self.spec.entity_id

    def broadcasts(self) -> tuple[str, ...]:
        """Status DGNs to broadcast: the mapping's, where the model can produce them."""
        if not self.spec.status_dgns:
            return self.status_dgns
        return tuple(d for d in self.spec.status_dgns if d in self.status_dgns)

    def accepts(self) -> tuple[str, ...]:
        """Command DGNs to listen to."""
        if self.spec.command_dgns is None:
            return self.command_dgns
        return tuple(d for d in self.spec.command_dgns if d in self.command_dgns)

    def status(self, dgn: str) -> Signals:
        """Signals of status DGN ``dgn`` (the instance is added by the node)."""
        raise NotImplementedError

    def command(self, dgn: str, signals: Mapping[str, Any], now: float) -> int | None:
        """Apply a decoded command; return a NAK code, or None when no answer is due."""
        return None

    def tick(self, now: float, dt: float) -> None:
        """Advance the model by ``dt`` seconds."""


def percent_ok(value: Any) -> bool:
    """True when ``value`` is a percentage the model can take (None means no change)."""
    return value is None or (isinstance(value, int | float) and 0 <= value <= 100)


def label_ok(value: Any, allowed: Mapping[Any, Any] | frozenset[str] | tuple[str, ...]) -> bool:
    """True for None (no change) or one of the allowed labels."""
    return value is None or (isinstance(value, str) and value in allowed)


def temp_ok(value: Any, low: float = 0.0, high: float = 60.0) -> bool:
    """True for None or a temperature in [low, high] °C."""
    return value is None or (isinstance(value, int | float) and low <= value <= high)


def approach(value: float, target: float, step: float) -> float:
    """Move ``value`` towards ``target`` by at most ``step``."""
    if value < target:
        return min(target, value + step)
    return max(target, value - step)
