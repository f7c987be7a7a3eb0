"""CAN settings checks that need python-can or the file system (the core layer cannot make them).

``backend.core.config`` parses and checks the form of every ``COACHIQ_CAN__*`` value; what is
left is checked here: the bus type is one python-can knows, and each ``replay:`` channel has valid
options and names an existing log file. ``coachiq serve``, ``coachiq config validate`` and the
``can`` feature's start call :func:`validate_can_settings`.
"""

from __future__ import annotations

from can.interfaces import BACKENDS  # python-can's registry of interface names

from backend.core.config import ENV_PREFIX, CANSettings, Settings
from backend.integrations.can.replay import is_replay, parse_replay_channel

_INTERFACES = f"{ENV_PREFIX}CAN__INTERFACES"
_BUSTYPE = f"{ENV_PREFIX}CAN__BUSTYPE"


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
    return problems
