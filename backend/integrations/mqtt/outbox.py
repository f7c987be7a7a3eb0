"""The bridge's bounded outbound queue: one slot per key, the newest payload wins.

A state topic's key is its topic, so a burst of changes of one entity while the broker is slow
or absent leaves one message, the newest. When the queue is full the oldest message is dropped
and counted; nothing the CAN path does ever waits on the broker.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish."""

    topic: str
    payload: str
    retain: bool


class Outbox:
    """Bounded, per-key coalescing FIFO of outgoing messages."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, Outgoing] = OrderedDict()
        self._ready = asyncio.Event()
        self._unique = itertools.count()
        self.queued = 0
        self.coalesced = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Outgoing, *, key: str | None = None) -> None:
        """Queue ``message``; one with the same ``key`` is replaced (and keeps its place)."""
        self.queued += 1
        if key is None:
            key = f"#{next(self._unique)}"
        elif key in self._items:
            self._items[key] = message
            self.coalesced += 1
            return
        if len(self._items) >= self.maxsize:
            self._items.popitem(last=False)
            self.dropped += 1
        self._items[key] = message
        self._ready.set()

    async def get(self) -> Outgoing:
        """The oldest queued message, waiting for one."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        _, message = self._items.popitem(last=False)
        return message
