"""CANService: every frame decoded once and handed on; transmission; the ``can`` feature.

Reception path (on the event loop, no awaits): bus -> :class:`BusInterface` batching receiver ->
``process_frame`` -> RV-C decode -> statistics, sniffer, command groups, RV-C node (address claim,
REQUEST answers), multi-packet reassembly -> listeners. Transmission: ``send_can_message``
resolves the interface and puts the frame on that interface's bounded queue; once written, the
frame passes through the same path as ``tx``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from backend.core.config import CANSettings, ConfigError
from backend.integrations.can import message_factory as mf
from backend.integrations.can.frame_event import Direction, FrameEvent
from backend.integrations.can.manager import BusFactory, BusInterface, InterfaceState
from backend.integrations.can.node import RVCNode
from backend.integrations.can.tasks import cancel_and_wait
from backend.integrations.rvc.decoder import DecodedMessage
from backend.integrations.rvc.transport import Reassembler
from backend.services.can_config import validate_can_settings
from backend.services.can_interface_service import CANInterfaceService
from backend.services.can_sniffer import CommandGroups, Sniffer
from backend.services.can_statistics import CANStatistics
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus

logger = logging.getLogger(__name__)

Listener = Callable[[FrameEvent], None]
Decode = Callable[[int, bytes], Any]
_HOUSEKEEPING_S = 0.25
_TRANSPORT_PF = frozenset({0xEB, 0xEC})
_NODE_PF = frozenset({0xEA, 0xEE})  # REQUEST, ADDRESS_CLAIMED: see RVCNode.on_frame
_NODE = object()  # tag of the RV-C node's own network frames: never command groups


class CANService:
    """The application's door to the CAN interfaces (one instance per application)."""

    def __init__(
        self,
        settings: CANSettings,
        decode: Decode,
        *,
        bus_factories: Mapping[str, BusFactory] | None = None,
        claim_wait: float = 0.25,
        packet_gap: float = 0.05,
        new_reassembler: Callable[[], Reassembler] = Reassembler,
    ) -> None:
        self.settings = settings
        self._decode = decode
        self.interface_service = CANInterfaceService(
            settings, self._on_bus_frame, bus_factories=bus_factories
        )
        self.sniffer = Sniffer(settings.sniffer_size)
        self.groups = CommandGroups(settings.group_size, settings.pending_timeout)
        self.stats = CANStatistics()
        self.listener_errors = 0
        self._listeners: tuple[Listener, ...] = ()
        self._reassemblers: dict[str, Reassembler] = {}
        self.nodes: dict[str, RVCNode] = {}
        name = mf.ClaimName(
            serial_number=settings.name_serial,
            manufacturer_code=settings.name_manufacturer_code,
            arbitrary_address_capable=settings.address_claiming,
        )
        for channel, interface in self.interface_service.interfaces.items():
            self._reassemblers[channel] = new_reassembler()
            if interface.read_only:
                continue
            self.nodes[channel] = RVCNode(
                channel,
                name,
                settings.source_address,
                settings.product_id,
                self._sender(channel),
                claim_wait=claim_wait,
                packet_gap=packet_gap,
            )
            interface.state_listeners.append(self._on_state)
        self._housekeeping: asyncio.Task[None] | None = None
        self.started_at: float | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the interfaces and the housekeeping task."""
        self.started_at = time.time()
        await self.interface_service.start()
        if self._housekeeping is None:
            self._housekeeping = asyncio.create_task(self._housekeep(), name="can-housekeeping")

    async def stop(self) -> None:
        """Stop housekeeping, the RV-C nodes and the interfaces. Idempotent."""
        task, self._housekeeping = self._housekeeping, None
        await cancel_and_wait(task)
        for node in self.nodes.values():
            await node.stop()
        await self.interface_service.stop()

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Background tasks the service currently owns (for tests and diagnostics)."""
        result: list[asyncio.Task[Any]] = []
        if self._housekeeping is not None and not self._housekeeping.done():
            result.append(self._housekeeping)
        for interface in self.interface_service.interfaces.values():
            result.extend(interface.tasks)
        for node in self.nodes.values():
            result.extend(t for t in node.tasks)
        return result

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_S)
            self.groups.expire()
            now = time.time()
            for reassembler in self._reassemblers.values():
                reassembler.expire(now)

    def _on_state(self, interface: BusInterface) -> None:
        node = self.nodes.get(interface.name)
        if node is None:
            return
        if interface.state is InterfaceState.UP:
            node.start_claim()

    # --- listeners ---------------------------------------------------------------------------

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` for every rx and tx frame; returns the unsubscribe function.

        Listeners run synchronously on the event loop and must be cheap (queue your own work).
        A listener that raises is logged and counted; reception goes on.
        """
        self._listeners = (*self._listeners, callback)

        def unsubscribe() -> None:
            self._listeners = tuple(cb for cb in self._listeners if cb is not callback)

        return unsubscribe

    def _notify(self, event: FrameEvent) -> None:
        for callback in self._listeners:
            try:
                callback(event)
            except Exception:
                self.listener_errors += 1
                if self.listener_errors <= 10 or self.listener_errors % 1000 == 0:
                    logger.exception(
                        "CAN listener %r failed (%d failures)", callback, self.listener_errors
                    )

    # --- the processing path -----------------------------------------------------------------

    def _on_bus_frame(
        self,
        interface: BusInterface,
        arbitration_id: int,
        data: bytes,
        timestamp: float,
        direction: str,
        tag: Any,
    ) -> None:
        event = self.process_frame(
            interface.name,
            arbitration_id,
            data,
            "tx" if direction == "tx" else "rx",
            timestamp or time.time(),
        )
        if direction == "tx" and tag is not _NODE:
            self.groups.register(event, entity_id=tag)

    def process_frame(
        self,
        interface: str,
        arbitration_id: int,
        data: bytes,
        direction: Direction = "rx",
        timestamp: float | None = None,
    ) -> FrameEvent:
        """Decode one frame once and hand it to statistics, sniffer, groups, node and listeners.

        This is the path every received and sent frame takes (tests may call it directly).
        """
        if timestamp is None:
            timestamp = time.time()
        decoded = self._decode(arbitration_id, data)
        event = FrameEvent(interface, direction, timestamp, arbitration_id, data, decoded)
        if type(decoded) is DecodedMessage:  # the project's decoder (attribute reads only)
            dgn, name, error = decoded.dgn, decoded.name, decoded.error
        else:
            dgn = getattr(decoded, "dgn", None)
            if not isinstance(dgn, int):
                dgn = (arbitration_id >> 8) & 0x1FFFF
            name, error = getattr(decoded, "name", None), getattr(decoded, "error", None)
        stats = self.stats
        stats.record(interface, direction, timestamp, dgn, arbitration_id & 0xFF, len(data), name)
        if error is not None:
            stats.decode_errors += 1  # a known DGN's data that did not decode
        self.sniffer.append(event)
        if direction == "rx":
            if self.groups.pending:
                self.groups.on_rx(event)
            if (arbitration_id >> 16) & 0xFF in _NODE_PF:  # all the RV-C node answers
                node = self.nodes.get(interface)
                if node is not None:
                    node.on_frame(arbitration_id, data)
        self._notify(event)
        if (arbitration_id >> 16) & 0xFF in _TRANSPORT_PF and direction == "rx":
            self._reassemble(interface, arbitration_id, data, timestamp)
        return event

    def _reassemble(self, interface: str, arbitration_id: int, data: bytes, ts: float) -> None:
        reassembler = self._reassemblers.get(interface)
        if reassembler is None:
            return
        message = reassembler.feed(arbitration_id, data, ts)
        if message is None:
            return
        decoded = self._decode(message.can_id, message.data)
        event = FrameEvent(interface, "rx", ts, message.can_id, message.data, decoded)
        self.sniffer.append(event)
        self.groups.on_rx(event)
        self._notify(event)

    # --- transmission ------------------------------------------------------------------------

    def _sender(self, channel: str) -> Callable[[int, bytes], None]:
        def send(arbitration_id: int, data: bytes) -> None:
            message = mf.make_message(arbitration_id, data)
            self.interface_service.get(channel).enqueue(message, _NODE)

        return send

    async def send_can_message(
        self,
        arbitration_id: int,
        data: bytes,
        *,
        interface: str | None = None,
        entity_id: str | None = None,
        priority: bool = False,
    ) -> None:
        """Queue one frame on the interface ``interface`` resolves to (None: ``house``).

        ``priority``: a motion load's Stop, queued in the interface's priority lane.

        Raises:
            UnknownInterfaceError: the interface is neither logical nor configured (or is a
                read-only replay: ``ReadOnlyInterfaceError``, a subclass).
            TransmitQueueFullError: that interface's transmit queue is full.
            FrameError: the id is not 29-bit or the data is longer than 8 bytes.
        """
        mf.check_arbitration_id(arbitration_id)
        data = bytes(data)
        mf.check_data(data)
        physical = self.interface_service.resolve_interface(interface)
        self.interface_service.get(physical).enqueue(
            mf.make_message(arbitration_id, data), entity_id, priority=priority
        )

    def register_pending_command(
        self,
        arbitration_id: int,
        data: bytes,
        *,
        interface: str | None = None,
        response_dgns: set[int] | None = None,
        entity_id: str | None = None,
    ) -> int | None:
        """Wait (``pending_timeout``) for the answer to a command sent by other means.

        Commands sent with :meth:`send_can_message` are registered automatically. Returns the
        group id, or None when nothing could answer the frame.
        """
        physical = self.interface_service.resolve_interface(interface)
        event = FrameEvent(
            physical, "tx", time.time(), arbitration_id, bytes(data),
            self._decode(arbitration_id, bytes(data)),
        )  # fmt: skip
        return self.groups.register(event, entity_id=entity_id, response_dgns=response_dgns)

    def source_address(self, interface: str | None = None) -> int:
        """The source address CoachIQ transmits from on ``interface`` (claimed, else configured)."""
        try:
            physical = self.interface_service.resolve_interface(interface)
        except Exception:
            return self.settings.source_address
        node = self.nodes.get(physical)
        return node.transmit_address if node is not None else self.settings.source_address

    # --- views -------------------------------------------------------------------------------

    def sniffer_records(
        self, limit: int = 100, filters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Sniffed frames, newest first; filters: dgn, source, direction, interface."""
        filters = dict(filters or {})
        return self.sniffer.records(
            limit,
            dgn=filters.get("dgn"),
            source=filters.get("source"),
            direction=filters.get("direction"),
            interface=filters.get("interface"),
        )

    def sniffer_groups(self, limit: int = 100) -> dict[str, Any]:
        """Command/response groups newest first, and the commands still pending."""
        return {
            "groups": self.groups.records(limit),
            "pending": self.groups.pending_records(),
        }

    def interfaces_status(self) -> list[dict[str, Any]]:
        """Every interface: channel, logical names, state, bitrate, counters, address claim."""
        result = []
        for name in self.interface_service.names:
            status = self.interface_service.status(name)
            node = self.nodes.get(name)
            status["source_address"] = node.transmit_address if node else None
            status["address_claim"] = node.state.value if node else None
            status["last_frame_time"] = self.stats.last_frame.get(name)
            result.append(status)
        return result

    def statistics(self) -> dict[str, Any]:
        """Per-interface counters, rates and bus load; per-DGN and per-source counts."""
        now = time.time()
        interfaces = {}
        for name, interface in self.interface_service.interfaces.items():
            c = interface.counters
            interfaces[name] = {
                "rx": c.rx,
                "tx": c.tx,
                "errors": c.errors,
                "rx_dropped": c.rx_dropped,
                "tx_dropped": c.tx_dropped,
                "echo_suppressed": c.echo_suppressed,
                "standard_skipped": c.standard_skipped,
                "error_frames": c.error_frames,
                "rates": self.stats.interface_rates(name, interface.bitrate, now),
                "last_frame_time": self.stats.last_frame.get(name),
            }
        multipacket: dict[str, int] = {}
        for reassembler in self._reassemblers.values():
            for key, value in reassembler.counters.items():
                multipacket[key] = multipacket.get(key, 0) + value
        return {
            "interfaces": interfaces,
            "rx": sum(i["rx"] for i in interfaces.values()),
            "tx": sum(i["tx"] for i in interfaces.values()),
            "standard_skipped": sum(i["standard_skipped"] for i in interfaces.values()),
            "dgns": self.stats.per_dgn(),
            "dgn_overflow": self.stats.dgn_overflow,
            "sources": self.stats.per_source(),
            "unknown_frames": self.stats.unknown_frames,
            "decode_errors": self.stats.decode_errors,
            "listener_errors": self.listener_errors,
            "multipacket": multipacket,
            "commands": {
                "pending": len(self.groups.pending),
                "answered": self.groups.answered,
                "expired": self.groups.expired,
            },
        }

    def status(self) -> dict[str, Any]:
        """Overall state: ``up`` when every interface is up, ``degraded``, or ``down``."""
        states = [i.state for i in self.interface_service.interfaces.values()]
        up = sum(state is InterfaceState.UP for state in states)
        if states and up == len(states):
            overall = "up"
        elif up:
            overall = "degraded"
        else:
            overall = "down"
        return {
            "state": overall,
            "interfaces": len(states),
            "interfaces_up": up,
            "bustype": self.settings.bustype,
            "bitrate": self.settings.bitrate,
            "source_address": self.source_address(),
            "rx": sum(i.counters.rx for i in self.interface_service.interfaces.values()),
            "tx": sum(i.counters.tx for i in self.interface_service.interfaces.values()),
            "listeners": len(self._listeners),
            "listener_errors": self.listener_errors,
            "sniffer_frames": len(self.sniffer.frames),
            "started_at": self.started_at,
        }

    def health(self) -> FeatureHealth:
        """Healthy when all interfaces are up and active; unhealthy only when all have failed."""
        details: dict[str, Any] = {}
        problems: list[str] = []
        failed = 0
        service = self.interface_service
        for name, interface in service.interfaces.items():
            quiet = service.no_activity(interface)
            details[name] = {
                "state": interface.state.value,
                "no_activity": quiet,
                "last_error": interface.last_error,
            }
            if interface.state is InterfaceState.FAILED:
                failed += 1
            if interface.state is not InterfaceState.UP:
                problems.append(f"{name} is {interface.state.value}")
            elif quiet:
                problems.append(f"{name}: no CAN activity")
        if failed and failed == len(service.interfaces):
            return FeatureHealth(HealthStatus.UNHEALTHY, "; ".join(problems), details)
        if problems:
            return FeatureHealth(HealthStatus.DEGRADED, "; ".join(problems), details)
        return FeatureHealth(HealthStatus.HEALTHY, "", details)

    def not_ready(self) -> list[str]:
        """One line per configured interface that is not up (state and last error)."""
        lines = []
        for name, interface in self.interface_service.interfaces.items():
            if interface.state is InterfaceState.UP:
                continue
            error = f": {interface.last_error}" if interface.last_error else ""
            lines.append(f"interface {name} is {interface.state.value}{error}")
        return lines


class CANFeature(Feature):
    """The ``can`` feature: owns the CANService (and through it the interfaces)."""

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "CAN bus")
        self._service: CANService | None = None

    async def start(self) -> None:
        """Check the settings, then open the interfaces (each connects and reconnects alone).

        Raises:
            ConfigError: the settings cannot be used (one line per problem, naming its variable).
        """
        problems = validate_can_settings(self.settings.can)
        if problems:
            raise ConfigError(problems)
        rvc_service = self.context.dependency("rvc").service  # pyright: ignore[reportAttributeAccessIssue]
        self._service = CANService(
            self.settings.can,
            rvc_service.decode,
            new_reassembler=getattr(rvc_service, "new_reassembler", Reassembler),
        )
        await self._service.start()

    async def stop(self) -> None:
        """Stop the service. Safe to call twice."""
        if self._service is not None:
            await self._service.stop()

    @property
    def service(self) -> CANService:
        """The running CANService."""
        if self._service is None:
            raise RuntimeError("the can feature is not started")
        return self._service

    @property
    def interface_service(self) -> CANInterfaceService:
        """The CANInterfaceService (``resolve_interface``)."""
        return self.service.interface_service

    def check_health(self) -> FeatureHealth:
        """Interface states degrade health; all interfaces failed makes it unhealthy."""
        if self._service is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        return self._service.health()

    def not_ready(self) -> list[str]:
        """Ready only when every configured interface is up; the others named."""
        if self._service is None:
            return ["not started"]
        return self._service.not_ready()
