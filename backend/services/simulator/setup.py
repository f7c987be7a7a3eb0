"""Building a simulated coach from settings: spec, devices (mapping or built-in) and options."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.core.config import Settings
from backend.integrations.rvc.spec import DEFAULT_SPEC_PATH, RVCSpec, read_spec
from backend.services.simulator.coach import default_devices
from backend.services.simulator.engine import SimOptions, SimulatedCoach
from backend.services.simulator.mapping import (
    DEFAULT_MAPPING_PATH,
    MappingReadError,
    read_mapping_devices,
)
from backend.services.simulator.model import DeviceSpec

logger = logging.getLogger(__name__)


def options_from_settings(settings: Settings) -> SimOptions:
    """SimOptions from the ``simulator`` settings section."""
    sim = settings.simulator
    return SimOptions(
        jitter=sim.jitter,
        faults=sim.faults,
        fault_interval=sim.fault_interval,
        address_base=sim.source_address_base,
        default_gap=sim.default_gap,
        server_address=settings.can.source_address,
    )


def mapping_path(settings: Settings) -> Path:
    """The coach mapping the server uses (and so the simulator too)."""
    rvc = settings.rvc
    if rvc.coach_mapping_path is not None:
        return rvc.coach_mapping_path
    if rvc.coach_model:
        return DEFAULT_MAPPING_PATH.with_name(f"coach_mapping.{rvc.coach_model}.yml")
    return DEFAULT_MAPPING_PATH


def coach_devices(settings: Settings, spec: RVCSpec) -> list[DeviceSpec]:
    """Devices of the mapping file; the built-in coach when there is none."""
    path = mapping_path(settings)
    if not path.exists():
        logger.info("simulator: no coach mapping at %s; simulating the built-in coach", path)
        return default_devices()
    try:
        return read_mapping_devices(path, spec)
    except MappingReadError as exc:
        logger.error("simulator: %s; simulating the built-in coach", exc)
        return default_devices()


def build_coach(
    settings: Settings,
    *,
    bustype: str | None = None,
    channels: Sequence[str] | None = None,
    bus_options: dict[str, Any] | None = None,
    spec: RVCSpec | None = None,
) -> SimulatedCoach:
    """A coach on the settings' bus (or the one given), with the settings' mapping."""
    spec = spec or read_spec(settings.rvc.spec_path or DEFAULT_SPEC_PATH)
    can_settings = settings.can
    chosen = list(channels or [c for c in can_settings.interfaces if not c.startswith("replay:")])
    return SimulatedCoach(
        spec,
        coach_devices(settings, spec),
        bustype=bustype or can_settings.bustype,
        channels=chosen,
        bus_options=can_settings.bus_options if bus_options is None else bus_options,
        interface_mappings=can_settings.interface_mappings,
        options=options_from_settings(settings),
    )
