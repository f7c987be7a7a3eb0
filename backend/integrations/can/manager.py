"""Physical CAN interfaces: connection state, reception, transmission and reconnection.

One :class:`BusInterface` per configured channel. Its supervisor task opens the bus, attaches a
python-can ``Notifier`` (bound to the running loop) with a batching receiver, starts one writer
task for its bounded transmit queue, and on any bus error tears everything down (Notifier before
bus) and reconnects with exponential backoff. Other interfaces never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import can

from backend.integrations.can.errors import (
    InterfaceUnavailableError,
    ReadOnlyInterfaceError,
    TransmitQueueFullError,
)
from backend.integrations.can.fast_rx import (
    FLAG_ERROR,
    FLAG_EXTENDED,
    FLAG_REMOTE,
    FastReader,
    RxFrame,
    fast_reader,
    frame_of,
)
from backend.integrations.can.multicast import DatagramGuard
from backend.integrations.can.replay import DEFAULT_RATE, ReplayBus, is_replay
from backend.integrations.can.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

BusFactory = Callable[[], can.BusABC]
# (interface, arbitration_id, data, timestamp, direction, tag given to enqueue or None),
# delivered on the event loop
FrameSink = Callable[["BusInterface", int, bytes, float, str, Any], None]

# Errors that mean the configuration is wrong: retrying cannot help.
CONFIG_ERRORS: tuple[type[BaseException], ...] = (
    can.CanInterfaceNotImplementedError,
    ImportError,
    TypeError,
    ValueError,
    OverflowError,
    struct.error,  # an option out of its C range (e.g. udp_multicast hop_limit -5)
)
_BATCH = 512
# Seconds a readable bus socket waits before its pending frames are read in one batch: each
# wake-up of the loop costs far more than a frame (cold caches), so a batch amortises it.
RX_WINDOW = 0.02
# Receive buffer asked for a bus read through a socket: about half a second of ten full buses.
# Frames arrive in bursts and the process shares its cores; the kernel default (~200 KiB, a few
# hundred datagrams) overflows in a 10 ms pause. The kernel caps it at net.core.rmem_max.
RX_SOCKET_BUFFER = 4 * 2**20
_ECHO_WINDOW = 2.0
_NOTIFIER_TIMEOUT = 0.2


class InterfaceState(StrEnum):
    """Connection state of one physical interface."""

    CONNECTING = "connecting"
    UP = "up"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


# States in which a frame to send is queued (see BusInterface.enqueue).
_ACCEPTING = frozenset({InterfaceState.UP, InterfaceState.CONNECTING})
_ACCEPTING_PRIORITY = _ACCEPTING | {InterfaceState.RECONNECTING}


@dataclass(slots=True)
class InterfaceCounters:
    """Counters of one interface (monotonic over the process lifetime)."""

    rx: int = 0
    tx: int = 0
    errors: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    tx_priority: int = 0  # frames sent from the priority (Stop) lane
    echo_suppressed: int = 0
    reconnects: int = 0
    standard_skipped: int = 0  # 11-bit frames: not RV-C, never decoded
    error_frames: int = 0  # error frames the controller reported (SocketCAN enables them)


class SupervisedNotifier(can.Notifier):
    """A Notifier that reads socket buses in windowed batches and never raises receive errors.

    Reading: python-can reads one frame per readable event of a bus's socket, and a full bus
    wakes the loop (and makes several system calls) for every frame. Here a readable socket is
    left alone for ``window`` seconds, then everything pending (up to a batch) is read at once:
    at most ``1 / window`` wake-ups a second at any rate, none when the bus is quiet, and no frame
    waits longer than the window. The socket's receive buffer holds what arrives meanwhile.

    With a ``fast_reader`` (:mod:`backend.integrations.can.fast_rx`; one bus per notifier) the
    batch is read without python-can's per-frame ``select`` and ``Message`` and handed to
    ``on_frames`` as one list; the listeners then see only what python-can's path would give.

    Errors: python-can re-raises a receive error in its thread (after scheduling ``on_error`` on
    the loop) and, for buses read through ``loop.add_reader``, lets it escape into the loop on
    every readable event. Here both paths stop reading and report the error once.
    """

    def __init__(
        self,
        *args: Any,
        window: float = 0.0,
        fast_reader: FastReader | None = None,
        on_frames: Callable[[list[RxFrame]], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self._window = window
        self._timers: list[asyncio.TimerHandle] = []
        self._fast_reader = fast_reader if on_frames is not None else None
        self._fast = self._fast_reader.read if self._fast_reader is not None else None
        self._on_frames = on_frames
        super().__init__(*args, **kwargs)

    def _rx_thread(self, bus: can.BusABC) -> None:
        with contextlib.suppress(Exception):  # reported through _on_error on the loop
            super()._rx_thread(bus)

    def _on_message_available(self, bus: can.BusABC) -> None:
        loop = self._loop
        if self._window <= 0 or loop is None:
            self._read_batch(bus)
            return
        fd = bus.fileno()
        loop.remove_reader(fd)
        self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]
        self._timers.append(loop.call_later(self._window, self._read_batch, bus, fd))

    def _read_batch(self, bus: can.BusABC, fd: int | None = None) -> None:
        if self._stopped:
            return
        count = 0
        try:
            fast = self._fast
            if fast is not None:
                frames = fast(_BATCH)
                count = len(frames)
                if count:
                    self._on_frames(frames)  # type: ignore[misc]  # set with the reader
            else:
                received = self._on_message_received
                while count < _BATCH:
                    msg = bus.recv(0)
                    if msg is None:
                        break
                    received(msg)
                    count += 1
        except Exception as exc:
            self._fail(exc)
            return
        loop = self._loop
        if fd is None or loop is None or self._stopped:
            return
        if count == _BATCH:  # more is pending: read on after whatever else is ready
            loop.call_soon(self._read_batch, bus, fd)
        else:
            loop.add_reader(fd, self._on_message_available, bus)

    def _fail(self, exc: Exception) -> None:
        self.exception = exc
        self._stopped = True
        loop = self._loop
        if loop is not None:
            for reader in self._readers:
                if isinstance(reader, int):
                    loop.remove_reader(reader)
        self._on_error(exc)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading (pending windowed reads included), then the python-can Notifier."""
        self._stopped = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        super().stop(timeout)
        reader, self._fast_reader, self._fast = self._fast_reader, None, None
        if reader is None:
            return
        # A windowed read may be running on the loop: close the descriptor there, after it.
        loop = self._loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if loop is None or on_loop or loop.is_closed():
            reader.close()
        else:
            try:
                loop.call_soon_threadsafe(reader.close)
            except RuntimeError:  # the loop closed meanwhile
                reader.close()


