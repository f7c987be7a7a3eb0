"""Login throttling per client address: after a few failures, a delay that doubles."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginLimiter:
    """Count failed logins per address; beyond ``free`` failures each try waits 2**n seconds.

    The table is bounded (``max_addresses``, least recently failed dropped and counted), so a
    flood of addresses cannot grow it.
    """

    def __init__(
        self,
        *,
        free: int = 5,
        max_delay: float = 300.0,
        forget_after: float = 3600.0,
        max_addresses: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.free = free
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self.stats = {"failed": 0, "throttled": 0, "succeeded": 0, "dropped": 0}

    def _delay(self, count: int) -> float:
        if count < self.free:
            return 0.0
        return min(2.0 ** (count - self.free + 1), self.max_delay)

    def retry_after(self, address: str) -> float:
        """Seconds ``address`` must still wait before its next try (0: it may try now)."""
        entry = self._failures.get(address)
        if entry is None:
            return 0.0
        now = self._clock()
        if now - entry.last > self.forget_after:
            del self._failures[address]
            return 0.0
        return max(0.0, entry.last + self._delay(entry.count) - now)

    def throttled(self, address: str) -> float:
        """Like :meth:`retry_after`, counting a refused try."""
        wait = self.retry_after(address)
        if wait > 0:
            self.stats["throttled"] += 1
        return wait

    def failed(self, address: str) -> None:
        """Count a failed try from ``address``."""
        self.stats["failed"] += 1
        entry = self._failures.pop(address, None) or _Failures(0, 0.0)
        entry.count += 1
        entry.last = self._clock()
        self._failures[address] = entry
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)
            self.stats["dropped"] += 1

    def succeeded(self, address: str) -> None:
        """Forget the failures of ``address``."""
        self.stats["succeeded"] += 1
        self._failures.pop(address, None)
