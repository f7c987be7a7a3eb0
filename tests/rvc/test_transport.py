"""Multi-packet transfer (3.2.7): reassembly, lost/repeated packets, timeouts, bounds."""

from __future__ import annotations

from backend.integrations.rvc import Reassembler, RVCConfig, packetize
from tests.rvc.conftest import frame

PRODUCT_ID_TEXT = b"ACME*QX-125*A4323443*"  # the spec's example (3.2.8)
# INITIAL_PACKET (BAM) from 0x42: 21 bytes, 3 packets, DGN 0FEEB; then 3 DATA_PACKETs
PRODUCT_ID_FRAMES = [
    (0x18ECFF42, frame("20150003FFEBFE00")),
    (0x18EBFF42, frame("01 41 43 4D 45 2A 51 58")),  # ACME*QX
    (0x18EBFF42, frame("02 2D 31 32 35 2A 41 34")),  # -125*A4
    (0x18EBFF42, frame("03 33 32 33 34 34 33 2A")),  # 323443*
]


def feed_all(r: Reassembler, frames: list[tuple[int, bytes]], t0: float = 0.0, gap: float = 0.05):
    done = []
    for i, (can_id, data) in enumerate(frames):
        result = r.feed(can_id, data, t0 + i * gap)
        if result is not None:
            done.append(result)
    return done


def test_product_id_reassembled_and_decoded(rvc: RVCConfig) -> None:
    r = Reassembler()
    [message] = feed_all(r, PRODUCT_ID_FRAMES)
    assert message.data == PRODUCT_ID_TEXT
    assert message.dgn == 0x0FEEB
    assert message.packets == 3
    decoded = rvc.decode(message.can_id, message.data)
    assert decoded.name == "PRODUCT_ID"
    assert decoded.source == 0x42
    s = decoded.signals
    assert (s["make"], s["model"], s["serial_number"], s["unit_number"]) == (
        "ACME",
        "QX-125",
        "A4323443",
        None,
    )
    assert r.counters["completed"] == 1
    assert r.active_sessions == 0
    assert r.buffered_bytes == 0


def test_short_product_id_in_one_frame(rvc: RVCConfig) -> None:
    s = rvc.decode(0x18FEEB42, b"A*B*C*D").signals
    assert (s["make"], s["model"], s["serial_number"], s["unit_number"]) == ("A", "B", "C", "D")
    assert rvc.decode(0x18FEEB42, b"***").signals["make"] is None


def test_lost_packet_drops_the_message() -> None:
    r = Reassembler()
    frames = [PRODUCT_ID_FRAMES[0], PRODUCT_ID_FRAMES[1], PRODUCT_ID_FRAMES[3]]
    assert feed_all(r, frames) == []
    assert r.counters["out_of_order"] == 1
    assert r.active_sessions == 0


def test_repeated_packet_is_ignored() -> None:
    r = Reassembler()
    frames = [*PRODUCT_ID_FRAMES[:2], PRODUCT_ID_FRAMES[1], *PRODUCT_ID_FRAMES[2:]]
    [message] = feed_all(r, frames)
    assert message.data == PRODUCT_ID_TEXT
    assert r.counters["duplicates"] == 1


def test_timeout_between_packets() -> None:
    r = Reassembler(timeout_s=0.5)
    r.feed(*PRODUCT_ID_FRAMES[0], 0.0)
    r.feed(*PRODUCT_ID_FRAMES[1], 0.05)
    assert r.feed(*PRODUCT_ID_FRAMES[2], 0.8) is None  # 750 ms gap > 500 ms
    assert r.counters["timeouts"] == 1
    assert r.feed(*PRODUCT_ID_FRAMES[3], 0.85) is None
    assert r.active_sessions == 0


def test_expire_sweeps_idle_sessions() -> None:
    r = Reassembler(timeout_s=0.5)
    r.feed(*PRODUCT_ID_FRAMES[0], 10.0)
    assert r.expire(10.2) == 0
    assert r.expire(11.0) == 1
    assert r.active_sessions == 0


def test_several_sources_interleaved() -> None:
    r = Reassembler()
    other = [((cid & ~0xFF) | 0x43, data) for cid, data in PRODUCT_ID_FRAMES]
    interleaved = [f for pair in zip(PRODUCT_ID_FRAMES, other, strict=True) for f in pair]
    done = feed_all(r, interleaved, gap=0.01)
    assert sorted(m.can_id & 0xFF for m in done) == [0x42, 0x43]
    assert all(m.data == PRODUCT_ID_TEXT for m in done)


def test_sessions_are_bounded() -> None:
    r = Reassembler(max_sessions=2)
    for source in (1, 2, 3):
        r.feed(0x18ECFF00 | source, PRODUCT_ID_FRAMES[0][1], source / 100)
    assert r.active_sessions == 2
    assert r.counters["evicted"] == 1
    r2 = Reassembler(max_bytes=30)
    r2.feed(0x18ECFF01, PRODUCT_ID_FRAMES[0][1], 0.0)
    r2.feed(0x18ECFF02, PRODUCT_ID_FRAMES[0][1], 0.0)
    assert r2.buffered_bytes <= 30


def test_invalid_and_orphan_packets() -> None:
    r = Reassembler()
    assert r.feed(0x18EBFF42, frame("01FFFFFFFFFFFFFF"), 0.0) is None
    assert r.counters["orphans"] == 1
    r.feed(0x18ECFF42, frame("2000080100EBFE00"), 0.0)  # 2048 bytes > 1785
    r.feed(0x18ECFF42, frame("2015000100EBFE00"), 0.0)  # 21 bytes cannot fit 1 packet
    assert r.counters["invalid"] == 2
    r.feed(0x18ECFF42, frame("1015000300EBFE00"), 0.0)  # RTS: not used by RV-C
    assert r.counters["ignored"] == 1


def test_packetize_round_trip(rvc: RVCConfig) -> None:
    frames = packetize(0x18FEEB42, PRODUCT_ID_TEXT)
    assert frames[0] == PRODUCT_ID_FRAMES[0]
    assert frames[1:] == PRODUCT_ID_FRAMES[1:]
    [message] = feed_all(Reassembler(), frames)
    assert message.can_id == 0x18FEEB42


def test_dm_rv_multi_packet_with_two_dtcs(rvc: RVCConfig) -> None:
    # deprecated form (table 3.2.5.10): status, DSA, then 5 bytes per fault
    payload = frame("05A0 0103C0 01 FF  0004A5 7F FF")
    frames = packetize(0x19FECA42, payload)
    [message] = feed_all(Reassembler(), frames)
    decoded = rvc.decode(message.can_id, message.data)
    assert decoded.name == "DM_RV"
    assert decoded.signals["dsa"] == 0xA0
    assert decoded.signals["dtcs"] == [
        {"spn": 0x081E, "fmi": 0, "occurrence_count": 1, "dsa_extension": None},
        {
            "spn": (0x00 << 11) | (0x04 << 3) | 0b101,
            "fmi": 5,
            "occurrence_count": None,
            "dsa_extension": None,
        },
    ]
    assert decoded.signals["bank_select"] is None
