"""Building a simulated coach from settings: spec, the settings' coach mapping and options."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.core.coach_mapping import load_coach_mapping
from backend.core.config import Settings
from backend.integrations.rvc.spec import DEFAULT_SPEC_PATH, RVCSpec, read_spec
from backend.services.simulator.engine import SimOptions, SimulatedCoach
from backend.services.simulator.mapping import devices_from_mapping
from backend.services.simulator.model import DeviceSpec


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


def coach_devices(settings: Settings, spec: RVCSpec) -> list[DeviceSpec]:
    """Devices of the mapping the server uses, loaded by the server's loader.

    Raises:
        MappingError: the mapping (a configured path or model, or the default) is missing or
            invalid; its ``file:line`` lines say why. There is no fallback coach.
    """
    return devices_from_mapping(load_coach_mapping(settings, spec))


def build_coach(
    settings: Settings,
    *,
    bustype: str | None = None,
    channels: Sequence[str] | None = None,
    bus_options: dict[str, Any] | None = None,
    spec: RVCSpec | None = None,
) -> SimulatedCoach:
    """A coach on the settings' bus (or the one given), with the settings' mapping.

    Raises:
        MappingError: the settings' coach mapping cannot be used (see :func:`coach_devices`).
    """
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
