"""``udp_multicast`` (development and tests) kept on this machine and robust to bad datagrams.

python-can's UDP multicast bus joins its group on every interface and sends with a TTL of 1, so
any host of the coach's Wi-Fi could put frames on a development server's "bus", and one datagram
that does not unpack raises out of ``recv`` (which made the interface reconnect). The guard:

* with ``loopback`` (``COACHIQ_CAN__UDP_MULTICAST_LOOPBACK``, default on) sends with TTL 0, so no
  datagram leaves this machine, and drops datagrams from other machines (counted ``foreign``);
* drops a datagram that is not a packed CAN message (counted ``malformed``) and reads on.

A real coach uses SocketCAN; this bus type is for development and tests.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from can.interfaces.udp_multicast.utils import unpack_message

logger = logging.getLogger(__name__)
_SENDERS_KEPT = 256  # distinct sender addresses remembered (bounded; cleared when full)


@cache
def _local_addresses() -> frozenset[str]:
    """The addresses of this machine's interfaces (a peer on this machine sends from one)."""
    try:
        import psutil

        return frozenset(
            addr.address.split("%")[0]
            for addrs in psutil.net_if_addrs().values()
            for addr in addrs
            if addr.family in (socket.AF_INET, socket.AF_INET6)
        )
    except Exception:  # pragma: no cover - psutil is a dependency; be safe anyway
        return frozenset()


def is_local(address: str) -> bool:
    """True when ``address`` is loopback or one of this machine's own."""
    try:
        if ipaddress.ip_address(address.split("%")[0]).is_loopback:
            return True
    except ValueError:
        return False
    return address.split("%")[0] in _local_addresses()


@dataclass(slots=True)
class DatagramGuard:
    """Counters (kept across reconnects) and the switch of one ``udp_multicast`` interface."""

    loopback: bool = True
    malformed: int = 0
    foreign: int = 0
    _warned: set[str] = field(default_factory=set)
    _senders: dict[str, bool] = field(default_factory=dict)  # sender address -> is local

    def install(self, bus: Any) -> None:
        """Wrap the bus's datagram reader; with ``loopback`` set the send TTL to 0."""
        multicast = getattr(bus, "_multicast", None)
        if multicast is None or not hasattr(multicast, "recv"):
            logger.warning("udp_multicast: python-can's bus has no datagram reader to guard")
            return
        if self.loopback:
            sock = multicast._socket
            zero = struct.pack("@I", 0)
            if sock.family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, zero)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, zero)
        receive = multicast.recv

        def guarded_recv(timeout: float | None = None) -> Any:
            while True:
                result = receive(timeout)
                if result is None:
                    return None
                data, sender, _ = result
                if self.loopback and not self.is_local_sender(sender[0]):
                    self.count_foreign(sender[0])
                elif self.unpacks(data):
                    return result
                timeout = 0.0  # read on what is already there, never wait again

        multicast.recv = guarded_recv

    def is_local_sender(self, address: Any) -> bool:
        """True when a datagram from ``address`` came from this machine (answers cached)."""
        senders = self._senders
        try:
            return senders[address]
        except KeyError:
            pass
        local = is_local(str(address))
        if len(senders) >= _SENDERS_KEPT:
            senders.clear()
        senders[address] = local
        return local

    def count_foreign(self, address: Any) -> None:
        """Count (and the first time, log) a datagram from another machine, dropped."""
        self.foreign += 1
        self._warn("foreign", f"datagram from {address} (another machine) dropped")

    def unpacks(self, data: bytes) -> bool:
        """True when ``data`` is a packed CAN message python-can accepts; else counted."""
        try:
            unpack_message(data, check=True)
        except Exception as exc:
            self.malformed += 1
            self._warn("malformed", f"malformed datagram dropped ({type(exc).__name__})")
            return False
        return True

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning("udp_multicast: %s; further ones are only counted", message)
