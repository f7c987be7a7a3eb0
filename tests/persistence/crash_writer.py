"""Subprocess of test_crash: writes history as fast as it can until it is killed.

Usage: python -m tests.persistence.crash_writer SQLITE_URL. Prints ``ready`` once rows are
committed, then keeps writing. Entity ``e<k>`` gets brightness 0, 1, 2, ... in order.
"""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace

from backend.services.database_manager import DatabaseManager
from backend.services.history_writer import HistoryWriter

ENTITIES = 20


async def main(url: str) -> None:
    database = DatabaseManager(url)
    await database.start()
    await database.upgrade()
    writer = HistoryWriter(database, queue_size=100_000, batch_size=200, flush_interval=0.005)
    writer.start()
    announced = False
    step = 0
    while True:
        for k in range(ENTITIES):
            state = {"brightness": step}
            writer.on_change(
                SimpleNamespace(
                    entity_id=f"e{k}",
                    entity_type="light",
                    area=None,
                    state=state,
                    available=True,
                    last_updated=1e9 + step,
                    restored=False,
                )
            )
        step += 1
        if not announced and writer.written >= 400:
            print("ready", flush=True)
            announced = True
        await asyncio.sleep(0.0005)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
