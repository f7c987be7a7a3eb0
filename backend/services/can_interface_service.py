"""CANInterfaceService: the configured physical interfaces and logical-name resolution.

Logical names (``house``, ``chassis`` and any other in ``INTERFACE_MAPPINGS``) resolve to a
physical channel; a physical channel resolves to itself. With one interface both standard names
map to it; a standard name that is not mapped falls back to the first interface, logged once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from backend.core.config import CANSettings
from backend.integrations.can.errors import UnknownInterfaceError
from backend.integrations.can.manager import (
    BusFactory,
    BusInterface,
    FrameSink,
    InterfaceState,
    make_bus_factory,
)
from backend.integrations.can.multicast import DatagramGuard
from backend.integrations.can.replay import is_replay

logger = logging.getLogger(__name__)

STANDARD_NAMES = ("house", "chassis")


def known_interface_names(settings: CANSettings) -> list[str]:
    """Every interface name a command may give: logical names, then the physical channels."""
    return sorted({*settings.interface_mappings, *STANDARD_NAMES}) + list(settings.interfaces)


class CANInterfaceService:
    """Owns one :class:`BusInterface` per configured channel."""

    def __init__(
        self,
        settings: CANSettings,
        sink: FrameSink,
        *,
        bus_factories: Mapping[str, BusFactory] | None = None,
    ) -> None:
        self.settings = settings
        self.mappings = dict(settings.interface_mappings)
        self._warned: set[str] = set()
        factories = dict(bus_factories or {})
        expect_echo = settings.bustype == "udp_multicast" or bool(
            settings.bus_options.get("receive_own_messages")
        )
        self.interfaces: dict[str, BusInterface] = {}
        self.guards: dict[str, DatagramGuard] = {}
        for channel in settings.interfaces:
            replay = is_replay(channel)
            guard = None
            if settings.bustype == "udp_multicast" and not replay:
                guard = self.guards[channel] = DatagramGuard(settings.udp_multicast_loopback)
            factory = factories.get(channel) or make_bus_factory(
                channel,
                settings.bustype,
                settings.bitrate,
                settings.bus_options,
                replay_rate=settings.replay_rate,
                guard=guard,
            )
            self.interfaces[channel] = BusInterface(
                channel,
                factory,
                sink,
                bitrate=settings.bitrate,
                rx_queue_size=settings.rx_queue_size,
                rx_window=settings.rx_batch_window_ms / 1000.0,
                rx_socket_buffer=settings.rx_socket_buffer,
                rx_fast_path=settings.rx_fast_path,
                guard=guard,
                tx_queue_size=settings.tx_queue_size,
                tx_priority_size=settings.tx_priority_size,
                tx_max_age=settings.tx_max_age,
                backoff_initial=settings.reconnect_initial,
                backoff_max=settings.reconnect_max,
                expect_echo=expect_echo and not replay,
                read_only=replay,
            )

    @property
    def names(self) -> list[str]:
        """Physical channel names in configuration order."""
        return list(self.interfaces)

    def get(self, physical: str) -> BusInterface:
        """The interface of a physical channel.

        Raises:
            UnknownInterfaceError: no such channel.
        """
        try:
            return self.interfaces[physical]
        except KeyError:
            raise UnknownInterfaceError(physical, self.known_names()) from None

    def known_names(self) -> list[str]:
        """Every name :meth:`resolve_interface` accepts."""
        return known_interface_names(self.settings)

    def resolve_interface(self, logical: str | None) -> str:
        """The physical channel for a logical name or channel (None means ``house``).

        Raises:
            UnknownInterfaceError: neither a logical name nor a configured channel.
        """
        name = "house" if logical is None else logical
        physical = self.mappings.get(name)
        if physical is not None:
            return physical
        if name in self.interfaces:
            return name
        if name in STANDARD_NAMES:
            first = self.names[0]
            if len(self.interfaces) > 1 and name not in self._warned:
                self._warned.add(name)
                logger.warning(
                    "No CAN interface mapped to '%s' (COACHIQ_CAN__INTERFACE_MAPPINGS); using %s",
                    name,
                    first,
                )
            return first
        raise UnknownInterfaceError(name, self.known_names())

    def logical_names(self, physical: str) -> list[str]:
        """Logical names that resolve to ``physical``."""
        names = [name for name, target in self.mappings.items() if target == physical]
        if physical == self.names[0]:
            names += [name for name in STANDARD_NAMES if name not in self.mappings]
        return sorted(names)

    async def start(self) -> None:
        """Start every interface's supervisor."""
        for interface in self.interfaces.values():
            await interface.start()

    async def stop(self) -> None:
        """Stop every interface (reverse order). Idempotent."""
        for interface in reversed(self.interfaces.values()):
            await interface.stop()

    def no_activity(self, interface: BusInterface, now: float | None = None) -> bool:
        """True when the interface is up and has received nothing for ``activity_timeout``."""
        if interface.state is not InterfaceState.UP:
            return False
        now = time.monotonic() if now is None else now
        since = interface.last_rx if interface.last_rx is not None else interface.up_since
        return since is not None and now - since > self.settings.activity_timeout

    def status(self, name: str) -> dict[str, Any]:
        """State and counters of one interface."""
        interface = self.get(name)
        counters = interface.counters
        return {
            "channel": name,
            "logical_names": self.logical_names(name),
            "bustype": "replay" if interface.read_only else self.settings.bustype,
            "state": interface.state.value,
            "bitrate": interface.bitrate,
            "read_only": interface.read_only,
            "no_activity": self.no_activity(interface),
            "last_error": interface.last_error,
            "rx": counters.rx,
            "tx": counters.tx,
            "errors": counters.errors,
            "rx_dropped": counters.rx_dropped,
            "tx_dropped": counters.tx_dropped,
            "tx_priority": counters.tx_priority,
            "echo_suppressed": counters.echo_suppressed,
            "reconnects": counters.reconnects,
            "rx_queue": interface.rx_queue_length,
            "tx_queue": interface.tx_queue_length,
            "replay": interface.replay_status(),
            "datagrams": self._datagrams(name),
        }

    def _datagrams(self, name: str) -> dict[str, Any] | None:
        """udp_multicast only: whether it stays on this machine and the datagrams dropped."""
        guard = self.guards.get(name)
        if guard is None:
            return None
        return {"loopback": guard.loopback, "malformed": guard.malformed, "foreign": guard.foreign}
