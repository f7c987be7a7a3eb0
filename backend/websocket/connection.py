"""One WebSocket client: its bounded outbox, its sender and receiver tasks, and how it is dropped.

Producers never await a client. They put already-encoded text into the client's :class:`Outbox`
(a bounded, ordered dict: entity updates are keyed by entity id so a newer state replaces the
queued one in place, other messages get a sequence number) and the client's own sender task
writes it to the socket. A client that cannot keep up therefore costs its own queue and nothing
else; a client whose socket does not accept a write for the stall timeout is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

from backend.websocket import messages
from backend.websocket.messages import SnifferFilter, Subscription

logger = logging.getLogger(__name__)

# Yield to the loop after this many back-to-back sends so one long batch cannot hog it.
_SENDS_PER_YIELD = 64
_CLOSE_TIMEOUT = 1.0
# The outbox key of a queued snapshot (entity ids are never empty nor start with NUL).
SNAPSHOT_KEY = "\x00snapshot"
_INTERNAL_ERROR = messages.error(
    "internal_error", "the server failed to handle this message; it has been logged"
)

MessageHandler = Callable[["Connection", "str | bytes | None"], Awaitable[None]]
ErrorCounter = Callable[[], None]
# What a send or receive raises when the peer has gone: the end of a connection, not an error.
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)


class Outbox:
    """A bounded, ordered queue of encoded messages with per-key replacement (coalescing)."""

    __slots__ = ("_items", "_ready", "_seq", "coalesced", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str | int, str] = OrderedDict()
        self._seq = 0
        self._ready = asyncio.Event()
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, text: str) -> bool:
        """Queue a message; False (nothing queued) when the outbox is full."""
        if len(self._items) >= self.maxsize:
            return False
        self._seq += 1
        self._items[self._seq] = text
        self._ready.set()
        return True

    def put_keyed(self, key: str, text: str) -> bool:
        """Queue ``text`` under ``key``, replacing a queued one in its place; False when full."""
        items = self._items
        if key in items:
            items[key] = text
            self.coalesced += 1
            return True
        if len(items) >= self.maxsize:
            return False
        items[key] = text
        self._ready.set()
        return True

    def drop_oldest(self) -> None:
        """Discard the oldest queued message."""
        if self._items:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Discard everything queued."""
        self._items.clear()

    def clear_updates(self) -> int:
        """Discard keyed messages (entity updates, a snapshot), keep replies; returns how many."""
        items = self._items
        keys = [key for key in items if isinstance(key, str)]
        for key in keys:
            del items[key]
        return len(keys)

    def pop(self) -> str | None:
        """The oldest message, or None when empty (which also re-arms :meth:`wait`)."""
        if not self._items:
            self._ready.clear()
            return None
        return self._items.popitem(last=False)[1]

    async def wait(self) -> None:
        """Return once something is queued."""
        await self._ready.wait()


