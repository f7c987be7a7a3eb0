"""Benchmark: the history writer at a sustained rate of entity state changes on SQLite.

The receive path is the real one: RV-C frames for the default coach mapping's entities are
decoded by the project's Decoder and applied by the EntityManager, whose change listeners get
every state change. A receive loop ticks every ``--tick`` seconds and handles enough frames for
``--rate`` state changes per second. Short phases alternate between a baseline (no listener)
and the HistoryWriter subscribed, writing to a SQLite file (WAL) with the default settings.

Printed as JSON: changes handed to the writer, rows written and dropped, the backlog and the
final drain; the receive loop's latency per tick (from when the tick was due until its frames
were all applied and handed over) with and without the writer, and the CPU time of the loop's
thread per tick, which other processes on the machine do not disturb.

Run from the repository root::

    poetry run python -m benchmarks.history_writer [--rate 2000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from backend.core.coach_mapping import load_mapping, resolve_mapping_path
from backend.core.entity_manager import EntityManager
from backend.integrations.rvc import load_config_data
from backend.services.database_manager import DatabaseManager
from backend.services.history_writer import HistoryWriter
from backend.services.repositories import HistoryRepository


class ReceivePath:
    """Frames -> Decoder -> EntityManager, as the entities feature wires them."""

    def __init__(self, seed: int = 7, pool: int = 50_000):
        config = load_config_data()
        mapping = load_mapping(resolve_mapping_path(None, None), config.spec)
        self.manager = EntityManager(mapping)
        self.decode = config.decoder.decode
        claims = sorted(
            {(b.dgn, b.instance) for e in mapping.entities for b in e.bindings if b.instance}
        )
        rng = random.Random(seed)
        self.frames: list[tuple[int, bytes]] = []
        for _ in range(pool):
            dgn, instance = rng.choice(claims)
            data = bytearray(rng.randbytes(8))
            data[0] = instance
            self.frames.append(((6 << 26) | (dgn << 8) | 0x42, bytes(data)))
        self._next = 0
        self.entities = len(mapping.entities)

    def receive(self, count: int) -> None:
        """Decode and apply the next ``count`` frames."""
        frames, ingest, decode = self.frames, self.manager.ingest, self.decode
        start = self._next
        for i in range(start, start + count):
            can_id, data = frames[i % len(frames)]
            ingest(decode(can_id, data))
        self._next = (start + count) % len(frames)

    def changes_per_frame(self, sample: int = 5000) -> float:
        """Share of frames that change an entity's state (calibrates the frame rate)."""
        before = self.manager.stats["changes"]
        self.receive(sample)
        return (self.manager.stats["changes"] - before) / sample


async def run_phase(
    path: ReceivePath,
    frames_per_tick: int,
    tick: float,
    seconds: float,
    latencies: list[float],
    cpu: list[float],
) -> None:
    """Tick for ``seconds``; append each tick's latency and loop-thread CPU time (ms)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    due = start
    while due - start < seconds:
        due += tick
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        work = time.thread_time()
        path.receive(frames_per_tick)
        cpu.append((time.thread_time() - work) * 1000)
        latencies.append((loop.time() - due) * 1000)


def _other_listener(change: Any) -> None:
    """Stands for the listeners that run with or without persistence."""


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean_ms": round(statistics.fmean(ordered), 4),
        "p50_ms": round(ordered[len(ordered) // 2], 4),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 4),
        "max_ms": round(ordered[-1], 4),
    }


def _rise(base: float, other: float) -> float:
    return round((other - base) / base * 100, 1) if base > 0 else 0.0


async def run(rate: float, seconds: float, phases: int, tick: float) -> dict[str, Any]:
    """Alternate baseline and writer phases; return the report."""
    path = ReceivePath()
    ratio = path.changes_per_frame()
    frames_per_tick = max(1, math.ceil(rate * tick / ratio))
    # Other listeners (the WebSocket fan-out) are subscribed in both modes, so EntityChanges
    # are built either way; what differs is the history writer alone.
    path.manager.add_change_listener(_other_listener)
    with tempfile.TemporaryDirectory() as tmp:
        database = DatabaseManager(f"sqlite+aiosqlite:///{Path(tmp) / 'coachiq.sqlite3'}")
        await database.start()
        await database.upgrade()
        writer = HistoryWriter(database)
        lat = {"baseline": [], "with_writer": []}
        cpu = {"baseline": [], "with_writer": []}
        phase_seconds = seconds / (2 * phases)
        changes_to_writer = 0
        writer.start()
        started = time.perf_counter()
        try:
            for _ in range(phases):
                await run_phase(
                    path, frames_per_tick, tick, phase_seconds, lat["baseline"], cpu["baseline"]
                )
                unsubscribe = path.manager.add_change_listener(writer.on_change)
                before = path.manager.stats["changes"]
                await run_phase(
                    path,
                    frames_per_tick,
                    tick,
                    phase_seconds,
                    lat["with_writer"],
                    cpu["with_writer"],
                )
                changes_to_writer += path.manager.stats["changes"] - before
                unsubscribe()
            backlog = writer.queued
            drain_started = time.perf_counter()
            await writer.stop()
            drain = time.perf_counter() - drain_started
        finally:
            elapsed = time.perf_counter() - started
            async with database.get_session() as session:
                stored = await HistoryRepository(session).count()
            await database.close()
    latency = {mode: _summary(values) for mode, values in lat.items()}
    tick_cpu = {mode: _summary(values) for mode, values in cpu.items()}
    writer_seconds = elapsed / 2
    return {
        "benchmark": "history_writer",
        "database": "sqlite file, WAL, synchronous=NORMAL",
        "entities": path.entities,
        "target_changes_per_second": rate,
        "changes_per_second_to_writer": round(changes_to_writer / writer_seconds, 1),
        "frames_per_tick": frames_per_tick,
        "tick_ms": tick * 1000,
        "seconds": round(elapsed, 2),
        "changes_to_writer": changes_to_writer,
        "rows_in_database": stored,
        "dropped": writer.dropped,
        "failed_writes": writer.failed_writes,
        "backlog_at_end": backlog,
        "final_drain_seconds": round(drain, 3),
        "writer_kept_up": writer.dropped == 0 and stored == changes_to_writer,
        "receive_loop_latency": {
            **latency,
            "mean_rise_percent": _rise(
                latency["baseline"]["mean_ms"], latency["with_writer"]["mean_ms"]
            ),
            "p50_rise_percent": _rise(
                latency["baseline"]["p50_ms"], latency["with_writer"]["p50_ms"]
            ),
        },
        "receive_tick_cpu": {
            **tick_cpu,
            "mean_rise_percent": _rise(
                tick_cpu["baseline"]["mean_ms"], tick_cpu["with_writer"]["mean_ms"]
            ),
        },
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description="History writer benchmark (JSON output).")
    parser.add_argument("--rate", type=float, default=2000.0, help="State changes per second.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Total run time.")
    parser.add_argument("--phases", type=int, default=20, help="Baseline/writer phase pairs.")
    parser.add_argument("--tick", type=float, default=0.005, help="Receive loop period (s).")
    args = parser.parse_args()
    report = asyncio.run(run(args.rate, args.seconds, args.phases, args.tick))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
