"""EntityService: commands with confirmation, under the motion safety rules.

A command is validated against the entity type table, encoded with the DGN the specification
names, sent through CANService to the entity's interface and answered at once with a
``command_id`` (202). It is confirmed when the device's status shows the requested state, timed
out after ``command_timeout`` (2 s), rejected (a NAK from the device) or failed (superseded by a
newer command). The entity's state is never changed by the command itself: only the device's
status changes it. REST, WebSocket, the dashboard and MQTT all call
:meth:`EntityService.execute_command`, so every path passes the same gate
(``backend.safety``): interlock and lockouts before a motion is sent, hold-to-run leases while it
runs, Stop never gated and sent in the priority lane. See docs/motion-safety.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from backend.core.coach_mapping import (  # re-exported: the CLI checks a mapping through here
    validate_coach_mapping as validate_coach_mapping,
)
from backend.core.config import EntitiesSettings, SafetySettings
from backend.core.entity_errors import (
    CommandTransportError,
    CommandValidationError,
    EntityError,
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
    validate_command,
)
from backend.core.entity_types import describe_types
from backend.integrations.can.errors import CANError
from backend.integrations.rvc.decoder import DecodedMessage
from backend.integrations.rvc.errors import EncodeError
from backend.safety.acks import nak_code
from backend.safety.classify import is_motion_command, is_stop_command, needs_hold, needs_parked
from backend.safety.errors import MotionRefusedError, RateLimitedError
from backend.safety.gate import SafetyGate
from backend.safety.leases import start_lease
from backend.safety.ratelimit import RateLimiter
from backend.services.command_log import CommandLog
from backend.services.entity_motors import Motors

logger = logging.getLogger(__name__)

CommandStatus = Literal["confirmed", "timed_out", "failed", "rejected"]
AuditBefore = Callable[[dict[str, Any]], Awaitable[None]]


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
        priority: bool = False,
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
    """How a command ended: ``confirmed`` by the device, ``timed_out``, ``failed`` or
    ``rejected`` (the device answered NAK: ``code`` is the ACKNOWLEDGMENT code)."""

    command_id: str
    entity_id: str
    command: dict[str, Any]
    status: CommandStatus
    detail: str
    requested_at: float
    completed_at: float
    client: str | None = None
    code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = {
            "command_id": self.command_id,
            "entity_id": self.entity_id,
            "command": dict(self.command),
            "status": self.status,
            "detail": self.detail,
            "requested_at": self.requested_at,
            "completed_at": self.completed_at,
            "client": self.client,
        }
        if self.code is not None:
            out["code"] = self.code
        return out


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


class EntityService:
    """Executes commands on entities and reports their results.

    Motion commands go through :mod:`backend.safety`: the gate (interlock, lockouts) before
    anything is sent, a hold-to-run lease while the motor runs, Stop in the priority lane.
    """

    def __init__(
        self,
        manager: EntityManager,
        encode: Encode,
        send: Send,
        settings: EntitiesSettings | None = None,
        *,
        source_address: Callable[[str], int] | int = 0xF9,
        wall_clock: Callable[[], float] = time.time,
        safety: SafetySettings | None = None,
        gate: SafetyGate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.manager = manager
        self.settings = settings or EntitiesSettings()
        self.safety = safety or SafetySettings()
        self.gate = gate
        self._encode = encode
        self._send = send
        self._source = source_address
        self._wall = wall_clock
        self._clock = clock
        self._ids = itertools.count(1)
        self._prefix = f"{int(wall_clock() * 1000) % 10**8:08d}"
        self._pending: dict[str, _Pending] = {}
        self._last: dict[str, CommandResult] = {}
        self._listeners: list[Callable[[CommandResult], None]] = []
        self.commands = CommandLog(self.settings.command_log_size)
        self.motors = Motors(
            self._transmit_frame,
            stop_retry_seconds=self.safety.stop_retry_seconds,
            hold_timeout=self.safety.hold_timeout_ms / 1000,
            still_allowed=self._still_allowed,
            clock=clock,
        )
        self.rate_limiter = RateLimiter(self.safety.command_rate, self.safety.command_burst)
        self.motion_audit: AuditBefore | None = None
        """Set by persistence: writes a motion command to the audit before its first frame."""
        self.stats = {
            "sent": 0,
            "confirmed": 0,
            "timed_out": 0,
            "failed": 0,
            "rejected": 0,
            "listener_errors": 0,
            "renewals": 0,
            "rate_limited": 0,
            "interlock_stops": 0,
        }
        self._interlock_stops: set[asyncio.Task[None]] = set()
        self._unsubscribe_unpark = (
            gate.add_unpark_listener(self._on_unparked) if gate is not None else lambda: None
        )
        self._unsubscribe = manager.add_status_listener(self._on_status)
        self._unsubscribe_removal = manager.add_removal_listener(self._on_removed)

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
            "chassis": dict(self.manager.chassis),
            "areas": [{"id": k, "name": v} for k, v in self.manager.areas.items()],
            "types": describe_types(),
            "entity_counts": types_in_use,
            "command_timeout": self.settings.command_timeout,
            "motor_run_seconds": self.settings.motor_run_seconds,
            "hold_timeout_ms": self.safety.hold_timeout_ms,
        }

    def safety_view(self) -> dict[str, Any]:
        """Interlock, active leases, lockouts, alert, recent lease ends (GET /api/safety)."""
        now = self._clock()
        view: dict[str, Any] = self.gate.snapshot() if self.gate is not None else {}
        view["leases"] = [lease.to_dict(now) for lease in self.motors.leases()]
        view["recent_lease_ends"] = list(self.motors.ended)
        view["hold_timeout_ms"] = self.safety.hold_timeout_ms
        view["motor_run_seconds"] = self.settings.motor_run_seconds
        view["moving_loads"] = [e.entity_id for e in self._moving_loads()]
        view["counters"] = {
            **self.motors.stats,
            "renewals": self.stats["renewals"],
            "rate_limited": self.stats["rate_limited"],
            "rejected": self.stats["rejected"],
            "interlock_stops": self.stats["interlock_stops"],
        }
        return view

    # --- commands -------------------------------------------------------------------------------

    async def execute_command(
        self,
        entity_id: str,
        command: Mapping[str, Any],
        *,
        client: str | None = None,
        owner: str | None = None,
    ) -> CommandAccepted:
        """Validate, check motion safety, encode and send a command; the result follows on the
        command listeners.

        A motion command repeated on the same entity while its hold lease lives renews the
        lease (same ``command_id``, nothing new is sent). ``owner`` ties the lease to a
        connection or session (``ws:<id>``, ``mqtt:<id>``): :meth:`owner_closed` stops it.

        Raises:
            EntityNotFoundError: no such entity (404).
            CommandValidationError: unsupported command or value out of range (422).
            EntityUnavailableError: the entity has not reported within its gap (409).
            MotionRefusedError: the interlock or a device's lockout refuses the motion (409).
            RateLimitedError: the client sends commands too fast (429).
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
        record = {"command": spec.name, **args}
        stop = is_stop_command(entity, spec.name)
        motion = is_motion_command(entity, spec.name, args)
        hold = motion and needs_hold(entity, spec.name)
        if hold:
            renewed = self._renew(entity, record, owner)
            if renewed is not None:
                return renewed
            if self.motors.still_capped(entity_id, record):
                raise MotionRefusedError(
                    f"{spec.name} refused for {entity_id}: it ran for the maximum "
                    f"{self.settings.motor_run_seconds} s (COACHIQ_ENTITIES__MOTOR_RUN_SECONDS); "
                    "let go and press again",
                    entity_id=entity_id,
                    refusal="maximum run time reached",
                )
        if not stop:
            self._check_rate(client or owner)
        if not entity.available and not spec.always_allowed:
            raise EntityUnavailableError(self._unavailable_reason(entity), entity_id=entity_id)
        if motion and self.gate is not None:
            self.gate.check(entity, spec.name, args)
        ctx = CommandContext(
            instance=entity.instance,
            instances=entity.instances,
            capabilities=entity.capabilities,
            state=entity.state,
            command_dgn=entity.command_dgn,
            motor_run_seconds=self.settings.motor_run_seconds,
            hold=hold,
            attributes=entity.attributes,
        )
        assert entity.control.encoder is not None
        plan = entity.control.encoder(ctx, spec.name, args)
        frames = self._encode_frames(entity, plan.frames)
        final = self._encode_frames(entity, plan.repeat.final) if plan.repeat else []
        command_id = f"{self._prefix}-{next(self._ids)}"
        if motion and self.motion_audit is not None:
            await self._audit_before(entity, command_id, record, client)
        if not plan.keeps_motor:
            self.motors.cancel(entity_id)
        previous = self._pending.pop(entity_id, None)
        if previous is not None:
            self._finish(previous, "failed", f"superseded by command {command_id}")
        for arbitration_id, data in frames:
            await self._transmit(entity, arbitration_id, data, priority=stop)
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
            now = self._clock()
            lease = start_lease(
                entity_id,
                record,
                command_id,
                now=now,
                hold_timeout=self.safety.hold_timeout_ms / 1000,
                max_run=plan.repeat.duration,
                held=hold,
                owner=owner,
                client=client,
            )
            self.motors.start(entity, lease, frames, final, plan.repeat)
        return CommandAccepted(command_id, entity_id, "pending", dict(plan.optimistic))

    def _renew(
        self, entity: Entity, record: dict[str, Any], owner: str | None
    ) -> CommandAccepted | None:
        """Renew the entity's live lease when ``record`` repeats its command, else None."""
        motor = self.motors.get(entity.entity_id)
        if motor is None or motor.end_reason is not None:
            return None
        lease = motor.lease
        if not lease.held or not lease.same_command(record) or lease.expired(self._clock()):
            return None
        if self.gate is not None:
            try:
                self.gate.check(entity, str(record["command"]), record)
            except Exception as exc:
                self.motors.end(entity.entity_id, f"refused on renewal: {exc}")
                raise
        lease.renew(self._clock(), self.safety.hold_timeout_ms / 1000, owner)
        self.stats["renewals"] += 1
        pending = self._pending.get(entity.entity_id)
        optimistic = dict(pending.plan.optimistic) if pending is not None else None
        return CommandAccepted(lease.command_id, entity.entity_id, "pending", optimistic)

    def _check_rate(self, key: str | None) -> None:
        if key is None:
            return
        if not self.rate_limiter.allow(key, self._clock()):
            self.stats["rate_limited"] += 1
            raise RateLimitedError(
                f"too many commands from {key}: at most {self.safety.command_rate:g} per second "
                f"(bursts of {self.safety.command_burst}; COACHIQ_SAFETY__COMMAND_RATE); Stop "
                "and motion renewals are never limited",
                client=key,
            )

    async def _audit_before(
        self, entity: Entity, command_id: str, record: dict[str, Any], client: str | None
    ) -> None:
        assert self.motion_audit is not None
        entry = {
            "command_id": command_id,
            "entity_id": entity.entity_id,
            "command": dict(record),
            "status": "sent",
            "detail": "motion command, written before its first frame",
            "requested_at": self._wall(),
            "client": client,
        }
        try:
            await self.motion_audit(entry)
        except Exception as exc:
            raise CommandTransportError(
                f"motion command for {entity.entity_id} not sent: its audit row could not be "
                f"written ({exc})"
            ) from None

    def owner_closed(self, owner: str) -> list[str]:
        """The owner's connection or session closed: stop every motion it holds (sends Stop).

        Every command path calls this when its client goes away (WebSocket close, MQTT session
        end); returns the entity ids whose motion was stopped.
        """
        return self.motors.end_owner(owner, f"owner {owner} closed")

    async def stop_all(self, *, client: str | None = None) -> list[dict[str, Any]]:
        """Send ``stop`` to every motion entity (never gated); one result per entity."""
        results: list[dict[str, Any]] = []
        for entity in self.manager.get_all_entities():
            if entity.command_dgn is None or not is_stop_command(entity, "stop"):
                continue
            if entity.control.command("stop") is None:
                continue
            try:
                accepted = await self.execute_command(
                    entity.entity_id, {"command": "stop"}, client=client
                )
            except EntityError as exc:
                results.append(
                    {"entity_id": entity.entity_id, "status": "error", "detail": exc.message}
                )
                continue
            results.append(
                {
                    "entity_id": entity.entity_id,
                    "status": "sent",
                    "command_id": accepted.command_id,
                }
            )
        return results

    def _moving_loads(self) -> list[Entity]:
        """Interlocked motion entities whose status shows them moving now."""
        return [
            e
            for e in self.manager.get_all_entities()
            if needs_parked(e) and e.state.get("motion") not in (None, "stopped")
        ]

    def _on_unparked(self, reason: str) -> None:
        """The coach stopped being parked: stop every self-run move in progress.

        A held move ends by itself (its run asks the gate at every repeat). A device that runs a
        whole move by its own firmware (``self_run``: auto level, store) has no lease, so its
        ``stop`` is sent here, never gated. Nothing is started: a device at rest gets nothing.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for entity in self._moving_loads():
            if not entity.self_run or self.motors.get(entity.entity_id) is not None:
                continue
            if entity.control.command("stop") is None:
                continue
            task = loop.create_task(self._interlock_stop(entity.entity_id, reason))
            self._interlock_stops.add(task)
            task.add_done_callback(self._interlock_stops.discard)

    async def _interlock_stop(self, entity_id: str, reason: str) -> None:
        logger.warning("%s: self-run move stopped, coach no longer parked (%s)", entity_id, reason)
        try:
            await self.execute_command(
                entity_id, {"command": "stop"}, client=f"interlock: {reason}"
            )
        except EntityError as exc:
            logger.error("%s: interlock stop failed: %s", entity_id, exc.message)
            return
        self.stats["interlock_stops"] += 1

    def _still_allowed(self, entity: Entity) -> str | None:
        """Why a running motion must end now (the coach started moving), or None."""
        if self.gate is None or not needs_parked(entity):
            return None
        verdict = self.gate.verdict()
        return None if verdict.parked else verdict.reason

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
        source = self._source_of(entity)
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

    def _source_of(self, entity: Entity) -> int:
        return self._source(entity.interface) if callable(self._source) else self._source

    async def _transmit(
        self, entity: Entity, arbitration_id: int, data: bytes, *, priority: bool = False
    ) -> None:
        try:
            if priority:
                await self._send(
                    arbitration_id,
                    data,
                    interface=entity.interface,
                    entity_id=entity.entity_id,
                    priority=True,
                )
            else:
                await self._send(
                    arbitration_id, data, interface=entity.interface, entity_id=entity.entity_id
                )
        except CANError as exc:
            raise CommandTransportError(
                f"command for {entity.entity_id} not sent on '{entity.interface}': {exc}"
            ) from None
        self.stats["sent"] += 1

    async def _transmit_frame(
        self, entity: Entity, arbitration_id: int, data: bytes, priority: bool
    ) -> None:
        await self._transmit(entity, arbitration_id, data, priority=priority)

    # --- results --------------------------------------------------------------------------------

    def _on_status(self, entity: Entity, binding: Binding, message: DecodedMessage) -> None:
        pending = self._pending.get(entity.entity_id)
        if pending is None:
            return
        if pending.plan.expect(entity.state):
            del self._pending[entity.entity_id]
            motor = self.motors.get(entity.entity_id)
            if motor is not None:
                motor.confirmed = True
            self._finish(pending, "confirmed", f"{binding.dgn_name} shows the requested state")

    def on_acknowledgment(self, message: DecodedMessage) -> None:
        """End the command a device answers with a NAK as ``rejected`` (and stop its motor).

        Only ACKNOWLEDGMENTs addressed to CoachIQ's source address on that interface count.
        """
        signals = message.signals
        nak = nak_code(signals.get("acknowledgment_code"))
        if nak is None:
            return
        code, meaning = nak
        dgn = signals.get("dgn_acknowledged")
        instance = signals.get("instance")
        destination = message.destination
        for entity in self.manager.get_all_entities():
            entity_id = entity.entity_id
            pending = self._pending.get(entity_id)
            motor = self.motors.get(entity_id)
            if pending is None and motor is None:
                continue
            if destination is not None and destination != self._source_of(entity):
                continue
            if instance not in (None, 0xFF, entity.instance, *entity.instances.values()):
                continue
            dgns = pending.dgns if pending is not None else _dgns(motor.frames)  # type: ignore[union-attr]
            if dgn not in dgns:
                continue
            detail = (
                f"device 0x{message.source:02X} answered NAK {code} ({meaning}) to {dgn:05X}"
                if isinstance(dgn, int)
                else f"NAK {code} ({meaning})"
            )
            if motor is not None:
                self.motors.end(entity_id, f"rejected by the device: {code} {meaning}")
            if pending is not None:
                del self._pending[entity_id]
                self._finish(pending, "rejected", detail, code=code)

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

    def _finish(
        self, pending: _Pending, status: CommandStatus, detail: str, *, code: int | None = None
    ) -> None:
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
            code,
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
        Stop frames), forget its last result."""
        entity_id = event.entity_id
        self._last.pop(entity_id, None)
        pending = self._pending.pop(entity_id, None)
        if pending is not None:
            self._finish(pending, "failed", "the entity was removed from the coach mapping")
        self.motors.end(entity_id, "the entity was removed from the coach mapping")

    async def close(self) -> None:
        """Stop motors (sending their Stop), cancel timers, unsubscribe. Safe to call twice."""
        self._unsubscribe()
        self._unsubscribe_removal()
        self._unsubscribe_unpark()
        if self._interlock_stops:
            await asyncio.gather(*tuple(self._interlock_stops), return_exceptions=True)
        await self.motors.close()
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
        self._pending.clear()


def _dgns(frames: list[tuple[int, bytes]]) -> frozenset[int]:
    return frozenset(
        (a >> 8) & 0x1FF00 if ((a >> 16) & 0xFF) < 0xF0 else (a >> 8) & 0x1FFFF for a, _ in frames
    )
