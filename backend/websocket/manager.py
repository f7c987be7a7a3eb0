"""WebSocketManager: the fan-out of entity changes and sniffed frames to WebSocket clients.

One producer, many consumers. The entity manager's change listener and the CAN service's frame
listener are called on the event loop; each change or frame is encoded once (only when some
client wants it) and the same text is put into the outbox of every client whose subscription or
filter matches. Nothing here awaits a client: each client's own sender task does the writing.
A supervisor task drops clients whose send has been blocked for the stall timeout, sends
heartbeats to idle clients and reports sniffer clients' missed counts.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from starlette.websockets import WebSocket

from backend.core.config import WebSocketSettings
from backend.security.guard import PRINCIPAL_KEY
from backend.services.feature_base import Feature, FeatureHealth, HealthStatus
from backend.services.feature_manager import FeatureNotAvailableError
from backend.websocket import messages
from backend.websocket.connection import Connection, EntityConnection, SnifferConnection
from backend.websocket.messages import ClientMessage, ClientMessageError, Subscription
from backend.websocket.records import command_answer, entity_record, frame_message, rejection

logger = logging.getLogger(__name__)

Unsubscribe = Callable[[], Any]
ENTITY_MESSAGES = frozenset({"subscribe", "command", "ping"})
SNIFFER_MESSAGES = frozenset({"filter", "ping"})
_ORIGINS_KEPT = 1024


class EntityManagerPort(Protocol):
    """What the manager needs of the EntityManager."""

    def get_all_entities(self) -> Any:
        """Every entity."""
        ...

    def add_change_listener(self, callback: Callable[[Any], None]) -> Unsubscribe:
        """Call ``callback(EntityChange)`` on each change; returns an unsubscribe function."""
        ...


class EntityServicePort(Protocol):
    """What the manager needs of the EntityService."""

    def execute_command(
        self, entity_id: str, command: dict[str, Any], *, client: Any = None, owner: Any = None
    ) -> Any:
        """Validate and send a command; returns CommandAccepted (maybe awaitable).

        ``owner`` (``ws:<client id>``) ties a motion's hold lease to the connection.
        """
        ...

    def add_command_listener(self, callback: Callable[[Any], None]) -> Unsubscribe:
        """Call ``callback(CommandResult)`` when a command is confirmed or times out."""
        ...


class CANServicePort(Protocol):
    """What the manager needs of the CANService."""

    def add_listener(self, callback: Callable[[Any], None]) -> Unsubscribe:
        """Call ``callback(FrameEvent)`` for each frame; returns an unsubscribe function."""
        ...


class WebSocketManager:
    """Registers clients, fans out changes and frames, supervises stalls and heartbeats."""

    def __init__(
        self,
        settings: WebSocketSettings,
        entity_manager: EntityManagerPort | None = None,
        entity_service: EntityServicePort | None = None,
        can_service: CANServicePort | None = None,
    ) -> None:
        self.settings = settings
        self.entity_manager = entity_manager
        self.entity_service = entity_service
        self.can_service = can_service
        self._entity_clients: dict[int, EntityConnection] = {}
        self._sniffer_clients: dict[int, SnifferConnection] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._unsubscribe: list[Unsubscribe] = []
        self._can_unsubscribe: Unsubscribe | None = None
        self._entity_meta: dict[str, tuple[str | None, str | None]] = {}
        self._origins: OrderedDict[str, int] = OrderedDict()
        self._version = 0
        self._snapshot_cache: tuple[int, str] | None = None
        self._running = False
        self.counters = {
            "entity_updates": 0,
            "frames": 0,
            "dropped_stalled": 0,
            "errors": 0,
            "rejected_full": 0,
        }
        self._gone = (0, 0)  # (messages sent, messages lost) of clients that have gone

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to entity changes and command results and start the supervisor."""
        if self._running:
            return
        self._running = True
        if self.entity_manager is not None:
            for entity in self._all_entities():
                record = entity_record(entity)
                self._entity_meta[record["entity_id"]] = (record.get("type"), record.get("area"))
            self._unsubscribe.append(self.entity_manager.add_change_listener(self.on_entity_change))
            add_removal = getattr(self.entity_manager, "add_removal_listener", None)
            if add_removal is not None:
                self._unsubscribe.append(add_removal(self.on_entity_removed))
            add_mapping = getattr(self.entity_manager, "add_mapping_listener", None)
            if add_mapping is not None:
                self._unsubscribe.append(add_mapping(self.on_mapping_change))
        if self.entity_service is not None:
            self._unsubscribe.append(
                self.entity_service.add_command_listener(self.on_command_result)
            )
            gate = getattr(self.entity_service, "gate", None)
            if gate is not None:
                self._unsubscribe.append(gate.add_alert_listener(self.on_motion_alert))
        self._supervisor = asyncio.create_task(self._supervise(), name="ws-supervisor")

    async def stop(self) -> None:
        """Unsubscribe, drop every client and await every task. Safe to call twice."""
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._release_can()
        clients: list[Connection] = [
            *self._entity_clients.values(),
            *self._sniffer_clients.values(),
        ]
        for client in clients:
            client.drop("server shutdown")
        if self._supervisor is not None:
            self._supervisor.cancel()
        tasks = [t for t in (self._supervisor, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._supervisor = None
        self._entity_clients.clear()
        self._sniffer_clients.clear()

    @property
    def tasks(self) -> list[asyncio.Task[Any]]:
        """Tasks the manager runs now (supervisor and every client's sender and receiver)."""
        tasks = [t for t in self._tasks if not t.done()]
        if self._supervisor is not None and not self._supervisor.done():
            tasks.append(self._supervisor)
        return tasks

    @property
    def client_count(self) -> int:
        """Clients connected to either endpoint."""
        return len(self._entity_clients) + len(self._sniffer_clients)

    def stats(self) -> dict[str, Any]:
        """Counters and per-client queues for health and tests.

        ``messages_sent`` counts messages written to clients, ``dropped`` what clients lost:
        stalled clients dropped, resyncs (an entity outbox overflowed) and sniffer frames missed.
        Both include clients that have gone.
        """
        clients = [*self._entity_clients.values(), *self._sniffer_clients.values()]
        sent, lost = self._gone
        for client in clients:
            sent += client.sent
            lost += _lost(client)
        return {
            **self.counters,
            "messages_sent": sent,
            "dropped": self.counters["dropped_stalled"] + lost,
            "entity_clients": len(self._entity_clients),
            "sniffer_clients": len(self._sniffer_clients),
            "tasks": len(self.tasks),
            "clients": [
                c.stats() for c in (*self._entity_clients.values(), *self._sniffer_clients.values())
            ],
        }

    # --- endpoints -------------------------------------------------------------------------------

    def admit(self) -> bool:
        """True when another client may connect; a refusal is counted (``rejected_full``)."""
        if len(self._entity_clients) + len(self._sniffer_clients) < self.settings.max_clients:
            return True
        self.counters["rejected_full"] += 1
        return False

    async def serve_entities(self, websocket: WebSocket) -> None:
        """Serve one ``/ws/entities`` client (accepted): snapshot, then updates and replies."""
        client = EntityConnection(
            websocket,
            next(self._ids),
            self.settings.queue_size,
            self.settings.batch_window_ms / 1000.0,
            self._handle_entity_message,
            on_error=self._count_error,
            join_writes=self.settings.join_writes,
            snapshot=self.snapshot_text,
        )
        # Registering and queueing the snapshot happen with no await in between, so no change
        # can fall between the snapshot and the first update.
        self._entity_clients[client.client_id] = client
        client.send_snapshot()
        await self._serve(client, self._entity_clients)

    async def serve_sniffer(self, websocket: WebSocket) -> None:
        """Serve one ``/ws/can-sniffer`` client (accepted): frames as they pass, filtered."""
        client = SnifferConnection(
            websocket,
            next(self._ids),
            self.settings.queue_size,
            self.settings.batch_window_ms / 1000.0,
            self._handle_sniffer_message,
            on_error=self._count_error,
            join_writes=self.settings.join_writes,
            rate_limit=self.settings.sniffer_rate_limit,
        )
        self._sniffer_clients[client.client_id] = client
        self._acquire_can()
        await self._serve(client, self._sniffer_clients)

    def _count_error(self) -> None:
        """A client's sender or message handler raised something unexpected (it is logged)."""
        self.counters["errors"] += 1

    async def _serve(self, client: Connection, registry: dict[int, Any]) -> None:
        try:
            if not self._running:
                client.drop("server shutdown")
                return
            client.start(self._tasks)
            await client.run()
        finally:
            registry.pop(client.client_id, None)
            closed = getattr(self.entity_service, "owner_closed", None)
            if closed is not None and registry is self._entity_clients:
                closed(_owner(client))  # the motion this connection held stops now
            if not self._sniffer_clients:
                self._release_can()
            await client.shutdown()
            sent, lost = self._gone
            self._gone = (sent + client.sent, lost + _lost(client))

    # --- entity fan-out --------------------------------------------------------------------------

    def _all_entities(self) -> list[Any]:
        if self.entity_manager is None:
            return []
        entities = self.entity_manager.get_all_entities()
        if isinstance(entities, dict):
            entities = entities.values()
        return list(entities)

    def snapshot_text(self, subscription: Subscription) -> str:
        """The encoded ``snapshot`` of the entities ``subscription`` selects."""
        if subscription.is_all and self._snapshot_cache is not None:
            version, text = self._snapshot_cache
            if version == self._version:
                return text
        records = [entity_record(e) for e in self._all_entities()]
        if not subscription.is_all:
            records = [
                r
                for r in records
                if subscription.matches(r["entity_id"], r.get("type"), r.get("area"))
            ]
        text = messages.encode({"type": "snapshot", "entities": records})
        if subscription.is_all:
            self._snapshot_cache = (self._version, text)
        return text

    def on_entity_change(self, change: Any) -> None:
        """Entity change listener: encode once, queue for every client that wants it."""
        self._version += 1
        entity_id = change.entity_id
        entity_type = change.entity_type
        area = change.area
        self._entity_meta[entity_id] = (entity_type, area)
        text: str | None = None
        for client in self._entity_clients.values():
            if not client.subscription.matches(entity_id, entity_type, area):
                continue
            if text is None:
                text = messages.encode(
                    {
                        "type": "entity_update",
                        "entity_id": entity_id,
                        "state": change.state,
                        "available": change.available,
                        "last_updated": change.last_updated,
                    }
                )
                self.counters["entity_updates"] += 1
            client.push_update(entity_id, text)

    def on_entity_removed(self, event: Any) -> None:
        """A reloaded mapping dropped an entity: ``entity_removed`` to every client watching it
        (as a reply, so the snapshot that follows does not discard it)."""
        self._version += 1
        entity_id = event.entity_id
        self._entity_meta.pop(entity_id, None)
        text: str | None = None
        for client in self._entity_clients.values():
            if not client.subscription.matches(entity_id, event.entity_type, event.area):
                continue
            if text is None:
                text = messages.encode({"type": "entity_removed", "entity_id": entity_id})
            client.reply(text)

    def on_mapping_change(self, change: Any) -> None:
        """The mapping was replaced in place: every client gets a fresh snapshot (new entities,
        new names and areas)."""
        self._version += 1
        for entity in self._all_entities():
            record = entity_record(entity)
            self._entity_meta[record["entity_id"]] = (record.get("type"), record.get("area"))
        for client in self._entity_clients.values():
            client.send_snapshot()

    def on_command_result(self, result: Any) -> None:
        """Command result listener: to the client that sent it and everyone watching the entity."""
        payload = command_answer(result)
        entity_id = payload.get("entity_id")
        origin = self._origins.pop(str(payload.get("command_id")), None)
        entity_type, area = self._entity_meta.get(str(entity_id), (None, None))
        text: str | None = None
        for client in self._entity_clients.values():
            if client.client_id != origin and not client.subscription.matches(
                str(entity_id), entity_type, area
            ):
                continue
            if text is None:
                text = messages.encode(payload)
            client.reply(text)

    def on_motion_alert(self, alert: dict[str, Any]) -> None:
        """A motion alert (coach moving with a load out, or its clearing): to every client."""
        text = messages.encode(alert)
        for client in self._entity_clients.values():
            client.reply(text)

    def add_unsubscriber(self, unsubscribe: Unsubscribe) -> None:
        """Call ``unsubscribe`` when the manager stops (a subscription made for it elsewhere)."""
        self._unsubscribe.append(unsubscribe)

    def on_diagnostic(self, message: dict[str, Any]) -> None:
        """A DM_RV fault raised or cleared (``diagnostic_fault``): to every client."""
        if not self._running:
            return
        text = messages.encode(message)
        for client in self._entity_clients.values():
            client.reply(text)

    # --- sniffer fan-out -------------------------------------------------------------------------

    def _acquire_can(self) -> None:
        if self._can_unsubscribe is None and self.can_service is not None and self._running:
            self._can_unsubscribe = self.can_service.add_listener(self.on_frame)

    def _release_can(self) -> None:
        if self._can_unsubscribe is not None:
            unsubscribe, self._can_unsubscribe = self._can_unsubscribe, None
            unsubscribe()

    def on_frame(self, event: Any) -> None:
        """CAN frame listener: encode once, queue for every sniffer client whose filter matches."""
        decoded = event.decoded
        arbitration_id = event.arbitration_id
        dgn = getattr(decoded, "dgn", None)
        if not isinstance(dgn, int):
            dgn = (arbitration_id >> 8) & 0x1FFFF
        source = arbitration_id & 0xFF
        text: str | None = None
        now = time.monotonic()
        for client in self._sniffer_clients.values():
            if not client.filter.matches(dgn, source, event.interface, event.direction):
                continue
            if text is None:
                text = messages.encode(frame_message(event))
                self.counters["frames"] += 1
            client.push_frame(now, text)

    # --- client messages -------------------------------------------------------------------------

    async def _handle_entity_message(self, client: Connection, data: str | bytes | None) -> None:
        assert isinstance(client, EntityConnection)
        try:
            message = messages.parse(data, ENTITY_MESSAGES)
            if message.type == "ping":
                client.reply(messages.pong(message.request_id))
            elif message.type == "subscribe":
                self._subscribe(client, message)
            else:
                await self._command(client, message)
        except ClientMessageError as exc:
            client.reply(exc.to_text())

    async def _handle_sniffer_message(self, client: Connection, data: str | bytes | None) -> None:
        assert isinstance(client, SnifferConnection)
        try:
            message = messages.parse(data, SNIFFER_MESSAGES)
            if message.type == "ping":
                client.reply(messages.pong(message.request_id))
            else:
                client.filter = messages.parse_filter(message)
                ack: dict[str, Any] = {"type": "filter_applied", **client.filter.to_dict()}
                if message.request_id is not None:
                    ack["id"] = message.request_id
                client.reply(messages.encode(ack))
        except ClientMessageError as exc:
            client.reply(exc.to_text())

    def _subscribe(self, client: EntityConnection, message: ClientMessage) -> None:
        subscription = messages.parse_subscription(message)
        ack: dict[str, Any] = {"type": "subscribed", **subscription.to_dict()}
        if message.request_id is not None:
            ack["id"] = message.request_id
        if subscription.entity_ids is not None:
            known = {entity_record(e)["entity_id"] for e in self._all_entities()}
            unknown = sorted(subscription.entity_ids - known)
            if unknown:
                ack["unknown_entity_ids"] = unknown
        # Updates queued under the old subscription may no longer be wanted; the new snapshot
        # carries the current state of everything the new one selects. Replies already queued
        # (pong, command_result, error) still go out, in order.
        client.subscription = subscription
        client.reply(messages.encode(ack))
        client.send_snapshot()

    async def _command(self, client: EntityConnection, message: ClientMessage) -> None:
        body = message.body
        entity_id = body.pop("entity_id", None)
        if not isinstance(entity_id, str) or not entity_id:
            raise ClientMessageError(
                "invalid_message",
                "command: 'entity_id' must be a non-empty string",
                message.request_id,
            )
        if self.entity_service is None:
            raise ClientMessageError(
                "unavailable",
                "commands are unavailable: the entities feature is not running",
                message.request_id,
            )
        scope = client.websocket.scope
        security = getattr(getattr(scope.get("app"), "state", None), "security", None)
        principal = scope.get(PRINCIPAL_KEY)
        peer = client.peer
        try:
            if security is not None:
                entity = getattr(self.entity_manager, "get_entity", lambda _id: None)(entity_id)
                if entity is not None:
                    security.authorize(principal, entity, body, peer)
                peer = security.command_client(principal, peer)
            accepted = self.entity_service.execute_command(
                entity_id, body, client=peer, owner=_owner(client)
            )
            if inspect.isawaitable(accepted):
                accepted = await accepted
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            client.reply(messages.encode(rejection(entity_id, exc, message.request_id)))
            return
        if security is not None:
            result = f"accepted {getattr(accepted, 'command_id', '')}".strip()
            security.record_command(principal, client.peer, entity_id, body, result)
        payload = command_answer(accepted, entity_id=entity_id)
        if message.request_id is not None:
            payload["id"] = message.request_id
        command_id = payload.get("command_id")
        if command_id is not None:
            self._origins[str(command_id)] = client.client_id
            while len(self._origins) > _ORIGINS_KEPT:
                self._origins.popitem(last=False)
        client.reply(messages.encode(payload))

    # --- supervision -----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        settings = self.settings
        tick = min(1.0, settings.stall_timeout / 4, settings.heartbeat_interval / 2)
        while True:
            await asyncio.sleep(tick)
            self.supervise_once(time.monotonic())

    def supervise_once(self, now: float) -> None:
        """One supervision pass: drop stalled clients, heartbeat idle ones, report missed."""
        settings = self.settings
        beat: str | None = None
        clients: list[Connection] = [
            *self._entity_clients.values(),
            *self._sniffer_clients.values(),
        ]
        for client in clients:
            if client.closed:
                continue
            if client.stalled_for(now) >= settings.stall_timeout:
                self.counters["dropped_stalled"] += 1
                client.drop("stalled")
                continue
            if isinstance(client, SnifferConnection) and now - client.window_start >= 1.0:
                client.roll_window(now)
            if (
                client.send_started is None
                and not len(client.outbox)
                and now - client.last_sent >= settings.heartbeat_interval
            ):
                beat = beat or messages.heartbeat()
                client.last_sent = now
                client.reply(beat)


def _lost(client: Connection) -> int:
    """What a client lost to its bounds: resyncs of an entity client, a sniffer's misses."""
    if isinstance(client, EntityConnection):
        return client.resyncs
    if isinstance(client, SnifferConnection):
        return client.missed_total + client.rate_limited + client.queue_dropped
    return 0


class WebSocketFeature(Feature):
    """The ``websocket`` feature; ``service`` is its :class:`WebSocketManager`."""

    service: WebSocketManager | None = None

    async def start(self) -> None:
        """Build the manager over the entities (and, when running, CAN) features and start it."""
        entities = self.context.dependency("entities")
        try:
            can_service = getattr(self.context.dependency("can"), "service", None)
        except FeatureNotAvailableError:
            can_service = None
        self.service = WebSocketManager(
            self.settings.websocket,
            entity_manager=getattr(entities, "entity_manager", None),
            entity_service=getattr(entities, "service", None),
            can_service=can_service,
        )
        await self.service.start()
        try:  # DM_RV faults come from the dashboard when it runs (it may start after us)
            dashboard = self.context.feature_manager.get_feature("dashboard")
        except FeatureNotAvailableError:
            return
        subscribe = getattr(getattr(dashboard, "service", None), "add_fault_listener", None)
        if subscribe is not None:
            self.service.add_unsubscriber(subscribe(self.service.on_diagnostic))

    async def stop(self) -> None:
        """Stop the manager (drops every client). Safe to call twice."""
        if self.service is not None:
            await self.service.stop()

    def check_health(self) -> FeatureHealth:
        """Healthy while running; details carry client counts and drops."""
        if self.service is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        stats = self.service.stats()
        stats.pop("clients")
        return FeatureHealth(HealthStatus.HEALTHY, details=stats)


def _owner(client: Any) -> str:
    """The lease owner name of a WebSocket connection."""
    return f"ws:{client.client_id}"