class BatchingReceiver(can.Listener):
    """Receives on the event loop into a bounded deque, drained in batches per wake-up.

    The queue keeps :data:`~backend.integrations.can.fast_rx.RxFrame` tuples
    ``(arbitration_id, data, timestamp, flags)``: python-can messages are turned into one as they
    arrive, a fast reader's batch is queued as it is.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        maxlen: int,
        drain: Callable[[deque[RxFrame]], None],
        on_drop: Callable[[], None],
        on_failure: Callable[[Exception], None],
    ) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()  # built on the loop's thread
        self._queue: deque[RxFrame] = deque(maxlen=maxlen)
        self._drain_cb = drain
        self._on_drop = on_drop
        self._on_failure = on_failure
        self._scheduled = False
        self.closed = False

    @property
    def queue(self) -> deque[RxFrame]:
        """The bounded receive queue."""
        return self._queue

    def on_message_received(self, msg: can.Message) -> None:
        """Queue a frame (dropping the oldest when full) and schedule one drain."""
        if self.closed:
            return
        queue = self._queue
        if len(queue) == queue.maxlen:
            self._on_drop()
        queue.append(frame_of(msg))
        self._schedule()

    def on_frames(self, frames: list[RxFrame]) -> None:
        """Queue a batch read on the loop (the oldest frames leave when full) and schedule one
        drain; every frame that leaves unprocessed is counted."""
        if self.closed:
            return
        queue = self._queue
        excess = len(queue) + len(frames) - (queue.maxlen or 0)
        for _ in range(excess):
            self._on_drop()
        queue.extend(frames)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            if threading.get_ident() == self._loop_thread:
                self._loop.call_soon(self._drain)  # no self-pipe write, no extra wake-up
            else:
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._scheduled = False
        if self.closed:
            return
        self._drain_cb(self._queue)
        if self._queue and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._drain)

    def on_error(self, exc: Exception) -> None:
        """A receive error: report it (called on the loop by the Notifier)."""
        if not self.closed:
            self._on_failure(exc)

    def stop(self) -> None:
        """Stop accepting frames."""
        self.closed = True


class BusInterface:
    """One physical interface: its bus, Notifier, transmit queue, writer and supervisor."""

    def __init__(
        self,
        name: str,
        bus_factory: BusFactory,
        sink: FrameSink,
        *,
        bitrate: int = 250000,
        rx_queue_size: int = 20000,
        rx_window: float = RX_WINDOW,
        rx_socket_buffer: int = RX_SOCKET_BUFFER,
        rx_fast_path: bool = True,
        guard: DatagramGuard | None = None,
        tx_queue_size: int = 256,
        tx_priority_size: int = 64,
        tx_max_age: float = 5.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        expect_echo: bool = False,
        read_only: bool = False,
        config_error: str | None = None,
    ) -> None:
        self.name = name
        self.bitrate = bitrate
        self.read_only = read_only
        self.counters = InterfaceCounters()
        self.state = InterfaceState.STOPPED
        self.last_error: str | None = config_error
        self.last_rx: float | None = None  # monotonic
        self.up_since: float | None = None
        self.rx_queue_size = rx_queue_size
        self.rx_window = rx_window
        self._rx_socket_buffer = rx_socket_buffer
        self.rx_fast_path = rx_fast_path
        self.rx_fast: bool | None = None  # whether the open bus is read by a fast reader
        self._guard = guard
        self.tx_queue_size = tx_queue_size
        self._config_error = config_error
        self._bus_factory = bus_factory
        self._sink = sink
        self._tx_max_age = tx_max_age
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._expect_echo = expect_echo
        self._echo: dict[tuple[int, bytes], int] = {}
        self._echo_times: deque[tuple[float, tuple[int, bytes]]] = deque(maxlen=tx_queue_size * 4)
        self._tx_queue: deque[tuple[can.Message, float, Any]] = deque()
        # The priority lane: Stop frames of motion loads never wait behind other traffic.
        self.tx_priority_size = tx_priority_size
        self._tx_priority: deque[tuple[can.Message, float, Any]] = deque()
        self._tx_ready = asyncio.Event()
        self._bus: can.BusABC | None = None
        self._last_replay: dict[str, Any] | None = None
        self.rx_socket_buffer: int | None = None  # bytes the kernel granted, for diagnostics
        self._notifier: can.Notifier | None = None
        self._receiver: BatchingReceiver | None = None
        self._failure: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.state_listeners: list[Callable[[BusInterface], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervisor (returns at once; the state moves to ``up`` when connected)."""
        if self._supervisor is not None:
            return
        if self._config_error is not None:
            self._set_state(InterfaceState.FAILED)
            return
        self._set_state(InterfaceState.CONNECTING)
        self._supervisor = asyncio.create_task(
            self._supervise(), name=f"can-supervisor-{self.name}"
        )

    async def stop(self) -> None:
        """Cancel the supervisor and writer, stop the Notifier, shut the bus down. Idempotent."""
        task, self._supervisor = self._supervisor, None
        await cancel_and_wait(task)
        await self._teardown()
        if self.state is not InterfaceState.FAILED:
            self._set_state(InterfaceState.STOPPED)

    def replay_status(self) -> dict[str, Any] | None:
        """A replayed log's playback counters (the last opened one), or None for a bus."""
        bus = self._bus
        if isinstance(bus, ReplayBus):
            self._last_replay = bus.replay_status()
        return self._last_replay

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """Background tasks currently owned by this interface."""
        return [t for t in (self._supervisor, self._writer) if t is not None and not t.done()]

    @property
    def tx_queue_length(self) -> int:
        """Frames waiting to be sent."""
        return len(self._tx_queue) + len(self._tx_priority)

    @property
    def rx_queue_length(self) -> int:
        """Frames received and not yet processed."""
        return len(self._receiver.queue) if self._receiver is not None else 0

    def _set_state(self, state: InterfaceState) -> None:
        if state is self.state:
            return
        logger.info("CAN interface %s: %s -> %s", self.name, self.state.value, state.value)
        self.state = state
        for listener in list(self.state_listeners):
            try:
                listener(self)
            except Exception:
                logger.exception("CAN interface state listener failed")

    async def _supervise(self) -> None:
        delay = self._backoff_initial
        while True:
            self._failure = asyncio.Event()
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except CONFIG_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.counters.errors += 1
                logger.error("CAN interface %s cannot be configured: %s", self.name, exc)
                await self._teardown()
                self._set_state(InterfaceState.FAILED)
                return
            except Exception as exc:
                self._note_error("open", exc)
                await self._teardown()
                self._set_state(InterfaceState.RECONNECTING)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                self.counters.reconnects += 1
                continue
            self.up_since = time.monotonic()
            self._set_state(InterfaceState.UP)
            await self._failure.wait()
            stayed = time.monotonic() - self.up_since
            self.up_since = None
            await self._teardown()
            self._set_state(InterfaceState.RECONNECTING)
            if stayed > self._backoff_max:
                delay = self._backoff_initial
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)
            self.counters.reconnects += 1

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        opening = asyncio.create_task(
            asyncio.to_thread(self._bus_factory), name=f"can-open-{self.name}"
        )
        try:
            bus = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # Cancelled while the bus was opening: shut it down as soon as it exists.
            opening.add_done_callback(_shutdown_opened)
            raise
        self._bus = bus
        if self._rx_socket_buffer:
            self.rx_socket_buffer = enlarge_receive_buffer(bus, self._rx_socket_buffer)
        receiver = self._receiver = BatchingReceiver(
            loop, self.rx_queue_size, self._drain, self._count_rx_drop, self._fail
        )
        reader = fast_reader(bus, self._guard) if self.rx_fast_path else None
        self.rx_fast = reader is not None
        self._notifier = SupervisedNotifier(
            bus,
            [receiver],
            timeout=_NOTIFIER_TIMEOUT,
            loop=loop,
            window=self.rx_window,
            fast_reader=reader,
            on_frames=receiver.on_frames,
        )
        if not self.read_only:
            self._writer = asyncio.create_task(self._write(), name=f"can-writer-{self.name}")

    async def _teardown(self) -> None:
        writer, self._writer = self._writer, None
        await cancel_and_wait(writer)
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            # stop() joins the reader thread: keep that off the event loop.
            await asyncio.to_thread(notifier.stop, _NOTIFIER_TIMEOUT * 5)
        bus, self._bus = self._bus, None
        if bus is not None:
            try:
                await asyncio.to_thread(bus.shutdown)
            except Exception as exc:
                logger.warning("CAN interface %s: shutdown failed: %s", self.name, exc)

    def _note_error(self, where: str, exc: BaseException) -> None:
        self.counters.errors += 1
        self.last_error = f"{where}: {type(exc).__name__}: {exc}"
        logger.warning("CAN interface %s: %s", self.name, self.last_error)

    def _fail(self, exc: Exception, where: str = "receive") -> None:
        """A bus error: reconnect (called on the loop)."""
        if self._failure is None or self._failure.is_set():
            return
        self._note_error(where, exc)
        self._failure.set()

    def _count_rx_drop(self) -> None:
        self.counters.rx_dropped += 1

    # --- reception ---------------------------------------------------------------------------

    def _drain(self, queue: deque[RxFrame]) -> None:
        sink = self._sink
        echo = self._echo if self._expect_echo else None
        counters = self.counters
        popleft = queue.popleft
        self.last_rx = time.monotonic()
        for _ in range(min(len(queue), _BATCH)):
            arbitration_id, data, timestamp, flags = popleft()
            if flags != FLAG_EXTENDED:
                if flags & FLAG_ERROR:
                    counters.error_frames += 1
                    continue
                if not flags & FLAG_REMOTE:  # an 11-bit frame: RV-C uses 29-bit ids only
                    counters.standard_skipped += 1
                continue
            if echo:
                key = (arbitration_id, data)
                pending = echo.get(key)
                if pending:
                    if pending == 1:
                        del echo[key]
                    else:
                        echo[key] = pending - 1
                    counters.echo_suppressed += 1
                    continue
            counters.rx += 1
            try:
                sink(self, arbitration_id, data, timestamp, "rx", None)
            except Exception:
                logger.exception("CAN interface %s: frame processing failed", self.name)

    def _expect(self, msg: can.Message) -> None:
        now = time.monotonic()
        times = self._echo_times
        while times and (now - times[0][0] > _ECHO_WINDOW or len(times) == times.maxlen):
            _, old = times.popleft()
            left = self._echo.get(old, 0) - 1
            if left > 0:
                self._echo[old] = left
            else:
                self._echo.pop(old, None)
        key = (msg.arbitration_id, bytes(msg.data))
        self._echo[key] = self._echo.get(key, 0) + 1
        times.append((now, key))

    # --- transmission ------------------------------------------------------------------------

    def enqueue(self, msg: can.Message, tag: Any = None, *, priority: bool = False) -> None:
        """Queue a frame for the writer; ``tag`` comes back with the frame once sent.

        Accepted while the interface is ``up`` or making its first connection (``connecting``:
        the frame goes out once connected, or is dropped after ``tx_max_age``). Refused at once
        while it is ``reconnecting`` or ``failed`` (or stopped): an owner pressing a switch then
        should be told now that the command did not go out and why, not see "queued" and have
        the frame expire unseen seconds later (a reconnection can take up to 30 s). Frames queued
        before the interface went down stay queued and go out when it is back, if still fresh.

        ``priority`` frames (a motion load's Stop) go in a lane of their own of
        ``tx_priority_size`` frames that the writer empties before any other frame, so a queue
        full of other traffic never holds a Stop back; they are accepted while the interface
        reconnects and never expire (a late Stop is still a Stop).

        Raises:
            ReadOnlyInterfaceError: the interface is a replay.
            InterfaceUnavailableError: the interface is reconnecting, failed or stopped (the
                message names the state and the last error); for priority frames only when
                failed or stopped.
            TransmitQueueFullError: the queue (or the priority lane) is full.
        """
        if self.read_only:
            raise ReadOnlyInterfaceError(self.name)
        accepting = _ACCEPTING_PRIORITY if priority else _ACCEPTING
        if self.state not in accepting:
            raise InterfaceUnavailableError(self.name, self.state.value, self.last_error)
        lane, size = (
            (self._tx_priority, self.tx_priority_size)
            if priority
            else (self._tx_queue, self.tx_queue_size)
        )
        if len(lane) >= size:
            self.counters.tx_dropped += 1
            raise TransmitQueueFullError(self.name, size)
        lane.append((msg, time.monotonic(), tag))
        self._tx_ready.set()

    def _next_frame(self) -> tuple[can.Message, float, Any, bool] | None:
        if self._tx_priority:
            return (*self._tx_priority.popleft(), True)
        if self._tx_queue:
            return (*self._tx_queue.popleft(), False)
        return None

    async def _write(self) -> None:
        ready = self._tx_ready
        while True:
            item = self._next_frame()
            if item is None:
                ready.clear()
                await ready.wait()
                continue
            msg, queued_at, tag, priority = item
            if not priority and time.monotonic() - queued_at > self._tx_max_age:
                self.counters.tx_dropped += 1  # stale: the interface was down too long
                continue
            bus = self._bus
            if bus is None:
                if priority:
                    self._tx_priority.appendleft((msg, queued_at, tag))
                    await asyncio.sleep(0.05)
                    continue
                self.counters.tx_dropped += 1
                continue
            if self._expect_echo:
                self._expect(msg)
            msg.timestamp = time.time()
            try:
                await asyncio.to_thread(bus.send, msg, 1.0)
            except (can.CanError, OSError) as exc:
                if priority:
                    self._tx_priority.appendleft((msg, queued_at, tag))  # retried once back
                else:
                    self.counters.tx_dropped += 1
                self._fail(exc, "send")
                return
            self.counters.tx += 1
            if priority:
                self.counters.tx_priority += 1
            try:
                self._sink(self, msg.arbitration_id, bytes(msg.data), msg.timestamp, "tx", tag)
            except Exception:
                logger.exception("CAN interface %s: tx frame processing failed", self.name)


