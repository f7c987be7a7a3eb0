"""Memory stays bounded: after 200,000 frames every buffer is at or under its cap."""

from __future__ import annotations

import asyncio
import time
from collections import deque

import can

from backend.integrations.can.fast_rx import RxFrame
from backend.integrations.can.manager import BatchingReceiver
from backend.integrations.rvc import decoder as rvc_decoder
from backend.integrations.rvc.loader import load_config_data
from tests.can.conftest import can_settings, unique_channel, wait_for

FRAMES = 200_000


async def test_200000_frames_leave_every_buffer_at_or_under_its_cap(make_service) -> None:
    channel = unique_channel()
    # The settings say the bus echoes our frames (as udp_multicast does) but this bus never does:
    # every frame sent leaves an entry in the echo table, the worst case for its bound.
    service = await make_service(
        can_settings(
            interfaces=[channel],
            pending_timeout=0.5,
            bus_options={"receive_own_messages": True},
        ),
        bus_factories={channel: lambda: can.Bus(interface="virtual", channel=channel)},
    )
    await wait_for(lambda: service.interfaces_status()[0]["address_claim"] == "claimed")
    await asyncio.sleep(0.05)
    before = sum(s["count"] for s in service.statistics()["sources"])
    seen = 0

    def listener(event) -> None:
        nonlocal seen
        seen += 1

    service.add_listener(listener)
    start = time.time()
    any_ids: set[int] = set()
    t0 = time.perf_counter()
    for i in range(FRAMES):
        ts = start + i * 0.001  # 200 s of traffic at 1000 frames/s
        source = i & 0xFF
        if i % 50 == 0:
            # a command CoachIQ sends (never answered: every one expires or is evicted)
            data = bytes([i & 0x7F, 0xFF, 0xC8, 0, 0xFF, 0, 0xFF, 0xFF])
            event = service.process_frame(channel, 0x19FEDB00 | source, data, "tx", ts)
            service.groups.register(event, entity_id=f"light.{i}", now=ts)
            service.groups.expire(ts)
        elif i % 7 == 0:
            # any DGN at all, including unknown ones (bounded per-DGN table)
            any_id = 0x18000000 | (i * 2654435761) & 0x1FFFF00
            any_ids.add(any_id)
            service.process_frame(channel, any_id, bytes(8), "rx", ts)
        elif i % 97 == 0:
            # INITIAL_PACKETs that never complete: reassembly sessions stay bounded
            initial = bytes([0x20, 100, 0, 15, 0xFF, 0xEB, 0xFE, 0x00])
            service.process_frame(channel, 0x18ECFF00 | source, initial, "rx", ts)
        else:
            data = bytes([1, 0x64, 2, 1, 0, 0x94, 0x35, 0x77])
            service.process_frame(channel, 0x19FFFD00 | source, data, "rx", ts)
    elapsed = time.perf_counter() - t0

    assert seen == FRAMES
    # What a user sees: the sniffer holds the newest 1000 frames, newest first.
    records = service.sniffer_records(1000)
    assert len(records) == 1000
    assert records[0]["timestamp"] == start + (FRAMES - 1) * 0.001
    assert len(service.sniffer_records(5000)) == 1000
    stats = service.statistics()
    assert sum(s["count"] for s in stats["sources"]) == before + FRAMES
    assert len(stats["sources"]) == 256
    # Every buffer, by length.
    assert len(service.sniffer.frames) == service.settings.sniffer_size == 1000
    assert len(service.groups.groups) <= service.settings.group_size == 500
    assert len(service.groups.pending) <= 256
    assert len(service.stats.dgns) <= service.stats.max_dgns
    assert service.stats.dgn_overflow > 0
    assert len(service.stats.sources) <= 256
    assert all(len(window) <= 61 for window in service.stats.windows.values())
    for reassembler in service._reassemblers.values():
        assert reassembler.active_sessions <= reassembler.max_sessions
        assert reassembler.buffered_bytes <= reassembler.max_bytes
    interface = service.interface_service.get(channel)
    assert interface.tx_queue_length <= interface.tx_queue_size
    # The decoder's id -> frame decoder cache: more distinct ids went through than it holds.
    decoder = load_config_data().decoder
    assert len(any_ids) > rvc_decoder._ID_CACHE_MAX
    assert len(decoder._ids) <= rvc_decoder._ID_CACHE_MAX
    # The echo table: three times its cap of frames sent, none echoed back.
    cap = interface._echo_times.maxlen
    assert cap == 4 * interface.tx_queue_size
    sent_before = interface.counters.tx
    for batch in range(3 * cap // 128):
        for k in range(128):
            await service.send_can_message(0x19FEDB9F, (batch * 128 + k).to_bytes(8, "big"))
        await wait_for(lambda: interface.tx_queue_length == 0)
    await wait_for(lambda: interface.counters.tx - sent_before >= 3 * cap)
    assert interface.counters.echo_suppressed == 0
    assert len(interface._echo_times) <= cap
    assert len(interface._echo) <= cap
    print(f"\n{FRAMES} frames through process_frame: {elapsed * 1e6 / FRAMES:.1f} us/frame")


async def test_receive_queue_drops_the_oldest_and_counts() -> None:
    loop = asyncio.get_running_loop()
    drops = 0
    processed: list[int] = []

    def on_drop() -> None:
        nonlocal drops
        drops += 1

    def drain(queue: deque[RxFrame]) -> None:
        while queue:
            processed.append(queue.popleft()[0])

    receiver = BatchingReceiver(loop, 1000, drain, on_drop, lambda exc: None)
    for i in range(5000):  # a burst faster than the loop can take it
        receiver.on_message_received(can.Message(arbitration_id=i, data=b""))
    assert len(receiver.queue) == 1000
    assert drops == 4000
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert processed == list(range(4000, 5000))  # the newest were kept
    assert len(receiver.queue) == 0
