"""MQTTBridge: the coach's entities on an MQTT broker, and commands from it.

One supervisor task connects, and after every (re)connection: subscribes, publishes the retained
``online`` status (the broker holds ``offline`` as our last will), removes discovery configs of
entities the mapping no longer has, publishes discovery and every entity's state. Home
Assistant's birth message (``<discovery_prefix>/status`` = ``online``) repeats the announcement.
Entity changes go through a bounded :class:`Outbox` that coalesces per entity, so a slow or
absent broker costs the CAN path one dict assignment per change and never a wait.

Commands on ``<prefix>/<coach_id>/<entity_id>/set`` carry the REST command body and go through
``EntityService.execute_command`` with client ``mqtt`` (validation, confirmation, audit); every
outcome, refusals included, is published on ``.../result``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from enum import StrEnum
from typing import Any

from backend.core.config import MQTTSettings, parse_mqtt_url
from backend.core.entity_errors import EntityError
from backend.integrations.mqtt import discovery
from backend.integrations.mqtt.client import (
    BrokerParams,
    InboundMessage,
    MQTTError,
    MQTTSession,
    connect,
)
from backend.integrations.mqtt.outbox import Outbox, Outgoing
from backend.integrations.mqtt.topics import STOP_ALL, Topics
from backend.security.principal import (
    CommandNotAllowedError,
    Principal,
    Role,
    authorize_command,
)

logger = logging.getLogger(__name__)

CLIENT = "mqtt"  # the principal MQTT commands are audited as
SYNC_TIMEOUT = 5.0  # seconds to wait for our own sync message (retained manifest read)
SAFETY_INTERVAL = 1.0  # seconds between looks at the motion-safety state
TRACKED_COMMANDS = 256  # MQTT-issued commands awaiting a result, remembered at most


class BridgeState(StrEnum):
    """Connection state of the bridge."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"


Connector = Callable[..., AbstractAsyncContextManager[MQTTSession]]
# SecurityService.record_command(principal, client, entity_id, command, result)
AuditHook = Callable[[Principal, str | None, str, Mapping[str, Any], str], None]


