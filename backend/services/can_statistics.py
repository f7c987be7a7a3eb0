"""CAN statistics: per-interface rates and bus load, per-DGN and per-source counts.

Everything is bounded: 61 one-second buckets per interface, 256 source addresses, and at most
``max_dgns`` distinct DGNs (further DGNs are counted as overflow, not stored).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from backend.integrations.can.message_factory import frame_bits

WINDOWS = (1, 10, 60)
_BITS = tuple(frame_bits(n) for n in range(65))


class RateWindow:
    """Frames and bits per whole second over the last minute (61 buckets)."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        # each bucket: [second, frames, bits]
        self._buckets: deque[list[int]] = deque(maxlen=61)

    def add(self, second: int, bits: int) -> None:
        """Count one frame of ``bits`` in ``second``."""
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            bucket = buckets[-1]
            bucket[1] += 1
            bucket[2] += bits
        else:
            buckets.append([second, 1, bits])

    def __len__(self) -> int:
        return len(self._buckets)

    def rates(self, now: float, bitrate: int) -> dict[str, dict[str, float]]:
        """Frames/s and bus load % over the last 1, 10 and 60 complete seconds."""
        current = int(now)
        result: dict[str, dict[str, float]] = {}
        for window in WINDOWS:
            frames = bits = 0
            for second, count, nbits in self._buckets:
                if current - window <= second < current:
                    frames += count
                    bits += nbits
            result[f"{window}s"] = {
                "frames_per_second": round(frames / window, 2),
                "bus_load_percent": round(100.0 * bits / window / bitrate, 2),
            }
        return result


class CANStatistics:
    """Counts frames as they pass; ``snapshot`` renders the figures."""

    def __init__(self, max_dgns: int = 1024) -> None:
        self.max_dgns = max_dgns
        self.windows: dict[str, RateWindow] = {}
        self.last_frame: dict[str, float] = {}
        # dgn -> [rx, tx, last_seen, name]
        self.dgns: dict[int, list[Any]] = {}
        self.dgn_overflow = 0
        # source address -> [count, last_seen]; at most 256 entries
        self.sources: dict[int, list[Any]] = {}
        self.decode_errors = 0
        self.unknown_frames = 0

    def record(
        self,
        interface: str,
        direction: str,
        timestamp: float,
        dgn: int,
        source: int,
        dlc: int,
        name: str | None,
    ) -> None:
        """Count one frame (hot path: a few dict lookups and increments)."""
        window = self.windows.get(interface)
        if window is None:
            window = self.windows[interface] = RateWindow()
        second = int(timestamp)
        bits = _BITS[dlc] if dlc < 65 else _BITS[64]
        buckets = window._buckets  # RateWindow.add, inlined (once per frame)
        if buckets and (bucket := buckets[-1])[0] == second:
            bucket[1] += 1
            bucket[2] += bits
        else:
            buckets.append([second, 1, bits])
        self.last_frame[interface] = timestamp
        entry = self.dgns.get(dgn)
        if entry is None:
            if len(self.dgns) >= self.max_dgns:
                self.dgn_overflow += 1
                entry = None
            else:
                entry = self.dgns[dgn] = [0, 0, timestamp, name]
        if entry is not None:
            entry[0 if direction == "rx" else 1] += 1
            entry[2] = timestamp
        if name is None:
            self.unknown_frames += 1
        src = self.sources.get(source)
        if src is None:
            self.sources[source & 0xFF] = [1, timestamp]
        else:
            src[0] += 1
            src[1] = timestamp

    def interface_rates(self, interface: str, bitrate: int, now: float | None = None) -> Any:
        """Rates of one interface (zeros when it has seen nothing)."""
        window = self.windows.get(interface) or RateWindow()
        return window.rates(time.time() if now is None else now, bitrate)

    def per_dgn(self) -> list[dict[str, Any]]:
        """One entry per DGN seen, most frequent first."""
        items = sorted(self.dgns.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
        return [
            {"dgn": f"{dgn:05X}", "name": e[3], "rx": e[0], "tx": e[1], "last_seen": e[2]}
            for dgn, e in items
        ]

    def per_source(self) -> list[dict[str, Any]]:
        """One entry per source address seen, by address."""
        return [
            {"source": src, "count": e[0], "last_seen": e[1]}
            for src, e in sorted(self.sources.items())
        ]
