"""DeviceIdentifier: make an unmapped light or load show itself by blinking.

The wizard's "identify" sends the same frames an entity of that type would send (the type
table's encoder): on, off, three times, then back to the level the device reported before. Only
switched outputs blink (``light``, ``dc_load``, ``ac_load``); motors never move from here: for
them the wizard watches which instance changes while the owner works the coach's own switch.

An unmapped dimmer or load output may be half of a motor pair (a slide or awning wired to two
dimmer outputs), so identify is under the motion-safety rules: the ``guard`` (the safety gate's
coach-is-moving interlock) refuses it unless the coach is parked (:class:`IdentifyRefusedError`,
409), and is asked again before every blink; when the coach stops being parked the output is
switched off and the run ends. The API also requires the caller's ``motion`` grant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.core.entity_manager import EntityManager
from backend.core.entity_model import CommandContext, KeptLabels
from backend.core.entity_types import ENTITY_TYPES
from backend.integrations.rvc.spec import RVCSpec

logger = logging.getLogger(__name__)

BLINK_TYPES = ("light", "dc_load", "ac_load")
MAX_RUNNING = 4  # identifications at once

Encode = Callable[..., tuple[int, bytes]]
Send = Callable[..., Awaitable[None]]


class IdentifyError(Exception):
    """The device cannot be identified this way; the message names the field and why."""

    status_code = 422


class IdentifyRefusedError(IdentifyError):
    """Identify refused by the coach-is-moving interlock (HTTP 409, names the reason)."""

    status_code = 409


@dataclass(slots=True)
class _Run:
    key: tuple[str, int]
    type_name: str
    blinks: int
    task: asyncio.Task[None] | None = None
    sent: list[str] = field(default_factory=list)
    ended: str | None = None  # why the run stopped early (the interlock)


class DeviceIdentifier:
    """Blinks unmapped switched outputs (bounded: a few at once, one per instance)."""

    def __init__(
        self,
        manager: EntityManager,
        spec: RVCSpec,
        encode: Encode,
        send: Send,
        *,
        source_address: Callable[[str], int] | int = 0xF9,
        interface: str = "house",
        blinks: int = 3,
        interval: float = 0.7,
        guard: Callable[[], str | None] | None = None,
    ) -> None:
        self.manager = manager
        self.spec = spec
        self._encode = encode
        self._send = send
        self._source = source_address
        self.interface = interface
        self.blinks = blinks
        self.interval = interval
        self._guard = guard
        self._runs: dict[tuple[str, int], _Run] = {}
        self.ended: list[dict[str, Any]] = []  # runs the interlock ended (the last few)
        self.stats = {"identified": 0, "frames": 0, "refused": 0, "interlocked": 0}

    def refusal(self) -> str | None:
        """Why an output may not be switched now (the coach is not parked), or None."""
        return self._guard() if self._guard is not None else None

    def running(self) -> list[dict[str, Any]]:
        """Identifications in progress."""
        return [
            {"dgn": k[0], "instance": k[1], "type": r.type_name, "frames_sent": len(r.sent)}
            for k, r in self._runs.items()
        ]

    def start(self, dgn: Any, instance: Any, type_name: str | None = None) -> dict[str, Any]:
        """Start blinking the unmapped device (``dgn`` status name or hex, ``instance``).

        Raises:
            IdentifyError: unknown DGN or instance not seen, not a switched output, or busy.
            IdentifyRefusedError: the coach is not parked (the interlock names why).
        """
        definition = self.spec.get(dgn) if isinstance(dgn, str | int) else None
        if definition is None:
            raise IdentifyError(f"dgn: unknown DGN {dgn!r}")
        if not isinstance(instance, int) or isinstance(instance, bool):
            raise IdentifyError("instance: give the device's instance (a number)")
        record = next(
            (
                r
                for r in self.manager.unmapped()
                if r["name"] == definition.name and r["instance"] == instance
            ),
            None,
        )
        if record is None:
            raise IdentifyError(
                f"instance: {definition.name} instance {instance} has not been seen unmapped"
            )
        kinds = [
            (t.name, c)
            for t in ENTITY_TYPES.values()
            if t.name in BLINK_TYPES and (type_name is None or t.name == type_name)
            for c in t.controls
            if definition.name in c.readers and c.command_dgn is not None
        ]
        if not kinds:
            self.stats["refused"] += 1
            raise IdentifyError(
                f"type: {definition.name} is not a switched light or load; identify a motor or "
                "a sensor by watching its values change while you use the coach's own switch"
            )
        reason = self.refusal()
        if reason is not None:
            self.stats["refused"] += 1
            raise IdentifyRefusedError(
                f"identify refused: {reason} (an unmapped output may drive a motor; it is "
                "switched only while the coach is parked)"
            )
        key = (definition.name, instance)
        if key in self._runs:
            raise IdentifyError(f"instance: {definition.name} {instance} is already blinking")
        if len(self._runs) >= MAX_RUNNING:
            self.stats["refused"] += 1
            raise IdentifyError(f"at most {MAX_RUNNING} devices blink at once; wait a moment")
        type_name, control = kinds[0]
        named = KeptLabels(record.get("labels") or {})
        previous = control.readers[definition.name](record["signals"], None, named)
        run = _Run(key, type_name, self.blinks)
        run.task = asyncio.create_task(
            self._blink(run, control, instance, previous),
            name=f"mapping-identify-{definition.name}-{instance}",
        )
        self._runs[key] = run
        self.stats["identified"] += 1
        seconds = round(self.blinks * 2 * self.interval, 1)
        return {
            "dgn": definition.name,
            "instance": instance,
            "type": type_name,
            "blinks": self.blinks,
            "seconds": seconds,
            "restores": previous.get("state"),
        }

    async def _blink(
        self, run: _Run, control: Any, instance: int, previous: Mapping[str, Any]
    ) -> None:
        key = "brightness" if run.type_name == "light" else "level"
        level = previous.get(key)
        on_before = previous.get("state") == "on" and isinstance(level, int | float) and level > 0
        restore = {key: float(level)} if on_before else {"state": "off"}  # pyright: ignore[reportArgumentType]
        try:
            for _ in range(run.blinks):
                reason = self.refusal()
                if reason is not None:
                    run.ended = reason
                    restore = {"state": "off"}  # never back on while the coach may move
                    self.stats["interlocked"] += 1
                    self.ended.append({"dgn": run.key[0], "instance": run.key[1], "ended": reason})
                    del self.ended[:-10]
                    logger.warning("identify of %s %d ended: %s", *run.key, reason)
                    break
                await self._command(run, control, instance, {key: 100.0})
                await asyncio.sleep(self.interval)
                await self._command(run, control, instance, {"state": "off"})
                await asyncio.sleep(self.interval)
        finally:
            # Back to what the device showed before, also when cancelled (server stopping).
            with contextlib.suppress(Exception):
                await asyncio.shield(self._command(run, control, instance, restore))
            self._runs.pop(run.key, None)

    async def _command(
        self, run: _Run, control: Any, instance: int, args: Mapping[str, Any]
    ) -> None:
        ctx = CommandContext(
            instance=instance,
            instances={},
            capabilities=frozenset({"dimmable"}),
            state={},
            command_dgn=control.command_dgn,
            motor_run_seconds=1,
        )
        plan = control.encoder(ctx, "set", args)
        source = self._source(self.interface) if callable(self._source) else self._source
        for frame in plan.frames:
            arbitration_id, data = self._encode(
                frame.dgn, frame.signals, instance=frame.instance, source_address=source
            )
            await self._send(arbitration_id, data, interface=self.interface)
            run.sent.append(data.hex().upper())
            self.stats["frames"] += 1

    async def close(self) -> None:
        """Stop running identifications (each restores its device). Safe to call twice."""
        tasks = [r.task for r in self._runs.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._runs.clear()
