"""Record then decode then replay a short capture of the simulated coach."""

from __future__ import annotations

import asyncio
from pathlib import Path

import can

from backend.integrations.rvc.decoder import Decoder
from backend.services.simulator.canlog import read_frames, record, replay
from tests.simulator.conftest import Bench


async def test_record_decode_replay_round_trip(
    bench: Bench, tmp_path: Path, decoder: Decoder
) -> None:
    path = tmp_path / "coach.log"
    channel = bench.coach.channels[0]
    recorder = can.Bus(interface="virtual", channel=channel)
    try:
        with path.open("w", encoding="ascii") as out:
            count = await asyncio.to_thread(record, recorder, out, "can0", duration=1.5)
    finally:
        recorder.shutdown()
    assert count > 20
    first = path.read_text().splitlines()[0]
    assert first.startswith("(") and " can0 " in first and "#" in first

    frames = read_frames(path)
    assert len(frames) == count
    names = {decoder.decode(m.arbitration_id, bytes(m.data)).name for m in frames}
    assert {"DC_DIMMER_STATUS_3", "TANK_STATUS", "DC_SOURCE_STATUS_1"} <= names

    target = can.Bus(interface="virtual", channel="replay-target")
    listener = can.Bus(interface="virtual", channel="replay-target")
    try:
        sent = await asyncio.to_thread(replay, target, frames, speed=5.0)
        received = []
        while (msg := listener.recv(0.2)) is not None:
            received.append((msg.arbitration_id, bytes(msg.data)))
    finally:
        target.shutdown()
        listener.shutdown()
    assert sent == count
    assert received == [(m.arbitration_id, bytes(m.data)) for m in frames]
