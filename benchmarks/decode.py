"""Decode throughput: CoachIQ's RV-C decoder against cantools on the same specification.

Run from the repository root::

    poetry run python benchmarks/decode.py [--frames 20000] [--repeat 15]

Prints one JSON line: ``frames``; ``ns_per_frame``, the comparable figure: ``Decoder.decode``
(id parsing, DGN lookup, every signal decoded, special values and labels applied) and reading
the message's ``signals`` dict, which is what a user of the API gets; ``ns_per_frame_values_only``
(``Decoder.decode`` without touching ``.signals``; since the decoders build the dict directly this
is the same work, kept to show that nothing is deferred); ``cantools_ns_per_frame``
(``get_message_by_frame_id(id).decode(data)`` with choices and scaling, which returns its dict;
``decode_message`` would ignore the J1939 frame id mask; the database built in memory from the
same ``config/rvc.json``); and ``speedup``, cantools' figure over ``ns_per_frame``. Best of
``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cantools.database.can import Database, Message, Signal
from cantools.database.conversion import BaseConversion

from backend.integrations.rvc import RVCSpec, load_config_data

# (name, share of the traffic): the status DGNs a coach broadcasts most; lights and tanks lead.
MIX: dict[str, int] = {
    "DC_DIMMER_STATUS_3": 12,
    "TANK_STATUS": 4,
    "DC_SOURCE_STATUS_1": 3,
    "DC_SOURCE_STATUS_2": 3,
    "THERMOSTAT_STATUS_1": 2,
    "AIR_CONDITIONER_STATUS": 2,
    "INVERTER_AC_STATUS_1": 2,
    "CHARGER_AC_STATUS_1": 2,
    "CHARGER_STATUS": 1,
    "INVERTER_STATUS": 1,
    "GENERATOR_STATUS_1": 1,
    "DATE_TIME_STATUS": 1,
    "WATER_PUMP_STATUS": 1,
    "FURNACE_STATUS": 1,
    "ROOF_FAN_STATUS_1": 1,
    "DC_LOAD_STATUS": 2,
    "DM_RV": 2,
}

# Real frames (source, DGN, payload) with known meaning; the rest of the mix is seeded random.
REAL: list[tuple[int, str]] = [
    (0x19FFFD42, "0164020100943577"),
    (0x19FFDC5D, "005E010000FFFFFF"),
    (0x19FFCA42, "013809FFFF0D1EFF"),
    (0x19FFD742, "413809FFFF0D1EFF"),
    (0x19FFFF5D, "000603010E2038FF"),
    (0x19FFBF5D, "DBFF0060000BFFFF"),
    (0x19FEBD42, "01C026C026FFFFFF"),
]


def build_frames(spec: RVCSpec, count: int, seed: int = 7) -> list[tuple[int, bytes]]:
    """A shuffled list of ``count`` frames drawn from the mix."""
    rng = random.Random(seed)
    pool: list[tuple[int, bytes]] = [(cid, bytes.fromhex(h)) for cid, h in REAL]
    for name, share in MIX.items():
        definition = spec.by_name[name]
        for i in range(share * 4):
            source = rng.choice((0x42, 0x5D, 0x80, 0x9F, 0xA0))
            data = bytearray(rng.randbytes(8))
            data[0] = 1 + i % 12  # instance
            if rng.random() < 0.5:
                data[6:8] = b"\xff\xff"  # trailing "not available" fields, as devices send them
            can_id = (6 << 26) | (definition.dgn << 8) | source
            pool.append((can_id, bytes(data)))
    return [rng.choice(pool) for _ in range(count)]


def build_cantools_db(spec: RVCSpec) -> Database:
    """A cantools database with every single-frame DGN of ``spec``, integer fields only."""
    messages = []
    for definition in spec.by_dgn.values():
        if definition.multi_packet or definition.pdu1:
            continue
        signals = []
        for f in definition.fields:
            if not f.is_int or f.width is None or f.start + f.width > 64:
                continue
            conv = f.conversion
            scale = getattr(conv, "scale", None)
            if scale is None:
                n = getattr(conv, "n", 1)
                scale, offset = 1 / n, getattr(conv, "k", 0) / n
            else:
                offset = getattr(conv, "offset", 0)
            if type(conv).__name__ == "IntOffset":
                scale, offset = 1, conv.offset  # type: ignore[union-attr]
            choices = dict(f.labels) or None
            signals.append(
                Signal(
                    f.name,
                    f.start,
                    f.width,
                    byte_order="little_endian",
                    conversion=BaseConversion.factory(scale, offset, choices),  # type: ignore[arg-type]
                    unit=f.unit,
                )
            )
        messages.append(
            Message(
                definition.dgn << 8,
                definition.name,
                8,
                signals,
                is_extended_frame=True,
                strict=False,
            )
        )
    return Database(messages, frame_id_mask=0x1FFFF00, strict=False)


def best_ns(runs: dict[str, Callable[[], None]], frames: int, repeat: int) -> dict[str, float]:
    """Best wall time of ``repeat`` rounds per run, in ns per frame.

    The runs alternate within each round so that they share whatever else the machine is doing;
    the garbage collector is paused while timing, as ``timeit`` does.
    """
    best = dict.fromkeys(runs, float("inf"))
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for name, run in runs.items():
                start = time.perf_counter_ns()
                run()
                best[name] = min(best[name], time.perf_counter_ns() - start)
    finally:
        if enabled:
            gc.enable()
    return {name: ns / frames for name, ns in best.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description="RV-C decode benchmark against cantools")
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    config = load_config_data()
    frames = build_frames(config.spec, args.frames)
    db = build_cantools_db(config.spec)
    decode = config.decoder.decode
    by_id = db.get_message_by_frame_id  # applies the frame id mask (decode_message does not)

    def ours() -> None:
        for can_id, data in frames:
            decode(can_id, data).signals  # noqa: B018 - the dict a user reads is measured

    def ours_values_only() -> None:
        for can_id, data in frames:
            decode(can_id, data)

    def theirs() -> None:
        for can_id, data in frames:
            by_id(can_id).decode(data)

    ours()  # warm the id cache, as a running server has
    theirs()
    best = best_ns(
        {"ours": ours, "ours_values_only": ours_values_only, "cantools": theirs},
        len(frames),
        args.repeat,
    )
    ns, cantools_ns = best["ours"], best["cantools"]
    print(
        json.dumps(
            {
                "frames": len(frames),
                "ns_per_frame": round(ns, 1),
                "ns_per_frame_values_only": round(best["ours_values_only"], 1),
                "cantools_ns_per_frame": round(cantools_ns, 1),
                "speedup": round(cantools_ns / ns, 2),
                "python": sys.version.split()[0],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
