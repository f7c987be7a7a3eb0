"""Named errors of the RV-C protocol layer.

Every error the protocol package raises derives from :class:`RVCError`, so an edge (the API, the
CLI) can translate the whole family into a clear message. Decoding never raises; these errors come
from loading a specification and from encoding.
"""

from __future__ import annotations

from collections.abc import Iterable


def _listing(items: Iterable[object], limit: int = 40) -> str:
    """Render ``items`` as a short comma-separated list for an error message."""
    values = [str(item) for item in items]
    if len(values) > limit:
        return ", ".join(values[:limit]) + f", ... ({len(values) - limit} more)"
    return ", ".join(values)


class RVCError(Exception):
    """Base class of every error raised by ``backend.integrations.rvc``."""


class SpecError(RVCError):
    """The specification file is missing, unreadable or inconsistent."""


class EncodeError(RVCError, ValueError):
    """A message cannot be encoded from the arguments given."""


class UnknownDGNError(EncodeError, KeyError):
    """The DGN number or name is not in the specification."""

    def __init__(self, dgn: object, known: Iterable[str] = ()) -> None:
        self.dgn = dgn
        self.known = tuple(known)
        hint = f"; known names include: {_listing(self.known, 20)}" if self.known else ""
        super().__init__(f"unknown DGN {dgn!r}{hint}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownSignalError(EncodeError):
    """A signal name given for encoding is not a signal of the DGN."""

    def __init__(self, dgn_name: str, signal: str, allowed: Iterable[str]) -> None:
        self.dgn_name = dgn_name
        self.signal = signal
        self.allowed = tuple(allowed)
        super().__init__(
            f"{dgn_name} has no signal {signal!r}; allowed signals: {_listing(self.allowed)}"
        )


class SignalValueError(EncodeError):
    """A signal value is out of range, of the wrong type or not one of its labels."""

    def __init__(self, dgn_name: str, signal: str, value: object, allowed: str) -> None:
        self.dgn_name = dgn_name
        self.signal = signal
        self.value = value
        self.allowed = allowed
        super().__init__(f"{dgn_name}.{signal}: {value!r} is not allowed; allowed: {allowed}")


class AddressError(EncodeError):
    """A priority, source or destination address is invalid for the DGN."""
