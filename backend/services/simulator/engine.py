"""The simulated coach on the bus: nodes with their own source addresses, broadcast scheduling,
commands, REQUEST answers and DM_RV faults.

The coach opens its own python-can buses on the configured channels, exactly like hardware sharing
the wire with the server. Each node kind (lighting, tanks, generator ...) is one RV-C node that
claims a source address and answers REQUESTs (``backend.integrations.can.node.RVCNode``: address
claim, multi-packet PRODUCT_ID, NAK). Every status DGN of every device is broadcast at the
specification's normal gap (else 90 % of its maximum gap, else a default), a little early by a
random jitter, never closer than its minimum gap; a change is sent as soon as the minimum gap
allows. One task runs the whole coach: it sleeps until the next broadcast, physics step or
received command.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import can

from backend.integrations.can.message_factory import ClaimName
from backend.integrations.can.node import RVCNode
from backend.integrations.can.tasks import cancel_and_wait
from backend.integrations.rvc.decoder import Decoder
from backend.integrations.rvc.encoder import Encoder
from backend.integrations.rvc.errors import EncodeError
from backend.integrations.rvc.spec import DgnDefinition, RVCSpec
from backend.services.simulator.chassis import ChassisModel
from backend.services.simulator.coach import build_models
from backend.services.simulator.faults import FaultModel
from backend.services.simulator.interlock import InterlockGate
from backend.services.simulator.model import DeviceModel, DeviceSpec, World

logger = logging.getLogger(__name__)

DGN_REQUEST = 0x0EA00
DGN_ADDRESS_CLAIMED = 0x0EE00
INBOX_SIZE = 4096
MANUFACTURER_CODE = 0x7A5  # an arbitrary code for the simulated nodes


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Tunables of the simulated coach."""

    jitter: float = 0.05
    faults: bool = False
    fault_interval: float = 120.0
    address_base: int = 0x80
    default_gap: float = 2.5
    physics_period: float = 0.1
    server_address: int = 0xF9
    seed: int | None = None


@dataclass(slots=True)
class Broadcast:
    """One status DGN of one device and its schedule."""

    node: SimNode
    model: DeviceModel
    definition: DgnDefinition
    instance: int | None
    gap: float
    min_gap: float
    next_due: float = 0.0
    last_sent: float = -math.inf
    last_signals: dict[str, Any] | None = None
    frame: tuple[int, bytes] | None = None
    frame_address: int = -1
    broken: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def signals(self) -> dict[str, Any]:
        """The device's current signals for this DGN (with the mapping's fixed values)."""
        signals = self.model.status(self.definition.name)
        if self.extra:
            signals.update(self.extra)
        return signals


@dataclass(slots=True)
class SimNode:
    """An RV-C node of the coach: its devices, its bus and its network behaviour."""

    kind: str
    bus_key: str
    rvc: RVCNode
    models: list[DeviceModel] = field(default_factory=list)
    broadcasts: list[Broadcast] = field(default_factory=list)

    @property
    def address(self) -> int:
        """The source address the node sends from."""
        return self.rvc.transmit_address


def broadcast_gaps(definition: DgnDefinition, default_gap: float) -> tuple[float, float]:
    """(gap, minimum gap) in seconds for a status DGN, from its spec broadcast attributes."""
    b = definition.broadcast
    min_gap = (b.get("min_ms") or 50) / 1000
    if b.get("normal_ms"):
        gap = b["normal_ms"] / 1000
    elif b.get("max_ms"):
        gap = 0.9 * b["max_ms"] / 1000
    else:
        gap = default_gap
    if b.get("max_ms"):
        # Where the spec's normal gap is its maximum gap, aim a little inside it: a frame sent
        # exactly at the maximum arrives past it after any scheduling delay.
        gap = min(gap, 0.95 * b["max_ms"] / 1000)
    return max(gap, min_gap), min_gap


class _Inbox(can.Listener):
    """Keeps the frames the coach must act on (bounded) and wakes the coach's task."""

    def __init__(self, coach: SimulatedCoach, bus_key: str) -> None:
        self.coach = coach
        self.bus_key = bus_key
        self.frames: deque[tuple[int, bytes]] = deque(maxlen=INBOX_SIZE)
        self.dropped = 0

    def on_message_received(self, msg: can.Message) -> None:
        can_id = msg.arbitration_id
        pf = (can_id >> 16) & 0xFF
        dgn = (can_id >> 8) & 0x1FFFF
        if pf < 0xF0:
            dgn &= 0x1FF00
        if dgn not in self.coach.wanted_dgns:
            return
        if dgn != DGN_ADDRESS_CLAIMED and (can_id & 0xFF) in self.coach.own_addresses:
            return  # our own frame, heard back (udp_multicast)
        if len(self.frames) == INBOX_SIZE:
            self.dropped += 1
        self.frames.append((can_id, bytes(msg.data)))
        self.coach.wake_threadsafe()


