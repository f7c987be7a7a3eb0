"""Benchmark: how fast the fault history writer stores a burst of DM_RV fault changes.

``--faults`` faults become active and then clear (two ``diagnostic_fault`` messages each, as the
dashboard service sends them) before one write; the write is timed on a SQLite file (WAL) and,
with ``--postgres URL``, on that PostgreSQL database (which should be empty: the table is made
by the migrations). Printed as JSON per database: changes written, seconds, changes per second
and how many were dropped by the bounded queue.

Run from the repository root::

    poetry run python -m benchmarks.fault_history [--faults 500] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from backend.services.database_manager import DatabaseManager
from backend.services.fault_history import FaultHistoryWriter


def _record(n: int, base: float) -> dict[str, Any]:
    source = n % 256
    return {
        "fault_id": f"{source}:{source}:{300 + n}:2",
        "source": source,
        "dsa": source,
        "spn_raw": 300 + n,
        "fmi": 2,
        "occurrence_count": 1,
        "red_lamp": False,
        "yellow_lamp": True,
        "entities": [],
        "first_seen": base + n,
        "last_seen": base + n,
    }


async def run(url: str, faults: int) -> dict[str, Any]:
    """Queue ``faults`` raises and clears, write them at once, and time the write."""
    database = DatabaseManager(url)
    await database.start()
    try:
        await database.upgrade()
        writer = FaultHistoryWriter(database, queue_size=2 * faults, flush_interval=3600)
        await writer.start()
        records = [_record(n, time.time()) for n in range(faults)]
        for record in records:
            writer.on_diagnostic({"type": "diagnostic_fault", "active": True, "fault": record})
        for record in records:
            writer.on_diagnostic({"type": "diagnostic_fault", "active": False, "fault": record})
        started = time.perf_counter()
        written = await writer.flush()
        seconds = time.perf_counter() - started
        await writer.stop()
        return {
            "database": database.backend,
            "changes": written,
            "seconds": round(seconds, 3),
            "changes_per_second": round(written / seconds),
            "dropped": writer.dropped,
        }
    finally:
        await database.close()


def main() -> None:
    """Parse the arguments and print the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=500)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of an empty database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'data' / 'coachiq.sqlite3'}"
        results = [asyncio.run(run(url, args.faults))]
    if args.postgres:
        results.append(asyncio.run(run(args.postgres, args.faults)))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
