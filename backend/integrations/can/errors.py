"""Named errors of the CAN bus layer; the API translates them into HTTP problem responses."""

from __future__ import annotations


class CANError(Exception):
    """Base class of every error raised by ``backend.integrations.can`` and the CAN service."""


class TransmitQueueFullError(CANError):
    """The interface's bounded transmit queue is full; the frame was not queued (HTTP 503)."""

    def __init__(self, interface: str, size: int) -> None:
        self.interface = interface
        self.size = size
        super().__init__(
            f"transmit queue of interface '{interface}' is full ({size} frames); try again later"
        )


class InterfaceUnavailableError(CANError):
    """The interface is not connected (failed, reconnecting, stopped); nothing was queued (503).

    Attributes:
        interface: the physical channel.
        state: its state (``failed``, ``reconnecting``, ``stopped``).
        reason: the last error seen on it, if any.
    """

    def __init__(self, interface: str, state: str, reason: str | None = None) -> None:
        self.interface = interface
        self.state = state
        self.reason = reason
        because = f": {reason}" if reason else ""
        super().__init__(f"interface {interface} is {state}{because}; the frame was not sent")


class UnknownInterfaceError(CANError, ValueError):
    """The interface named is neither a logical name nor a configured channel (HTTP 422)."""

    def __init__(self, interface: str, known: list[str] | tuple[str, ...] = ()) -> None:
        self.interface = interface
        self.known = tuple(known)
        hint = f"; known: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown CAN interface '{interface}'{hint}")


class ReadOnlyInterfaceError(UnknownInterfaceError):
    """The interface cannot transmit (a replayed log); treated like an unknown one (HTTP 422)."""

    def __init__(self, interface: str) -> None:
        CANError.__init__(self, f"CAN interface '{interface}' is a read-only replay")
        self.interface = interface
        self.known = ()


class FrameError(CANError, ValueError):
    """A frame given to send is malformed (id out of range, too much data, bad hex)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
