"""EntityService: commands with confirmation; EntitiesFeature: the ``entities`` feature.

A command is validated against the entity type table, encoded with the DGN the specification
names, sent through CANService to the entity's interface and answered at once with a
``command_id`` (202). It is confirmed when the device's status shows the requested state, timed
out after ``command_timeout`` (2 s), or failed (a NAK, or superseded by a newer command). The
entity's state is never changed by the command itself: only the device's status changes it.
REST, WebSocket and MQTT all call :meth:`EntityService.execute_command`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from backend.core.coach_mapping import empty_mapping, load_coach_mapping, unmapped_reason
from backend.core.coach_mapping import (  # re-exported: the CLI checks a mapping through here
    validate_coach_mapping as validate_coach_mapping,
)
from backend.core.config import EntitiesSettings
from backend.core.entity_errors import (
    CommandTransportError,
    CommandValidationError,
    EntityNotFoundError,
    EntityUnavailableError,
)
from backend.core.entity_manager import EntityManager, EntityRemoved
from backend.core.entity_model import (
    Binding,
    CommandContext,
    CommandPlan,
    Entity,
    FrameSpec,
    Repeat,
    validate_command,
)
from backend.core.entity_types import describe_types
from backend.core.mapping_identify import DeviceIdentifier
from backend.core.mapping_service import MappingService
from backend.integrations.can.errors import CANError
from backend.integrations.can.frame_event import FrameEvent
from backend.integrations.rvc.decoder import DecodedMessage
from backend.integrations.rvc.errors import EncodeError
from backend.integrations.rvc.loader import load_config_data
from backend.integrations.rvc.spec import RVCSpec
from backend.services.command_log import CommandLog
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus

logger = logging.getLogger(__name__)

ACKNOWLEDGMENT = 0x0E800
CommandStatus = Literal["confirmed", "timed_out", "failed"]


class Encode(Protocol):
    """``RVCService.encode`` / ``Encoder.encode``."""

    def __call__(
        self,
        dgn_or_name: int | str,
        signals: Mapping[str, Any] | None = None,
        *,
        instance: int | None,
        source_address: int,
    ) -> tuple[int, bytes]: ...


class Send(Protocol):
    """``CANService.send_can_message``."""

    def __call__(
        self,
        arbitration_id: int,
        data: bytes,
        *,
        interface: str | None = None,
        entity_id: str | None = None,
    ) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class CommandAccepted:
    """The immediate answer to a command: it is on the bus, its result will follow."""

    command_id: str
    entity_id: str
    status: Literal["pending"] = "pending"
    optimistic: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended: ``confirmed`` by the device, ``timed_out`` or ``failed``."""

    command_id: str
    entity_id: str
    command: dict[str, Any]
    status: CommandStatus
    detail: str
    requested_at: float
    completed_at: float
    client: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "command_id": self.command_id,
            "entity_id": self.entity_id,
            "command": dict(self.command),
            "status": self.status,
            "detail": self.detail,
            "requested_at": self.requested_at,
            "completed_at": self.completed_at,
            "client": self.client,
        }


@dataclass(slots=True)
class _Pending:
    command_id: str
    entity_id: str
    command: dict[str, Any]
    plan: CommandPlan
    requested_at: float
    client: str | None
    dgns: frozenset[int] = frozenset()
    timer: asyncio.TimerHandle | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "command": dict(self.command),
            "status": "pending",
            "requested_at": self.requested_at,
            "expected": dict(self.plan.optimistic),
        }


@dataclass(slots=True)
class _Motor:
    entity_id: str
    task: asyncio.Task[None]
    final: list[tuple[int, bytes]] = field(default_factory=list)
    confirmed: bool = False