class Backoff:
    """Reconnection delays: doubling from ``minimum`` to ``maximum``, each scaled by a random
    0.5x-1.5x (capped at ``maximum``) so that many bridges do not retry in step."""

    def __init__(
        self, minimum: float, maximum: float, jitter: Callable[[], float] = random.random
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self._jitter = jitter
        self._base = minimum

    def reset(self) -> None:
        """Start again from the minimum (after a successful connection)."""
        self._base = self.minimum

    def next_delay(self) -> float:
        """The delay before the next attempt."""
        delay = min(self._base * (0.5 + self._jitter()), self.maximum)
        self._base = min(self._base * 2, self.maximum)
        return delay


# EntityError status -> the ``error`` of a rejected result (errors with a ``code`` use that).
_ERROR_KINDS = {404: "not_found", 409: "unavailable", 422: "invalid", 503: "not_sent"}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return str(exc) if isinstance(exc, MQTTError) else f"{type(exc).__name__}: {exc}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class MQTTBridge:
    """Publishes entity states and discovery; executes commands from ``/set`` topics."""

    def __init__(
        self,
        settings: MQTTSettings,
        manager: Any,
        service: Any,
        *,
        coach_id: str,
        coach_name: str,
        version: str = "",
        connector: Connector = connect,
        audit: AuditHook | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.manager = manager
        self.service = service
        self.topics = Topics(settings.topic_prefix, coach_id, settings.discovery_prefix)
        self.coach_name = coach_name
        self.version = version
        self._connector = connector
        self.backoff = Backoff(settings.reconnect_min, settings.reconnect_max, jitter)
        tls, host, port = parse_mqtt_url(settings.url)
        self.params = BrokerParams(
            host=host,
            port=port,
            tls=tls,
            ca_file=settings.ca_file,
            cert_file=settings.cert_file,
            key_file=settings.key_file,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            client_id=settings.client_id or f"coachiq-{coach_id}",
            keepalive=settings.keepalive,
            will_topic=self.topics.status,
        )
        self.principal = Principal(
            name=CLIENT, role=Role(settings.role), motion=settings.allow_motion, kind="service"
        )
        self.audit = audit
        self.outbox = Outbox(settings.queue_size)
        self.state = BridgeState.STOPPED
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self.stats = {
            "connects": 0,
            "disconnects": 0,
            "published": 0,
            "announcements": 0,
            "commands": 0,
            "commands_rejected": 0,
            "removed_devices": 0,
        }
        self._mine: OrderedDict[str, str] = OrderedDict()
        self._announce = asyncio.Event()
        self._synced = asyncio.Event()
        self._sync_token = ""
        self._previous_manifest: dict[str, Any] | None = None
        self._session: MQTTSession | None = None
        self._safety: dict[str, Any] | None = None  # the last published safety state
        self._owner: str | None = None  # the lease owner of this session's motion commands
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: list[Callable[[], Any]] = []
        self._incoming_dropped = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to entity changes and command results; start the supervisor task."""
        self._unsubscribe.append(self.manager.add_change_listener(self._on_change))
        self._unsubscribe.append(self.service.add_command_listener(self._on_result))
        self._unsubscribe.append(self.manager.add_mapping_listener(self._on_mapping))
        self._unsubscribe.append(self.manager.add_override_listener(self._on_override))
        self._task = asyncio.create_task(self._supervise(), name="mqtt-supervisor")

    async def stop(self) -> None:
        """Publish ``offline``, disconnect, stop the supervisor. Safe to call twice."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        session = self._session
        if session is not None:
            with contextlib.suppress(MQTTError, TimeoutError):
                async with asyncio.timeout(2):
                    await session.publish(self.topics.status, "offline", retain=True)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.state = BridgeState.STOPPED

    def status(self) -> dict[str, Any]:
        """Connection, broker, topics and counters (``GET /api/features`` shows it)."""
        session = self._session
        dropped = self._incoming_dropped + (session.incoming_dropped if session else 0)
        return {
            "state": self.state.value,
            "broker": f"{'mqtts' if self.params.tls else 'mqtt'}://{self.params.host}:"
            f"{self.params.port}",
            "status_topic": self.topics.status,
            "coach_id": self.topics.coach_id,
            "connected_since": self.connected_since,
            "last_error": self.last_error,
            "allow_motion": self.settings.allow_motion,
            "role": self.settings.role,
            "queue": len(self.outbox),
            "queue_size": self.outbox.maxsize,
            "queued": self.outbox.queued,
            "coalesced": self.outbox.coalesced,
            "dropped": self.outbox.dropped,
            "incoming_dropped": dropped,
            **self.stats,
        }

    # --- the supervisor -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            self.state = BridgeState.CONNECTING
            try:
                async with self._connector(self.params, incoming_limit=1000) as session:
                    self._session = session
                    self._owner = f"{CLIENT}:{self.stats['connects'] + 1}"
                    self.state = BridgeState.CONNECTED
                    self.connected_since = time.time()
                    self.last_error = None
                    self.stats["connects"] += 1
                    self.backoff.reset()
                    logger.info("MQTT connected to %s:%s", self.params.host, self.params.port)
                    await self._run(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # lost, refused, or a bug: reconnect either way
                self.last_error = _describe(exc)
                logger.warning("MQTT: %s", self.last_error)
            finally:
                owner, self._owner = self._owner, None
                if owner is not None:
                    # the session is gone: motion it holds stops, as when a WebSocket closes
                    stopped = self.service.owner_closed(owner)
                    if stopped:
                        logger.warning("MQTT session ended: stopped %s", ", ".join(stopped))
                if self._session is not None:
                    self._incoming_dropped += self._session.incoming_dropped
                    self.stats["disconnects"] += 1
                self._session = None
                self.connected_since = None
            self.state = BridgeState.BACKOFF
            await asyncio.sleep(self.backoff.next_delay())

    async def _run(self, session: MQTTSession) -> None:
        self._synced.clear()
        self._previous_manifest = None
        topics = self.topics
        await session.subscribe(topics.manifest, topics.sync, topics.set_filter, topics.birth)
        await session.publish(topics.status, "online", retain=True)
        self._announce.set()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(session), name="mqtt-reader")
            group.create_task(self._write(session), name="mqtt-writer")
            group.create_task(self._announcer(session), name="mqtt-announcer")
            group.create_task(self._watch_safety(), name="mqtt-safety")

    async def _read(self, session: MQTTSession) -> None:
        async for message in session.messages():
            await self._dispatch(message)
        raise MQTTError("the broker closed the connection")

    async def _write(self, session: MQTTSession) -> None:
        while True:
            message = await self.outbox.get()
            try:
                await session.publish(message.topic, message.payload, retain=message.retain)
            except MQTTError:
                key = message.topic if message.retain else None
                self.outbox.put(message, key=key)  # sent again after the reconnect
                raise
            self.stats["published"] += 1

    async def _announcer(self, session: MQTTSession) -> None:
        while True:
            await self._announce.wait()
            self._announce.clear()
            await self._announce_all(session)

    async def _watch_safety(self) -> None:
        """Publish the interlock, lockouts and alert when they change (looked at every second:
        the safety gate has no change listener)."""
        while True:
            self._queue_safety()
            await asyncio.sleep(SAFETY_INTERVAL)

    def _queue_safety(self, *, force: bool = False) -> None:
        view = getattr(self.service, "safety_view", None)
        if view is None:
            return
        snapshot = view()
        interlock = snapshot.get("interlock") or {}
        state = {
            "parked": bool(interlock.get("parked")),
            "reason": interlock.get("reason"),
            "lockouts": {k: [lock.get("reason") for lock in v]
                         for k, v in (snapshot.get("lockouts") or {}).items()},
            "alert": (snapshot.get("alert") or {}).get("message"),
            "moving_loads": list(snapshot.get("moving_loads") or ()),
        }  # fmt: skip
        if force or state != self._safety:
            self._safety = state
            topic = self.topics.safety
            self.outbox.put(Outgoing(topic, _json(state), True), key=topic)

    # --- announcing -----------------------------------------------------------------------------

    async def _announce_all(self, session: MQTTSession) -> None:
        """Remove what the mapping lost, publish discovery, then every entity's state."""
        topics = self.topics
        self._synced.clear()
        self._sync_token = f"{time.time():.6f}-{random.random():.6f}"
        await session.publish(topics.sync, self._sync_token, retain=False)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SYNC_TIMEOUT):
                await self._synced.wait()  # retained messages come before our own sync message
        entities = self.manager.get_all_entities()
        manifest: dict[str, Any] = {"devices": {}, "entities": []}
        previous = self._previous_manifest or {}
        if self.settings.discovery:
            ctx = discovery.DiscoveryContext(
                topics, self.settings.allow_motion, self.manager.coach, self.version
            )
            configs = [discovery.coach_device(ctx, name=self.coach_name)]
            for entity in entities:
                view = self.service.entity_view(entity)
                if view.get("type") in discovery.COMPONENTS:
                    configs.append(discovery.entity_device(view, ctx))
            old_devices: dict[str, dict[str, str]] = previous.get("devices") or {}
            for device_id, payload in configs:
                platforms = {k: c["p"] for k, c in payload["cmps"].items()}
                manifest["devices"][device_id] = platforms
                gone = {
                    k: p
                    for k, p in (old_devices.get(device_id) or {}).items()
                    if k not in platforms
                }
                if gone:
                    payload = discovery.removal(payload, gone)
                await session.publish(topics.device_config(device_id), _json(payload), retain=True)
            for device_id in old_devices:
                if device_id not in manifest["devices"]:
                    await session.publish(topics.device_config(device_id), "", retain=True)
                    self.stats["removed_devices"] += 1
        for entity_id in previous.get("entities") or ():
            if self.manager.get_entity(entity_id) is None:
                await session.publish(topics.state(entity_id), "", retain=True)
        manifest["entities"] = [e.entity_id for e in entities]
        await session.publish(topics.manifest, _json(manifest), retain=True)
        self._previous_manifest = manifest
        for entity in entities:
            self._queue_state(entity.entity_id, dict(entity.state), entity.available)
        self._queue_safety(force=True)
        self.stats["announcements"] += 1

    # --- outbound -------------------------------------------------------------------------------

    def _queue_state(self, entity_id: str, state: dict[str, Any], available: bool) -> None:
        topic = self.topics.state(entity_id)
        payload = _json({**state, "available": available})
        self.outbox.put(Outgoing(topic, payload, True), key=topic)

    def _on_change(self, change: Any) -> None:
        self._queue_state(change.entity_id, change.state, change.available)

    def _on_mapping(self, change: Any) -> None:
        """The mapping was reloaded in place: announce again (removes what it dropped)."""
        logger.info("Coach mapping changed (+%d -%d): announcing again", len(change.added),
                    len(change.removed))  # fmt: skip
        self._announce.set()

    def _on_override(self, entity: Any) -> None:
        """A user renamed, moved or hid an entity: announce again (its device name and area)."""
        logger.info("%s renamed or moved: announcing again", entity.entity_id)
        self._announce.set()

    def _on_result(self, result: Any) -> None:
        target = self._mine.pop(result.command_id, None)
        if target is None:
            return  # not an MQTT command: its outcome shows in the entity's state
        body = result.to_dict()
        body.pop("client", None)
        self._publish_result(target, body)

    def _publish_result(self, target: str, body: Mapping[str, Any]) -> None:
        self.outbox.put(Outgoing(self.topics.result(target), _json(body), False))

    def _reject(
        self, target: str, error: str, reason: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        self.stats["commands_rejected"] += 1
        body = {"entity_id": target, "status": "rejected", "error": error, "reason": reason}
        self._publish_result(target, {**(extra or {}), **body})
        logger.info("MQTT command for %s rejected: %s", target, reason)

    # --- inbound --------------------------------------------------------------------------------

    async def _dispatch(self, message: InboundMessage) -> None:
        topics = self.topics
        if message.topic == topics.manifest:
            with contextlib.suppress(ValueError):
                data = json.loads(message.payload) if message.payload else {}
                self._previous_manifest = data if isinstance(data, dict) else None
            return
        if message.topic == topics.sync:
            if message.payload.decode(errors="replace") == self._sync_token:
                self._synced.set()
            return
        if message.topic == topics.birth:
            if message.payload.strip().lower() == b"online":
                logger.info("Home Assistant came online: announcing again")
                self._announce.set()
            return
        target = topics.target_of(message.topic)
        if target is None or message.retain:
            return  # a retained command is an old one: never replay it on connect
        try:
            await self._command(target, message.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bridge answers and lives on
            logger.exception("MQTT command for %s failed", target)
            self._reject(target, "internal_error", f"{type(exc).__name__}: {exc}")

    async def _command(self, target: str, payload: bytes) -> None:
        self.stats["commands"] += 1
        try:
            body = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self._reject(
                target,
                "bad_payload",
                f"payload is not JSON ({exc}); send the body of POST "
                '/api/entities/{id}/command, e.g. {"command":"set","state":"on"}',
            )
            return
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            self._reject(
                target,
                "bad_payload",
                'payload must be a JSON object with a "command" string, '
                'e.g. {"command":"set","state":"on"}',
            )
            return
        if target == STOP_ALL:
            await self._stop_all(body)
            return
        entity = self.manager.get_entity(target)
        if entity is None:
            self._reject(target, "not_found", f"no entity '{target}'")
            return
        refusal = self._authorize(entity, body)
        if refusal is not None:
            self._record(target, body, "403")
            self._reject(target, "forbidden", refusal, {"command": body})
            return
        try:
            accepted = await self.service.execute_command(
                target, body, client=CLIENT, owner=self._owner
            )
        except EntityError as exc:
            self._record(target, body, str(exc.status_code))
            kind = getattr(exc, "code", None) or _ERROR_KINDS.get(exc.status_code, "rejected")
            details = {k: v for k, v in exc.details.items() if k != "entity_id"}
            self._reject(target, kind, exc.message, {**details, "command": body})
            return
        self._record(target, body, f"accepted {accepted.command_id}")
        self._track(accepted.command_id, target)
        self._publish_result(
            target,
            {"command_id": accepted.command_id, "entity_id": target, "status": "pending",
             "command": body},
        )  # fmt: skip

    def _record(self, target: str, body: Mapping[str, Any], result: str) -> None:
        if self.audit is not None:
            self.audit(self.principal, CLIENT, target, body, result)

    def _track(self, command_id: str, target: str) -> None:
        self._mine[command_id] = target
        while len(self._mine) > TRACKED_COMMANDS:
            self._mine.popitem(last=False)

    def _authorize(self, entity: Any, body: Mapping[str, Any]) -> str | None:
        """Why the MQTT principal may not send this command, or None when it may."""
        command = str(body.get("command"))
        args = {k: v for k, v in body.items() if k != "command"}
        try:
            authorize_command(self.principal, entity, command, args)
        except CommandNotAllowedError as exc:
            if exc.motion_needed:
                return f"{exc.message}; over MQTT: COACHIQ_MQTT__ALLOW_MOTION=true"
            return f"{exc.message}; over MQTT: COACHIQ_MQTT__ROLE={self.settings.role}"
        return None

    async def _stop_all(self, body: Mapping[str, Any]) -> None:
        if body.get("command") != "stop":
            self._reject(STOP_ALL, "invalid", 'stop_all accepts only {"command":"stop"}')
            return
        stopped, failed = [], {}
        for item in await self.service.stop_all(client=CLIENT):
            entity_id = item["entity_id"]
            if item["status"] == "sent":
                self._record(entity_id, {"command": "stop"}, f"accepted {item['command_id']}")
                self._track(item["command_id"], entity_id)
                stopped.append(entity_id)
            else:
                self._record(entity_id, {"command": "stop"}, "error")
                failed[entity_id] = item.get("detail")
        self._publish_result(
            STOP_ALL,
            {"entity_id": STOP_ALL, "status": "sent", "stopped": stopped, "failed": failed},
        )