def find_protocol(send: Any, depth: int = 0) -> Any:
    """The server's protocol object (it has the asyncio ``transport``) behind an ASGI ``send``
    callable, or None when it cannot be found (middleware closures are followed)."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is not None and callable(getattr(transport, "abort", None)):
        return owner
    code = getattr(send, "__code__", None)
    closure = getattr(send, "__closure__", None)
    if depth >= 8 or code is None or not closure:
        return None
    for name, cell in zip(code.co_freevars, closure, strict=False):
        if "send" not in name:
            continue
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        found = find_protocol(value, depth + 1)
        if found is not None:
            return found
    return None


def find_transport(send: Any) -> Any:
    """The asyncio transport behind an ASGI ``send`` callable, or None when it cannot be found.

    ASGI has no way to abort a connection; closing one whose peer stopped reading waits for a
    write that never completes (uvicorn waits for the buffer to drain), so the socket would live
    on. Following the middleware closures to the server protocol's bound ``send`` lets a stalled
    client be aborted at once.
    """
    protocol = find_protocol(send)
    return None if protocol is None else protocol.transport


class JoinedWrites:
    """Stands in for a connection's transport while the sender writes one burst: the server's
    WebSocket frames are collected and go to the socket in one write (one system call and one
    TCP segment per burst instead of one per message). The messages, their frames and their
    order are unchanged; everything but ``write`` goes to the real transport."""

    __slots__ = ("chunks", "transport", "writes")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.chunks: list[bytes] = []
        self.writes = 0

    def write(self, data: bytes) -> None:
        """Keep a write for :meth:`flush`."""
        self.chunks.append(data)

    def flush(self) -> None:
        """Write what was kept, as one write (dropped when the connection is closing)."""
        chunks = self.chunks
        if chunks:
            self.chunks = []
            if not self.transport.is_closing():
                self.transport.write(b"".join(chunks))
                self.writes += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Connection:
    """A connected client: outbox, sender and receiver tasks, counters and the drop path."""

    kind = "client"

    def __init__(
        self,
        websocket: WebSocket,
        client_id: int,
        queue_size: int,
        batch_window: float,
        handler: MessageHandler,
        on_error: ErrorCounter | None = None,
        join_writes: bool = True,
    ) -> None:
        self.websocket = websocket
        self.client_id = client_id
        self.outbox = Outbox(queue_size)
        self.batch_window = batch_window
        self._handler = handler
        self._on_error = on_error
        self.errors = 0
        self.connected_at = time.time()
        self.last_sent = time.monotonic()
        self.send_started: float | None = None
        self.sent = 0
        self.writes = 0  # socket writes of joined bursts (each carries one or more messages)
        self.closed = False
        self.close_reason = ""
        self._sender: asyncio.Task[None] | None = None
        self._receiver: asyncio.Task[None] | None = None
        # uvicorn's protocol, for joined writes (None: each message is written on its own)
        self._protocol: Any = (
            find_protocol(getattr(websocket, "_send", None)) if join_writes else None
        )

    @property
    def name(self) -> str:
        """A short name for logs and task names."""
        return f"ws-{self.kind}-{self.client_id}"

    @property
    def peer(self) -> str:
        """Who this is for the command audit: the peer's address and the channel.

        Example: ``"192.168.1.20 (websocket)"``; REST commands record the bare address.
        """
        address = self.websocket.client
        host = address.host if address is not None else "unknown"
        return f"{host} (websocket)"

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The client's running tasks."""
        return [t for t in (self._sender, self._receiver) if t is not None and not t.done()]

    def start(self, task_set: set[asyncio.Task[Any]]) -> None:
        """Start the sender and receiver tasks, kept in ``task_set`` until they finish."""
        self._sender = asyncio.create_task(self._send_loop(), name=f"{self.name}-send")
        self._receiver = asyncio.create_task(self._receive_loop(), name=f"{self.name}-receive")
        for task in (self._sender, self._receiver):
            task_set.add(task)
            task.add_done_callback(task_set.discard)

    async def run(self) -> None:
        """Serve until the peer goes, the sender fails or the client is dropped; then clean up."""
        tasks = self.tasks
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Cancel and await both tasks, then close the socket if the peer did not. Idempotent."""
        tasks = [t for t in (self._sender, self._receiver) if t is not None]
        for task in tasks:
            task.cancel()
        # The children's cancellations come back as results; a cancellation of this task
        # itself still propagates out of gather.
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                logger.debug("%s task ended with %r", self.name, result)
        if not self.closed:
            self.closed = True
            self.close_reason = self.close_reason or "disconnected"
        await self._close_socket()

    async def _close_socket(self) -> None:
        if self.websocket.application_state is not WebSocketState.CONNECTED:
            return
        code = 1001 if self.close_reason == "server shutdown" else 1000
        if self.close_reason == "stalled":
            code = 1008
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await self.websocket.close(code=code, reason=self.close_reason[:120])
        except (TimeoutError, RuntimeError, OSError):
            pass
        except Exception:  # the server's own disconnect error types vary
            logger.debug("%s close failed", self.name, exc_info=True)

    def drop(self, reason: str) -> None:
        """Disconnect this client now (stalled, server shutdown): abort, stop its tasks."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        logger.info("WebSocket %s dropped: %s", self.name, reason)
        if reason == "stalled":
            transport = find_transport(getattr(self.websocket, "_send", None))
            if transport is not None:
                transport.abort()
        if self._sender is not None:
            self._sender.cancel()

    def stalled_for(self, now: float) -> float:
        """Seconds the current send has been blocked (0 when not sending)."""
        started = self.send_started
        return 0.0 if started is None else now - started

    def _report_error(self, what: str) -> None:
        """Count and log an unexpected exception (call from an ``except`` block)."""
        self.errors += 1
        if self._on_error is not None:
            self._on_error()
        logger.exception("WebSocket %s: %s failed", self.name, what)

    async def _send_loop(self) -> None:
        try:
            await self._send_all()
        except _GONE:
            pass  # the peer went; run() notices the finished task and cleans up
        except Exception:
            self._report_error("send")

    async def _send_all(self) -> None:
        outbox = self.outbox
        window = self.batch_window
        while True:
            await outbox.wait()
            if window > 0:
                # Gather what arrives in the window (coalescing repeats) into one burst.
                await asyncio.sleep(window)
            protocol = self._protocol
            transport = getattr(protocol, "transport", None)
            if transport is None or type(transport) is JoinedWrites:
                await self._send_burst(None)
                continue
            joined = JoinedWrites(transport)
            protocol.transport = joined
            try:
                await self._send_burst(joined)
            finally:
                protocol.transport = transport
                joined.flush()
                self.writes += joined.writes

    async def _send_burst(self, joined: JoinedWrites | None) -> None:
        """Send everything queued through the ASGI ``send`` (uvicorn frames each message and
        waits while the socket's buffer is full); with ``joined`` the frames are written
        together, every ``_SENDS_PER_YIELD`` messages and at the end.

        With ``joined`` the messages go straight to uvicorn's ``send``: Starlette's
        ``WebSocket.send`` and the middleware in between only pass ``websocket.send`` messages
        on (after checking the state, done here too), at a few microseconds each.
        """
        outbox = self.outbox
        websocket = self.websocket
        direct = joined is not None and websocket.application_state is WebSocketState.CONNECTED
        send = self._protocol.send if direct else websocket.send
        count = 0
        while (text := outbox.pop()) is not None:
            self.send_started = time.monotonic()
            try:
                await send({"type": "websocket.send", "text": text})
            except OSError:
                if not direct:
                    raise
                websocket.application_state = WebSocketState.DISCONNECTED  # as Starlette does
                raise WebSocketDisconnect(code=1006) from None
            self.send_started = None
            self.sent += 1
            count += 1
            if count % _SENDS_PER_YIELD == 0:
                if joined is not None:
                    joined.flush()
                await asyncio.sleep(0)
        self.last_sent = time.monotonic()

    async def _receive_loop(self) -> None:
        receive = self.websocket.receive
        while True:
            try:
                message = await receive()
            except _GONE:
                return
            if message["type"] == "websocket.disconnect":
                return
            try:
                await self._handler(self, message.get("text", message.get("bytes")))
            except Exception:
                # A bug in handling one message must not end the connection silently.
                self._report_error("handling a message")
                self.reply(_INTERNAL_ERROR)

    def reply(self, text: str) -> None:
        """Queue a reply to this client (ping, error, acknowledgement)."""
        if not self.outbox.put(text):
            self.on_overflow()
            self.outbox.put(text)

    def on_overflow(self) -> None:
        """Make room in a full outbox (the subclass decides what is lost and how it is told)."""
        self.outbox.drop_oldest()

    def stats(self) -> dict[str, Any]:
        """Counters for health and tests."""
        return {
            "client_id": self.client_id,
            "kind": self.kind,
            "queued": len(self.outbox),
            "sent": self.sent,
            "writes": self.writes,
            "coalesced": self.outbox.coalesced,
            "send_blocked_s": round(self.stalled_for(time.monotonic()), 3),
            "errors": self.errors,
            "connected_at": self.connected_at,
        }