class SimulatedCoach:
    """A whole simulated coach on one or more buses."""

    def __init__(
        self,
        spec: RVCSpec,
        devices: Sequence[DeviceSpec],
        *,
        bustype: str,
        channels: Sequence[str],
        bus_options: Mapping[str, Any] | None = None,
        interface_mappings: Mapping[str, str] | None = None,
        options: SimOptions | None = None,
    ) -> None:
        self.spec = spec
        self.options = options or SimOptions()
        self.bustype = bustype
        self.channels = list(channels)
        self.bus_options = dict(bus_options or {})
        self.interface_mappings = dict(interface_mappings or {})
        self.rng = random.Random(self.options.seed)
        self.world = World()
        self.encoder = Encoder(spec)
        self.decoder = Decoder(spec)
        self.models = build_models(devices, self.world, self.rng)
        self.nodes: list[SimNode] = []
        self.buses: dict[str, can.BusABC] = {}
        self.stats: Counter[str] = Counter()
        self.sent_by_dgn: Counter[str] = Counter()
        self.wanted_dgns: frozenset[int] = frozenset({DGN_REQUEST, DGN_ADDRESS_CLAIMED})
        self.own_addresses: frozenset[int] = frozenset()
        self._commands: dict[tuple[int, int | None], list[tuple[SimNode, DeviceModel]]] = {}
        self._notifiers: list[can.Notifier] = []
        self._inboxes: list[_Inbox] = []
        self._heap: list[tuple[float, int, Broadcast]] = []
        self._seq = 0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._wake_pending = threading.Event()
        self._faults: list[FaultModel] = []
        self.interlock = InterlockGate()

    # -- the chassis ----------------------------------------------------------------------

    def chassis(self) -> ChassisModel | None:
        """The simulated chassis (None when the mapping says the chassis does not report)."""
        for model in self.models:
            if isinstance(model, ChassisModel):
                return model
        return None

    def chassis_spec_absent(self) -> bool:
        """True when the coach has no simulated chassis (the mapping says it is absent)."""
        return self.chassis() is None

    def set_chassis(self, *, park_brake: str | None = None, speed_kph: float | None = None):
        """Set the park brake and/or speed; CHASSIS_MOBILITY_STATUS goes out at once.

        Raises:
            LookupError: this coach has no simulated chassis.
        """
        chassis = self.chassis()
        if chassis is None:
            raise LookupError("this coach's mapping says its chassis does not report")
        chassis.set(park_brake=park_brake, speed_kph=speed_kph)
        now = time.monotonic()
        self._check_changes(now, self.models, commanded=True)
        return chassis.state()

    # -- building -------------------------------------------------------------------------

    def model(self, entity_id: str) -> DeviceModel:
        """The model simulating ``entity_id``."""
        for model in self.models:
            if model.key == entity_id:
                return model
        raise KeyError(entity_id)

    def _channel_of(self, interface: str) -> str:
        channel = self.interface_mappings.get(interface, interface)
        return channel if channel in self.channels else self.channels[0]

    def _build_nodes(self) -> None:
        """Group devices into nodes: by the mapping's source address, else by node kind."""
        groups: dict[tuple[str, int | str], list[DeviceModel]] = {}
        for model in self.models:
            channel = self._channel_of(model.spec.interface)
            address = model.spec.source_address
            groups.setdefault((channel, model.node_kind if address is None else address), [])
            groups[(channel, model.node_kind if address is None else address)].append(model)
        taken = {a for (_, a) in groups if isinstance(a, int)} | {self.options.server_address}
        next_free = self.options.address_base
        for index, ((channel, key), models) in enumerate(
            sorted(groups.items(), key=lambda item: (item[0][0], str(item[0][1])))
        ):
            if isinstance(key, int):
                address, kind = key, models[0].node_kind
            else:
                while next_free in taken:
                    next_free += 1
                address, kind = next_free, key
                taken.add(address)
            serial = 0x1000 + index
            rvc = RVCNode(
                channel,
                ClaimName(serial_number=serial, manufacturer_code=MANUFACTURER_CODE),
                address,
                f"CoachIQ*{models[0].product}*SIM{serial:06d}*{kind}",
                self._sender(channel),
            )
            node = SimNode(kind, channel, rvc, models)
            self.nodes.append(node)
            if self.options.faults:
                fault = FaultModel(
                    f"{kind}_{address}", address, self.rng, self.options.fault_interval
                )
                self._faults.append(fault)
                node.models.append(fault)
        commands: set[int] = set()
        for node in self.nodes:
            for model in node.models:
                for name in model.broadcasts():
                    definition = self.spec.get(name)
                    if definition is None:
                        logger.warning("simulator: %s has no DGN %s in the spec", model.key, name)
                        continue
                    gap, min_gap = broadcast_gaps(definition, self.options.default_gap)
                    instance = model.spec.status_instances.get(name, model.spec.instance)
                    entry = Broadcast(
                        node,
                        model,
                        definition,
                        instance if definition.instance else None,
                        gap,
                        min_gap,
                        extra=dict(model.spec.status_extra.get(name, {})),
                    )
                    node.broadcasts.append(entry)
                for name in model.accepts():
                    definition = self.spec.get(name)
                    if definition is None:
                        continue
                    instance = model.spec.instance if definition.instance else None
                    self._commands.setdefault((definition.dgn, instance), []).append((node, model))
                    commands.add(definition.dgn)
        self.wanted_dgns = frozenset({DGN_REQUEST, DGN_ADDRESS_CLAIMED, *commands})

    def _sender(self, channel: str):
        def send(can_id: int, data: bytes) -> None:
            self._send(channel, can_id, data)

        return send

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the buses, claim addresses and start broadcasting."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        try:
            for channel in self.channels:
                self.buses[channel] = can.Bus(
                    interface=self.bustype, channel=channel, **self.bus_options
                )
            self._build_nodes()
            self._refresh_addresses()
            for channel, bus in self.buses.items():
                inbox = _Inbox(self, channel)
                self._inboxes.append(inbox)
                self._notifiers.append(can.Notifier(bus, [inbox], timeout=0.1))
        except BaseException:
            await self.stop()
            raise
        for node in self.nodes:
            node.rvc.start_claim()
        now = time.monotonic()
        for node in self.nodes:
            for entry in node.broadcasts:
                # Spread first broadcasts over the first gap so the coach does not burst.
                self._schedule(entry, now + 0.3 + self.rng.random() * min(entry.gap, 1.0))
        self._task = asyncio.create_task(self._run(), name="simulator-coach")
        logger.info(
            "Simulated coach: %d devices on %d nodes, %s %s",
            len(self.models),
            len(self.nodes),
            self.bustype,
            ",".join(self.channels),
        )

    async def stop(self) -> None:
        """Stop the task and the nodes, then the notifiers, then the buses. Idempotent."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        for node in self.nodes:
            await node.rvc.stop()
        for notifier in self._notifiers:
            notifier.stop()
        self._notifiers.clear()
        for bus in self.buses.values():
            bus.shutdown()
        self.buses.clear()

    # -- sending --------------------------------------------------------------------------

    def _send(self, channel: str, can_id: int, data: bytes) -> None:
        bus = self.buses.get(channel)
        if bus is None:
            return
        try:
            bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=True))
        except can.CanError as exc:
            self.stats["send_errors"] += 1
            if self.stats["send_errors"] == 1:
                logger.warning("simulator: send on %s failed: %s", channel, exc)
            return
        self.stats["frames_sent"] += 1

    def _schedule(self, entry: Broadcast, due: float) -> None:
        entry.next_due = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, entry))

    def _emit(self, entry: Broadcast, signals: dict[str, Any], now: float) -> None:
        """Send ``entry`` with ``signals`` and schedule its next periodic broadcast."""
        node = entry.node
        if (
            entry.frame is None
            or signals != entry.last_signals
            or entry.frame_address != node.address
        ):
            try:
                entry.frame = self.encoder.encode(
                    entry.definition.name,
                    signals,
                    instance=entry.instance,
                    source_address=node.address,
                )
            except EncodeError as exc:
                logger.error("simulator: %s %s: %s", entry.model.key, entry.definition.name, exc)
                entry.broken = True
                return
            entry.frame_address = node.address
        entry.last_signals = signals
        entry.last_sent = now
        self._send(node.bus_key, *entry.frame)
        self.sent_by_dgn[entry.definition.name] += 1
        jitter = 1 - self.rng.random() * self.options.jitter
        self._schedule(entry, now + max(entry.min_gap, entry.gap * jitter))

    # -- the coach's task -----------------------------------------------------------------

    def wake_threadsafe(self) -> None:
        """Wake the coach's task from another thread (at most one pending wake-up)."""
        loop = self._loop
        if loop is None or self._wake_pending.is_set():
            return
        self._wake_pending.set()
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        last = time.monotonic()
        next_physics = last
        while True:
            now = time.monotonic()
            if now >= next_physics:
                dt = now - last
                last = now
                for model in self.models:
                    model.tick(now, dt)
                for fault in self._faults:
                    fault.tick(now, dt)
                self._check_changes(now, self.models, commanded=False)
                self._check_changes(now, self._faults, commanded=False)
                next_physics = max(next_physics + self.options.physics_period, now)
            self._drain(now)
            self._send_due(now)
            due = min(self._heap[0][0] if self._heap else math.inf, next_physics)
            timeout = max(0.0, due - time.monotonic())
            if timeout > 0:
                self._wake.clear()
                self._wake_pending.clear()
                if any(inbox.frames for inbox in self._inboxes):
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            else:
                await asyncio.sleep(0)

    def _send_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, entry = heapq.heappop(heap)
            if due != entry.next_due or entry.broken:
                continue  # superseded by a later schedule
            self._emit(entry, entry.signals(), now)

    def _check_changes(self, now: float, models: Sequence[DeviceModel], commanded: bool) -> None:
        """Send changed statuses: on change where the spec says so; after a command (3.2.4.5)."""
        changed = {id(m) for m in models}
        for node in self.nodes:
            for entry in node.broadcasts:
                if id(entry.model) not in changed or entry.broken:
                    continue
                if not commanded and (
                    entry.last_signals is None or not entry.definition.broadcast.get("on_change")
                ):
                    continue
                signals = entry.signals()
                if signals == entry.last_signals:
                    continue
                earliest = entry.last_sent + entry.min_gap
                if now >= earliest:
                    self._emit(entry, signals, now)
                elif entry.next_due > earliest:
                    self._schedule(entry, earliest)

    def _refresh_addresses(self) -> None:
        self.own_addresses = frozenset(node.address for node in self.nodes)

    # -- received frames ------------------------------------------------------------------

    def _drain(self, now: float) -> None:
        for inbox in self._inboxes:
            frames = inbox.frames
            while frames:
                can_id, data = frames.popleft()
                self._on_frame(inbox.bus_key, can_id, data, now)
        self._refresh_addresses()

    def _on_frame(self, bus_key: str, can_id: int, data: bytes, now: float) -> None:
        pf = (can_id >> 16) & 0xFF
        if pf == 0xEE:
            for node in self.nodes:
                if node.bus_key == bus_key:
                    node.rvc.on_frame(can_id, data)
            return
        if pf == 0xEA:
            self._on_request(bus_key, can_id, data, now)
            return
        self._on_command(bus_key, can_id, data, now)

    def _on_request(self, bus_key: str, can_id: int, data: bytes, now: float) -> None:
        if len(data) < 3:
            return
        destination = (can_id >> 8) & 0xFF
        wanted = int.from_bytes(data[:3], "little") & 0x1FFFF
        instance = data[3] if len(data) > 3 else 0xFF
        self.stats["requests"] += 1
        for node in self.nodes:
            if node.bus_key != bus_key or destination not in (node.address, 0xFF):
                continue
            entries = [e for e in node.broadcasts if e.definition.dgn == wanted and not e.broken]
            if entries:
                for entry in entries:
                    if instance in (0xFF, entry.instance) or entry.instance is None:
                        self._emit(entry, entry.signals(), now)
            else:
                node.rvc.on_frame(can_id, data)

    def _on_command(self, bus_key: str, can_id: int, data: bytes, now: float) -> None:
        message = self.decoder.decode(can_id, data)
        definition = message.definition
        if definition is None:
            return
        instance = message.instance if definition.instance else None
        targets = self._commands.get((definition.dgn, instance))
        if not targets:
            return
        self.stats["commands"] += 1
        if not self.interlock.admit(definition, can_id, data, now):
            self.stats["interlocked"] += 1
            return  # waits for the identical command with the opposing bit (6.23.4)
        signals = message.signals
        labels = message.labels
        if labels:  # a named value that is not a number (toggle, continuous) reads as its name
            signals = {**signals, **{k: v for k, v in labels.items() if signals.get(k) is None}}
        for node, model in targets:
            if node.bus_key != bus_key:
                continue
            code = model.command(definition.name, signals, now)
            if code is not None:
                self.stats["naks"] += 1
                self._acknowledge(node, code, instance, message.source, definition.dgn)
            self._check_changes(now, [model], commanded=True)

    def _acknowledge(
        self, node: SimNode, code: int, instance: int | None, to: int, dgn: int
    ) -> None:
        """ACKNOWLEDGMENT (3.2.4.4) to the commanding node: the code, our instance, its DGN."""
        can_id, data = self.encoder.encode(
            "ACKNOWLEDGMENT",
            {"acknowledgment_code": code, "source_address": to, "dgn_acknowledged": dgn},
            instance=instance,  # None (a single-instance DGN): all ones, "not available"
            source_address=node.address,
            destination=to,
        )
        self._send(node.bus_key, can_id, data)