def enlarge_receive_buffer(bus: can.BusABC, size: int) -> int | None:
    """Ask for a ``size``-byte receive buffer on the bus's socket; the size granted, or None.

    Buses without a socket (virtual, replay, serial adapters) are left alone.
    """
    try:
        fd = bus.fileno()
    except (NotImplementedError, AttributeError, OSError):
        return None
    if not isinstance(fd, int) or fd < 0:
        return None
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return None  # not a socket (a serial device, a pipe)
    with sock:
        try:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < size:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError as exc:
            logger.debug("receive buffer of %s not enlarged: %s", bus.channel_info, exc)
            return None


def _shutdown_opened(opening: asyncio.Future[can.BusABC]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        try:
            opening.result().shutdown()
        except Exception as exc:
            logger.warning("CAN bus shutdown after cancelled open failed: %s", exc)


def make_bus_factory(
    channel: str,
    bustype: str,
    bitrate: int,
    options: dict[str, Any],
    *,
    replay_rate: float = DEFAULT_RATE,
    guard: DatagramGuard | None = None,
) -> BusFactory:
    """A factory opening ``channel``: a ReplayBus for ``replay:`` channels, else ``can.Bus``.

    ``replay_rate``: frames per second a replayed log without timestamps is played at.
    ``guard``: for ``udp_multicast``, keeps it on this machine and drops bad datagrams.
    """
    if is_replay(channel):
        return lambda: ReplayBus(channel, default_rate=replay_rate)
    kwargs = dict(options)
    kwargs.setdefault("bitrate", bitrate)

    def factory() -> can.BusABC:
        bus = can.Bus(interface=bustype, channel=channel, **kwargs)
        if guard is not None and bustype == "udp_multicast":
            guard.install(bus)
        return bus

    return factory
