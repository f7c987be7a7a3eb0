"""Running motors under hold-to-run leases, and sending their Stop so that it always goes out.

A :class:`Motors` runs one task per moving entity: it repeats the command frames every 100 ms
(SLIDE_COMMAND, AWNING_COMMAND ... "100 ms when in motion", spec 3.2.4.5) while the entity's
:class:`~backend.safety.leases.Lease` lives, and ends it when the lease lapses, its owner
closes, the interlock stops holding, a device answers NAK, or CoachIQ stops: then the Stop
frames go out in the interface's priority lane, retried until queued (``stop_retry_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from backend.core.entity_errors import CommandTransportError
from backend.core.entity_model import Entity, Repeat
from backend.safety.leases import CAPPED, Lease

logger = logging.getLogger(__name__)

Frames = list[tuple[int, bytes]]
Transmit = Callable[[Entity, int, bytes, bool], Awaitable[None]]
ENDED_KEPT = 50
STOP_RETRY_INTERVAL = 0.05


@dataclass(slots=True)
class Motor:
    """One running motor: its task, lease, frames and the Stop that ends it."""

    entity: Entity
    lease: Lease
    frames: Frames
    final: Frames
    run: Repeat
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    confirmed: bool = False
    sent_final: bool = False


class Motors:
    """The running motors of an EntityService."""

    def __init__(
        self,
        transmit: Transmit,
        *,
        stop_retry_seconds: float = 30.0,
        hold_timeout: float = 0.4,
        still_allowed: Callable[[Entity], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transmit = transmit
        self._stop_retry = stop_retry_seconds
        self._hold_timeout = hold_timeout
        self._still_allowed = still_allowed
        self._clock = clock
        self._motors: dict[str, Motor] = {}
        self._stops: set[asyncio.Task[None]] = set()
        self.ended: deque[dict[str, Any]] = deque(maxlen=ENDED_KEPT)
        # entity -> (command, until): a hold that reached the cap stays ended while renewed
        self._capped: dict[str, tuple[dict[str, Any], float]] = {}
        self.stats = {"started": 0, "lapsed": 0, "stops_sent": 0, "stops_failed": 0}

    def still_capped(self, entity_id: str, command: dict[str, Any]) -> bool:
        """True when ``command`` renews a hold that ran to the cap (it is not started again
        until the commander lets go for the hold timeout); the renewal extends the block."""
        entry = self._capped.get(entity_id)
        if entry is None:
            return False
        now = self._clock()
        if entry[0] != command or now >= entry[1]:
            del self._capped[entity_id]
            return False
        self._capped[entity_id] = (entry[0], now + self._hold_timeout)
        return True

    def get(self, entity_id: str) -> Motor | None:
        """The entity's running motor, or None."""
        return self._motors.get(entity_id)

    def leases(self) -> list[Lease]:
        """Leases of the running motors."""
        return [m.lease for m in self._motors.values()]

    def start(self, entity: Entity, lease: Lease, frames: Frames, final: Frames, run: Repeat):
        """Run ``frames`` under ``lease`` (replacing a running motor of the entity silently)."""
        self.cancel(entity.entity_id)
        motor = Motor(entity, lease, frames, final, run)
        motor.task = asyncio.create_task(
            self._run(motor), name=f"entities-motor-{entity.entity_id}"
        )
        self._motors[entity.entity_id] = motor
        self.stats["started"] += 1
        return motor

    def cancel(self, entity_id: str) -> Motor | None:
        """Cancel a motor without sending its Stop (a newer command decides what is sent)."""
        motor = self._motors.pop(entity_id, None)
        if motor is not None and motor.task is not None:
            motor.end_reason = motor.end_reason or "replaced by a newer command"
            motor.task.cancel()
            self._log_end(motor)
        return motor

    def end(self, entity_id: str, reason: str) -> bool:
        """End a motor now and send its Stop (in the motor's own task); True when one ran."""
        motor = self._motors.get(entity_id)
        if motor is None:
            return False
        motor.end_reason = motor.end_reason or reason
        motor.wake.set()
        return True

    def end_owner(self, owner: str, reason: str) -> list[str]:
        """End every motor held by ``owner`` (its connection or session closed)."""
        ended = [
            entity_id
            for entity_id, motor in list(self._motors.items())
            if owner in motor.lease.owners and self.end(entity_id, reason)
        ]
        return ended

    async def close(self, reason: str = "CoachIQ is stopping") -> None:
        """End every motor, wait for their Stops (bounded by the retry time)."""
        motors = list(self._motors.values())
        for motor in motors:
            motor.end_reason = motor.end_reason or reason
            motor.wake.set()
        tasks = [m.task for m in motors if m.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self._stop_retry + 1.0)
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A motor cancelled before it sent its Stop still gets one.
        for motor in motors:
            if not motor.sent_final:
                await self.send_stop(motor.entity, motor.final)
        if self._stops:
            await asyncio.gather(*self._stops, return_exceptions=True)

    # --- the run ----------------------------------------------------------------------------

    async def _run(self, motor: Motor) -> None:
        run, lease, entity = motor.run, motor.lease, motor.entity
        next_send = self._clock() + run.interval
        while True:
            now = self._clock()
            reason = motor.end_reason or lease.expired(now)
            if reason is None and self._still_allowed is not None:
                refused = self._still_allowed(entity)
                if refused is not None:
                    reason = f"interlock: {refused}"
            if reason is None and motor.confirmed and run.done(entity.state):
                reason = "end of travel"
            if reason is not None:
                break
            if now >= next_send:
                next_send = max(next_send + run.interval, now)
                if run.resend:
                    for arbitration_id, data in motor.frames:
                        with contextlib.suppress(CommandTransportError):
                            await self._transmit(entity, arbitration_id, data, False)
            wake = min(next_send, lease.cap, lease.deadline if lease.held else next_send)
            timeout = max(0.0, wake - self._clock())
            motor.wake.clear()
            if motor.end_reason is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(motor.wake.wait(), timeout)
        motor.end_reason = reason
        if self._motors.get(entity.entity_id) is motor:
            del self._motors[entity.entity_id]
        if reason.startswith("hold lapsed"):
            self.stats["lapsed"] += 1
        if reason == CAPPED and lease.held:
            self._capped[entity.entity_id] = (dict(lease.command), now + self._hold_timeout)
        self._log_end(motor)
        await self.send_stop(entity, motor.final)
        motor.sent_final = True

    def _log_end(self, motor: Motor) -> None:
        lease = motor.lease
        lease.ended = motor.end_reason
        self.ended.append(
            {
                "entity_id": lease.entity_id,
                "command": dict(lease.command),
                "command_id": lease.command_id,
                "owner": lease.owner,
                "ended": motor.end_reason,
                "ran_s": round(self._clock() - lease.started, 3),
                "at": time.time(),
            }
        )
        level = logging.INFO if motor.end_reason == "end of travel" else logging.WARNING
        logger.log(level, "%s %s ended: %s", lease.entity_id, lease.command, motor.end_reason)

    async def send_stop(self, entity: Entity, final: Frames) -> bool:
        """Queue the Stop frames in the priority lane, retrying each until it is queued."""
        if not final:
            return True
        deadline = self._clock() + self._stop_retry
        ok = True
        for arbitration_id, data in final:
            while True:
                try:
                    await self._transmit(entity, arbitration_id, data, True)
                    self.stats["stops_sent"] += 1
                    break
                except CommandTransportError as exc:
                    if self._clock() >= deadline:
                        self.stats["stops_failed"] += 1
                        logger.error("Stop of %s not sent: %s", entity.entity_id, exc)
                        ok = False
                        break
                    await asyncio.sleep(STOP_RETRY_INTERVAL)
        return ok
