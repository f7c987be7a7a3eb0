"""Per-client command rate limit: a token bucket per client, bounded in number of clients."""

from __future__ import annotations

from collections import OrderedDict

MAX_CLIENTS = 1024


class RateLimiter:
    """``rate`` commands per second per client, with bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.refused = 0
        self.evicted = 0

    def allow(self, client: str, now: float) -> bool:
        """Take one token of ``client``'s bucket; False (and counted) when it is empty."""
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        else:
            self.refused += 1
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
            self.evicted += 1
        return ok