class EntityService:
    """Executes commands on entities and reports their results."""

    def __init__(
        self,
        manager: EntityManager,
        encode: Encode,
        send: Send,
        settings: EntitiesSettings | None = None,
        *,
        source_address: Callable[[str], int] | int = 0xF9,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.manager = manager
        self.settings = settings or EntitiesSettings()
        self._encode = encode
        self._send = send
        self._source = source_address
        self._wall = wall_clock
        self._ids = itertools.count(1)
        self._prefix = f"{int(wall_clock() * 1000) % 10**8:08d}"
        self._pending: dict[str, _Pending] = {}
        self._motors: dict[str, _Motor] = {}
        self._interfaces: dict[str, str] = {}  # interface of each motor's entity (for its stop)
        self._last: dict[str, CommandResult] = {}
        self._listeners: list[Callable[[CommandResult], None]] = []
        self.commands = CommandLog(self.settings.command_log_size)
        self.stats = {"sent": 0, "confirmed": 0, "timed_out": 0, "failed": 0, "listener_errors": 0}
        self._unsubscribe = manager.add_status_listener(self._on_status)
        self._unsubscribe_removal = manager.add_removal_listener(self._on_removed)
        self._stopping: set[asyncio.Task[None]] = set()

    # --- subscriptions and views ----------------------------------------------------------------

    def add_command_listener(self, callback: Callable[[CommandResult], None]) -> Callable[[], None]:
        """Call ``callback(CommandResult)`` when a command ends; returns the unsubscriber."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def pending_command(self, entity_id: str) -> dict[str, Any] | None:
        """The entity's command awaiting confirmation, or None."""
        pending = self._pending.get(entity_id)
        return pending.to_dict() if pending else None

    def last_command_result(self, entity_id: str) -> dict[str, Any] | None:
        """The result of the entity's last finished command, or None."""
        result = self._last.get(entity_id)
        return result.to_dict() if result else None

    def entity_view(self, entity: Entity) -> dict[str, Any]:
        """The entity's API view with ``pending_command`` and ``last_command_result``."""
        view = entity.to_dict()
        view["area_name"] = self.manager.areas.get(entity.area or "")
        view["pending_command"] = self.pending_command(entity.entity_id)
        view["last_command_result"] = self.last_command_result(entity.entity_id)
        return view

    def metadata(self) -> dict[str, Any]:
        """Entity types (controls, commands, units), areas and the coach, for the API."""
        types_in_use: dict[str, int] = {}
        for entity in self.manager.get_all_entities():
            types_in_use[entity.entity_type] = types_in_use.get(entity.entity_type, 0) + 1
        return {
            "coach": dict(self.manager.coach),
            "areas": [{"id": k, "name": v} for k, v in self.manager.areas.items()],
            "types": describe_types(),
            "entity_counts": types_in_use,
            "command_timeout": self.settings.command_timeout,
            "motor_run_seconds": self.settings.motor_run_seconds,
        }

    # --- commands -------------------------------------------------------------------------------

    async def execute_command(
        self, entity_id: str, command: Mapping[str, Any], *, client: str | None = None
    ) -> CommandAccepted:
        """Validate, encode and send a command; the result follows on the command listeners.

        Raises:
            EntityNotFoundError: no such entity (404).
            CommandValidationError: unsupported command or value out of range (422).
            EntityUnavailableError: the entity has not reported within its gap (409).
            CommandTransportError: the frame could not be queued (503).
        """
        entity = self.manager.get_entity(entity_id)
        if entity is None:
            raise EntityNotFoundError(entity_id)
        if entity.command_dgn is None:
            raise CommandValidationError(
                f"{entity_id} ({entity.entity_type}) is read-only; it accepts no commands",
                allowed=[],
            )
        spec, args = validate_command(
            entity.control, entity.capabilities, entity.entity_type, command
        )
        if not entity.available and not spec.always_allowed:
            raise EntityUnavailableError(self._unavailable_reason(entity), entity_id=entity_id)
        ctx = CommandContext(
            instance=entity.instance,
            instances=entity.instances,
            capabilities=entity.capabilities,
            state=entity.state,
            command_dgn=entity.command_dgn,
            motor_run_seconds=self.settings.motor_run_seconds,
        )
        assert entity.control.encoder is not None
        plan = entity.control.encoder(ctx, spec.name, args)
        frames = self._encode_frames(entity, plan.frames)
        record = {"command": spec.name, **args}
        command_id = f"{self._prefix}-{next(self._ids)}"
        if not plan.keeps_motor:
            self._stop_motor(entity_id)
        previous = self._pending.pop(entity_id, None)
        if previous is not None:
            self._finish(previous, "failed", f"superseded by command {command_id}")
        for arbitration_id, data in frames:
            await self._transmit(entity, arbitration_id, data)
        pending = _Pending(
            command_id,
            entity_id,
            record,
            plan,
            self._wall(),
            client,
            dgns=frozenset((a >> 8) & 0x1FF00 if ((a >> 16) & 0xFF) < 0xF0 else (a >> 8) & 0x1FFFF
                           for a, _ in frames),
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        pending.timer = loop.call_later(
            self.settings.command_timeout, self._on_timeout, entity_id, command_id
        )
        self._pending[entity_id] = pending
        self.commands.accepted(command_id, entity_id, record, pending.requested_at, client)
        if plan.repeat is not None:
            final = self._encode_frames(entity, plan.repeat.final)
            self._stop_motor(entity_id)  # a new run replaces the one it keeps
            task = asyncio.create_task(
                self._run_motor(entity, frames, final, plan.repeat),
                name=f"entities-motor-{entity_id}",
            )
            self._motors[entity_id] = _Motor(entity_id, task, final)
            self._interfaces[entity_id] = entity.interface
        return CommandAccepted(command_id, entity_id, "pending", dict(plan.optimistic))

    def _unavailable_reason(self, entity: Entity) -> str:
        dgns = ", ".join(sorted({b.dgn_name for b in entity.bindings}))
        if entity.restored:
            return f"{entity.entity_id} shows a restored state; the device has not reported yet"
        if not entity.last_seen:
            return f"{entity.entity_id} has not reported since start ({dgns} not seen)"
        return (
            f"{entity.entity_id} is unavailable: no status ({dgns}) within the broadcast gap; "
            f"last seen at {time.strftime('%H:%M:%S', time.localtime(entity.last_seen))}"
        )

    def _encode_frames(
        self, entity: Entity, specs: tuple[FrameSpec, ...]
    ) -> list[tuple[int, bytes]]:
        source = self._source(entity.interface) if callable(self._source) else self._source
        frames = []
        for frame in specs:
            try:
                frames.append(
                    self._encode(
                        frame.dgn, frame.signals, instance=frame.instance, source_address=source
                    )
                )
            except EncodeError as exc:
                raise CommandValidationError(f"cannot encode {frame.dgn}: {exc}") from None
        return frames

    async def _transmit(self, entity: Entity, arbitration_id: int, data: bytes) -> None:
        try:
            await self._send(
                arbitration_id, data, interface=entity.interface, entity_id=entity.entity_id
            )
        except CANError as exc:
            raise CommandTransportError(
                f"command for {entity.entity_id} not sent on '{entity.interface}': {exc}"
            ) from None
        self.stats["sent"] += 1

    # --- results --------------------------------------------------------------------------------

    def _on_status(self, entity: Entity, binding: Binding, message: DecodedMessage) -> None:
        pending = self._pending.get(entity.entity_id)
        if pending is None:
            return
        if pending.plan.expect(entity.state):
            del self._pending[entity.entity_id]
            motor = self._motors.get(entity.entity_id)
            if motor is not None:
                motor.confirmed = True
            self._finish(pending, "confirmed", f"{binding.dgn_name} shows the requested state")

    def on_acknowledgment(self, message: DecodedMessage) -> None:
        """Fail the pending command a device answers with a NAK (ACKNOWLEDGMENT, code not 0)."""
        signals = message.signals
        code = signals.get("acknowledgment_code")
        if code in (None, "ack", 0):
            return
        dgn = signals.get("dgn_acknowledged")
        instance = signals.get("instance")
        for entity_id, pending in list(self._pending.items()):
            entity = self.manager.get_entity(entity_id)
            if entity is None or dgn not in pending.dgns:
                continue
            if instance not in (None, entity.instance, *entity.instances.values()):
                continue
            del self._pending[entity_id]
            self._stop_motor(entity_id)
            self._finish(pending, "failed", f"device 0x{message.source:02X} answered NAK: {code}")

    def _on_timeout(self, entity_id: str, command_id: str) -> None:
        pending = self._pending.get(entity_id)
        if pending is None or pending.command_id != command_id:
            return
        del self._pending[entity_id]
        self._finish(
            pending,
            "timed_out",
            f"no status showing the requested state within {self.settings.command_timeout:g} s",
        )

    def _finish(self, pending: _Pending, status: CommandStatus, detail: str) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        result = CommandResult(
            pending.command_id,
            pending.entity_id,
            pending.command,
            status,
            detail,
            pending.requested_at,
            self._wall(),
            pending.client,
        )
        self._last[pending.entity_id] = result
        self.commands.finished(result.to_dict())
        self.stats[status] += 1
        for callback in tuple(self._listeners):
            try:
                callback(result)
            except Exception:
                self.stats["listener_errors"] += 1
                logger.exception("Command listener %r failed", callback)

    def _on_removed(self, event: EntityRemoved) -> None:
        """An entity left the mapping: fail its pending command, stop its motor (sending the
        stop frames), forget its last result."""
        entity_id = event.entity_id
        self._last.pop(entity_id, None)
        pending = self._pending.pop(entity_id, None)
        if pending is not None:
            self._finish(pending, "failed", "the entity was removed from the coach mapping")
        motor = self._stop_motor(entity_id)
        if motor is None or not motor.final:
            return
        task = asyncio.get_running_loop().create_task(
            self._send_final(event, motor), name=f"entities-stop-removed-{entity_id}"
        )
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _send_final(self, event: EntityRemoved, motor: _Motor) -> None:
        await asyncio.gather(motor.task, return_exceptions=True)
        interface = self._interfaces.pop(event.entity_id, "house")
        for arbitration_id, data in motor.final:
            try:
                await self._send(
                    arbitration_id, data, interface=interface, entity_id=event.entity_id
                )
            except CANError as exc:
                logger.warning("Stop of removed %s not sent: %s", event.entity_id, exc)

    # --- motors ---------------------------------------------------------------------------------

    async def _run_motor(
        self,
        entity: Entity,
        frames: list[tuple[int, bytes]],
        final: list[tuple[int, bytes]],
        run: Repeat,
    ) -> None:
        """Run a motor for at most ``run.duration`` s (resending its command when the type
        wants that), then send the stop frames.

        A cancelled run sends nothing: whoever cancels it (a newer command, ``close``) decides
        what goes on the bus next.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + run.duration
        while loop.time() + run.interval < end:
            await asyncio.sleep(run.interval)
            motor = self._motors.get(entity.entity_id)
            if motor is not None and motor.confirmed and run.done(entity.state):
                break  # end of travel: the device stopped by itself
            if not run.resend:
                continue
            for arbitration_id, data in frames:
                with contextlib.suppress(CommandTransportError):
                    await self._transmit(entity, arbitration_id, data)
        else:
            await asyncio.sleep(max(0.0, end - loop.time()))
        motor = self._motors.get(entity.entity_id)
        if motor is not None and motor.task is asyncio.current_task():
            del self._motors[entity.entity_id]
        for arbitration_id, data in final:
            with contextlib.suppress(CommandTransportError):
                await self._transmit(entity, arbitration_id, data)

    def _stop_motor(self, entity_id: str) -> _Motor | None:
        motor = self._motors.pop(entity_id, None)
        if motor is not None:
            motor.task.cancel()
        return motor

    async def close(self) -> None:
        """Stop motors (sending their stop), cancel timers, unsubscribe. Safe to call twice."""
        self._unsubscribe()
        self._unsubscribe_removal()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
        motors = [m for m in map(self._stop_motor, list(self._motors)) if m is not None]
        if motors:
            await asyncio.gather(*(m.task for m in motors), return_exceptions=True)
        for motor in motors:
            entity = self.manager.get_entity(motor.entity_id)
            for arbitration_id, data in motor.final if entity is not None else ():
                with contextlib.suppress(CommandTransportError):
                    await self._transmit(entity, arbitration_id, data)  # type: ignore[arg-type]
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
        self._pending.clear()


class EntitiesFeature(Feature):
    """The ``entities`` feature: loads the coach mapping, feeds the EntityManager from the bus
    and owns the EntityService and the availability task."""

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "Coach model")
        self._manager: EntityManager | None = None
        self._service: EntityService | None = None
        self._mapping_service: MappingService | None = None
        self._identifier: DeviceIdentifier | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the mapping (a bad one fails the feature with file:line lines), subscribe."""
        settings = self.settings
        rvc = self.context.dependency("rvc").service  # pyright: ignore[reportAttributeAccessIssue]
        can_service = self.context.dependency("can").service  # pyright: ignore[reportAttributeAccessIssue]
        entities = settings.entities
        simulated = self.context.feature_manager.is_enabled("simulator")
        reason = unmapped_reason(settings, simulated=simulated)
        spec = _spec_of(rvc, settings.rvc.spec_path)
        if reason:
            logger.warning("Coach model is empty: %s", reason)
            mapping = empty_mapping(reason)
        else:
            mapping = load_coach_mapping(settings, spec)
        self._manager = EntityManager(
            mapping,
            history_count=entities.history_count,
            history_max_age=entities.history_max_age,
            unmapped_limit=entities.unmapped_limit,
            unknown_dgn_limit=entities.unknown_dgn_limit,
        )
        self._service = EntityService(
            self._manager,
            rvc.encode,
            can_service.send_can_message,
            entities,
            source_address=can_service.source_address,
        )
        self._mapping_service = MappingService(settings, spec, self._manager, simulated=simulated)
        self._identifier = DeviceIdentifier(
            self._manager,
            spec,
            rvc.encode,
            can_service.send_can_message,
            source_address=can_service.source_address,
        )
        self._unsubscribe = can_service.add_listener(self._on_frame)
        self._task = asyncio.create_task(self._check_availability(), name="entities-availability")
        logger.info("Coach mapping %s: %d entities", mapping.path, len(mapping.entities))

    def _on_frame(self, event: FrameEvent) -> None:
        message = event.decoded
        if event.direction != "rx" or not isinstance(message, DecodedMessage):
            return
        assert self._manager is not None and self._service is not None
        self._manager.ingest(message, event.timestamp)
        if message.dgn == ACKNOWLEDGMENT:
            self._service.on_acknowledgment(message)

    async def _check_availability(self) -> None:
        interval = self.settings.entities.availability_check_interval
        while True:
            await asyncio.sleep(interval)
            if self._manager is not None:
                self._manager.check_availability()

    async def stop(self) -> None:
        """Unsubscribe, stop the availability task and the service. Safe to call twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._identifier is not None:
            await self._identifier.close()
        if self._service is not None:
            await self._service.close()

    @property
    def service(self) -> EntityService:
        """The running EntityService."""
        if self._service is None:
            raise RuntimeError("the entities feature is not started")
        return self._service

    @property
    def mapping_service(self) -> MappingService:
        """The running MappingService (reload, edit, undo)."""
        if self._mapping_service is None:
            raise RuntimeError("the entities feature is not started")
        return self._mapping_service

    @property
    def identifier(self) -> DeviceIdentifier:
        """The running DeviceIdentifier (the wizard's "identify")."""
        if self._identifier is None:
            raise RuntimeError("the entities feature is not started")
        return self._identifier

    @property
    def entity_manager(self) -> EntityManager:
        """The running EntityManager."""
        if self._manager is None:
            raise RuntimeError("the entities feature is not started")
        return self._manager

    def check_health(self) -> FeatureHealth:
        """Healthy with counts; degraded when no entity is available after a minute."""
        if self._manager is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        entities = self._manager.get_all_entities()
        available = sum(1 for e in entities if e.available)
        details: dict[str, Any] = {
            "entities": len(entities),
            "available": available,
            **self._manager.stats,
        }
        if self._service is not None:
            log = self._service.commands
            details["commands_kept"], details["commands_evicted"] = len(log), log.evicted
        if entities and not available and self.context.app_state.uptime_seconds > 60:
            return FeatureHealth(HealthStatus.DEGRADED, "no entity has reported", details)
        return FeatureHealth(HealthStatus.HEALTHY, "", details)


def _spec_of(rvc: Any, spec_path: Any) -> RVCSpec:
    """The RVCService's loaded specification (its ``spec`` or ``config.spec``)."""
    spec = getattr(rvc, "spec", None)
    if isinstance(spec, RVCSpec):
        return spec
    config = getattr(rvc, "config", None)
    if config is not None and isinstance(getattr(config, "spec", None), RVCSpec):
        return config.spec
    return load_config_data(spec_path).spec
