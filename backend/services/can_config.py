"""CAN settings checks that need python-can or the file system (the core layer cannot make them).

``backend.core.config`` parses and checks the form of every ``COACHIQ_CAN__*`` value; what is
left is checked here: the bus type is one python-can knows, ``bus_options`` are options that bus
type has (and, for bus types with no hardware behind them, values it accepts), and each ``replay:``
channel has valid options and names an existing log file. ``coachiq serve``, ``coachiq config
validate`` and the ``can`` feature's start call :func:`validate_can_settings`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

import can
from can.interfaces import BACKENDS  # python-can's registry of interface names

from backend.core.config import ENV_PREFIX, CANSettings, Settings
from backend.integrations.can.replay import is_replay, parse_replay_channel

_INTERFACES = f"{ENV_PREFIX}CAN__INTERFACES"
_BUSTYPE = f"{ENV_PREFIX}CAN__BUSTYPE"
_BUS_OPTIONS = f"{ENV_PREFIX}CAN__BUS_OPTIONS"
# Keywords python-can's Bus() takes for every interface (its own configuration handling).
_GENERIC_OPTIONS = frozenset({"can_filters", "fd", "data_bitrate", "timing", "bitrate"})
# Bus types with no hardware behind them: the options are tried by opening one briefly.
_TRIAL_BUSTYPES = frozenset({"udp_multicast", "virtual"})

logger = logging.getLogger(__name__)


def validate_can_settings(settings: Settings | CANSettings) -> list[str]:
    """Problems of the CAN settings, one line each naming its ``COACHIQ_CAN__...`` variable.

    Args:
        settings: all settings, or their ``can`` section.

    Returns:
        The lines (empty when the settings can be used).
    """
    can_settings = settings.can if isinstance(settings, Settings) else settings
    problems: list[str] = []
    for channel in can_settings.interfaces:
        if is_replay(channel):
            try:
                parse_replay_channel(channel)
            except ValueError as exc:
                problems.append(f"{_INTERFACES}: {exc}")
    bustype = can_settings.bustype
    if bustype not in BACKENDS:
        problems.append(
            f"{_BUSTYPE}: unknown python-can interface '{bustype}'; "
            f"known: {', '.join(sorted(BACKENDS))} (got {bustype!r})"
        )
    elif can_settings.bus_options:
        problems += _check_bus_options(can_settings)
    return problems


def _bus_class(bustype: str) -> type | None:
    """python-can's class for ``bustype``, or None when it cannot be imported here."""
    module, name = BACKENDS[bustype]
    try:
        return getattr(importlib.import_module(module), name)
    except Exception:  # an optional driver library missing: its options cannot be checked
        return None


def _known_options(cls: type) -> tuple[set[str], bool]:
    """The keyword options ``cls`` names, and whether it also reads others from ``**kwargs``."""
    known = set(_GENERIC_OPTIONS)
    for klass in (cls, can.BusABC):
        params = inspect.signature(klass.__init__).parameters
        known |= {
            n for n, p in params.items() if n not in ("self", "channel") and p.kind != p.VAR_KEYWORD
        }
    try:
        source = inspect.getsource(cls.__init__)  # pyright: ignore[reportAttributeAccessIssue]
    except (OSError, TypeError):
        source = ""
    return known, "kwargs.get(" in source or "kwargs[" in source


def _check_bus_options(settings: CANSettings) -> list[str]:
    """Unknown options are refused; with a hardware-free bus type, rejected values too."""
    bustype, options = settings.bustype, settings.bus_options
    cls = _bus_class(bustype)
    if cls is None:
        return []
    known, reads_more = _known_options(cls)
    unknown = sorted(set(options) - known)
    if unknown:
        line = (
            f"{_BUS_OPTIONS}: python-can's {bustype} has no option "
            f"{', '.join(repr(u) for u in unknown)}; known: {', '.join(sorted(known))}"
        )
        if not reads_more:
            return [line]
        logger.warning("%s (it may read further options itself)", line)
    if bustype not in _TRIAL_BUSTYPES:
        return []
    channel = next((c for c in settings.interfaces if not is_replay(c)), None)
    if channel is None or _trial_open(bustype, channel, options) is None:
        return []
    problems = []
    for key, value in options.items():
        error = _trial_open(bustype, channel, {key: value})
        if error is not None:
            problems.append(
                f"{_BUS_OPTIONS}: python-can's {bustype} rejects {key}={value!r}: {error}"
            )
    return problems or [
        f"{_BUS_OPTIONS}: python-can's {bustype} rejects {options}: "
        f"{_trial_open(bustype, channel, options)}"
    ]


def _trial_open(bustype: str, channel: str, options: dict[str, Any]) -> str | None:
    """Open and close a bus; the error when python-can refuses the options, else None."""
    try:
        bus = can.Bus(interface=bustype, channel=channel, **options)
    except OSError:
        return None  # the network or device, not the options: the interface retries it
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    bus.shutdown()
    return None