class EntityConnection(Connection):
    """A client of ``/ws/entities``: a subscription and a resync when its outbox overflows."""

    kind = "entities"

    def __init__(self, *args: Any, snapshot: Callable[[Subscription], str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.subscription = Subscription()
        self._snapshot = snapshot
        self.resyncs = 0

    def push_update(self, entity_id: str, text: str) -> None:
        """Queue an entity update, replacing a queued update of the same entity."""
        if not self.outbox.put_keyed(entity_id, text):
            self.on_overflow()

    def send_snapshot(self) -> None:
        """Queue a snapshot of the subscription; it supersedes queued updates and snapshots.

        Replies already queued stay, so a client that keeps subscribing without reading holds
        one snapshot, its acknowledgements and at most one update per entity.
        """
        self.outbox.clear_updates()
        if not self.outbox.put_keyed(SNAPSHOT_KEY, self._snapshot(self.subscription)):
            self.on_overflow()

    def on_overflow(self) -> None:
        """A client this far behind gets a fresh snapshot instead of a partial backlog."""
        self.outbox.clear()
        self.resyncs += 1
        self.outbox.put_keyed(SNAPSHOT_KEY, self._snapshot(self.subscription))

    def stats(self) -> dict[str, Any]:
        """Counters for health and tests."""
        return {**super().stats(), "resyncs": self.resyncs}


class SnifferConnection(Connection):
    """A client of ``/ws/can-sniffer``: a filter and a rate cap reported as missed counts."""

    kind = "sniffer"

    def __init__(self, *args: Any, rate_limit: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.filter = SnifferFilter()
        self.rate_limit = rate_limit
        self.window_start = time.monotonic()
        self._window_wall = time.time()
        self._window_count = 0
        self.rate_limited = 0
        self.queue_dropped = 0
        self.missed_total = 0

    def push_frame(self, now: float, text: str) -> None:
        """Queue a frame, or count it as missed beyond the rate cap or a full outbox."""
        if now - self.window_start >= 1.0:
            self.roll_window(now)
        if self._window_count >= self.rate_limit:
            self.rate_limited += 1
            return
        self._window_count += 1
        if not self.outbox.put(text):
            self.on_overflow()
            self.outbox.put(text)

    def on_overflow(self) -> None:
        """Drop the oldest frame and count it."""
        self.outbox.drop_oldest()
        self.queue_dropped += 1

    def roll_window(self, now: float) -> None:
        """Start a new one-second window, first reporting what the last ones missed."""
        if self.rate_limited or self.queue_dropped:
            count = self.rate_limited + self.queue_dropped
            text = messages.encode(
                {
                    "type": "missed",
                    "count": count,
                    "rate_limited": self.rate_limited,
                    "queue_full": self.queue_dropped,
                    "since": self._window_wall,
                    "until": time.time(),
                }
            )
            self.missed_total += count
            self.rate_limited = 0
            self.queue_dropped = 0
            self.reply(text)
        self.window_start = now
        self._window_wall = time.time()
        self._window_count = 0

    def stats(self) -> dict[str, Any]:
        """Counters for health and tests."""
        return {
            **super().stats(),
            "missed": self.missed_total + self.rate_limited + self.queue_dropped,
        }
