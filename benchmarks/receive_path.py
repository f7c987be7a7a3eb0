"""CPU per received frame on the server's processing path, in one process (issue 20).

The application ``coachiq serve`` builds (every feature of feature_flags.yaml, the default coach
mapping, simulator off, a ``virtual`` interface nobody sends on) is started in this process, then
frames of the load generator's mix (``coachiq simulate --load``, ``--buses`` of them) are handed
to the interface's drain in batches of one 20 ms read window, as the socket fast path hands them
over: decode, statistics, sniffer, RV-C node, entities, safety gate, dashboard and WebSocket
fan-out (no client connected). Reading the socket is not included (see docs/performance.md).

Prints one JSON line: ``frames`` per round, ``rounds``, ``us_per_frame_min`` and
``us_per_frame_median`` (this process's CPU time per frame; the minimum is the least disturbed by
other load on the machine) and ``changes`` (entity state changes the rounds made).

Profiling: ``--profile FILE`` writes a cProfile of the rounds to FILE (read it with ``python -m
pstats FILE``); ``--wait FILE`` creates FILE once started, waits until it is deleted, runs the
rounds and then writes FILE again, so that ``valgrind --tool=callgrind --instr-atstart=no`` can
be switched on and off (``callgrind_control -i on|off``) around the rounds only.

Run from the repository root::

    poetry run python benchmarks/receive_path.py [--buses 10] [--frames 20000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WINDOW_FRAMES_PER_BUS = 36  # one 20 ms read window of a full bus (1,800 frames/s)


def _environment() -> None:
    os.environ.update(
        {
            "COACHIQ_CAN__BUSTYPE": "virtual",
            "COACHIQ_CAN__INTERFACES": f"receive-path-{os.getpid()}",
            "COACHIQ_FEATURES__ENABLE_SIMULATOR": "false",
            "COACHIQ_RVC__COACH_MODEL": "default",
            "COACHIQ_LOGGING__LEVEL": "WARNING",
        }
    )


def _handshake(marker: Path, text: str, *, wait: bool) -> None:
    """Write ``marker``; with ``wait`` block (the whole process, on purpose) until it is gone."""
    marker.write_text(text)
    while wait and marker.exists():
        time.sleep(0.1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the app, feed the rounds, measure; the report."""
    _environment()
    from backend.core.config import load_settings
    from backend.integrations.can.fast_rx import FLAG_EXTENDED, RxFrame
    from backend.integrations.rvc import load_config_data
    from backend.main import create_app
    from backend.services.simulator.load import build_pool

    app = create_app(load_settings(env_file=None))
    async with app.router.lifespan_context(app):
        features = app.state.feature_manager
        service = features.get_feature("can").service
        interface = next(iter(service.interface_service.interfaces.values()))
        manager = features.get_feature("entities").entity_manager
        await asyncio.sleep(0.3)  # interface up, address claimed
        now = time.time()
        frames: list[RxFrame] = [
            (can_id, data, now, FLAG_EXTENDED)
            for can_id, data in build_pool(load_config_data().spec, args.buses)
        ]
        batch = WINDOW_FRAMES_PER_BUS * args.buses
        queue: deque[RxFrame] = deque()

        def feed(count: int, start: int = 0) -> None:
            position = start
            for _ in range(0, count, batch):
                for _ in range(batch):
                    queue.append(frames[position % len(frames)])
                    position += 1
                interface._drain(queue)

        feed(args.frames)  # warm-up: caches, every entity seen once
        changes_before = manager.stats["changes"]
        per_frame: list[float] = []
        profile = cProfile.Profile() if args.profile else None
        if args.wait:
            _handshake(Path(args.wait), "started", wait=True)
        for round_ in range(args.rounds):
            if profile is not None:
                profile.enable()
            start = time.process_time()
            feed(args.frames, round_ * args.frames)
            per_frame.append((time.process_time() - start) * 1e6 / args.frames)
            if profile is not None:
                profile.disable()
            await asyncio.sleep(0)  # let the loop run its timers between rounds
        if args.wait:
            _handshake(Path(args.wait), "done", wait=False)
        if profile is not None:
            profile.dump_stats(args.profile)
        return {
            "buses": args.buses,
            "frames": args.frames,
            "rounds": args.rounds,
            "us_per_frame_min": round(min(per_frame), 2),
            "us_per_frame_median": round(statistics.median(per_frame), 2),
            "changes": manager.stats["changes"] - changes_before,
        }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--buses", type=int, default=10, help="Source addresses in the mix.")
    parser.add_argument("--frames", type=int, default=20_000, help="Frames per round.")
    parser.add_argument("--rounds", type=int, default=20, help="Rounds (the minimum is kept).")
    parser.add_argument("--profile", metavar="FILE", help="Write a cProfile of the rounds.")
    parser.add_argument("--wait", metavar="FILE", help="Handshake file for callgrind_control.")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
