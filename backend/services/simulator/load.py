"""The load generator: N fully loaded 250 kbit/s buses of realistic RV-C traffic, paced evenly.

A pool of frames is built once from the status DGNs a coach broadcasts most (each in several
value variants, so entities keep changing, and with one source address per simulated bus);
sending is then a loop over pre-built messages, a batch per 5 ms tick, with the number due
computed from the monotonic clock so the rate holds however long a tick takes. On
``udp_multicast`` the datagrams are packed once as well.

With ``probe_rate`` some of those frames are *probes*: SOLAR_CONTROLLER_STATUS instance 1 (the
default mapping's ``solar_controller.roof``) carrying the wall-clock send time in its voltage and
current fields, so that a client that sees the entity change knows when its frame was sent
(receivers replace frame timestamps with their own receive time). See :func:`probe_sent_at`.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import can

from backend.integrations.rvc.encoder import Encoder
from backend.integrations.rvc.spec import RVCSpec

FRAMES_PER_BUS = 1800  # about 97 % of a 250 kbit/s bus with 8-byte extended frames
TICK = 0.005
VARIANTS = 8

PROBE_DGN = "SOLAR_CONTROLLER_STATUS"
PROBE_INSTANCE = 1
PROBE_SOURCE = 160  # the default mapping's solar controller
PROBE_ENTITY = "solar_controller.roof"
_PROBE_UNITS = 10_000  # the send time in units of 0.1 ms
_PROBE_SPAN = 64_000  # raw values per 16-bit field, below RV-C's special values (0xFB00+)
_PROBE_PERIOD = _PROBE_SPAN * _PROBE_SPAN  # 4.7 days of 0.1 ms: no ambiguity for a latency

# (DGN name, instance, relative weight): the mix of a busy coach's status traffic.
MIX: tuple[tuple[str, int | None, int], ...] = (
    ("DC_SOURCE_STATUS_1", 1, 8),
    ("DC_SOURCE_STATUS_2", 1, 4),
    ("DC_SOURCE_STATUS_1", 2, 4),
    ("INVERTER_AC_STATUS_1", 1, 10),
    ("CHARGER_AC_STATUS_1", 1, 8),
    ("ATS_AC_STATUS_1", 1, 8),
    ("GENERATOR_AC_STATUS_1", 1, 6),
    ("INVERTER_STATUS", 1, 4),
    ("CHARGER_STATUS", 1, 4),
    ("DC_DIMMER_STATUS_3", 1, 6),
    ("DC_DIMMER_STATUS_3", 2, 6),
    ("DC_DIMMER_STATUS_3", 3, 6),
    ("DC_LOAD_STATUS", 10, 3),
    ("TANK_STATUS", 0, 3),
    ("TANK_STATUS", 2, 3),
    ("THERMOSTAT_STATUS_1", 1, 3),
    ("THERMOSTAT_AMBIENT_STATUS", 1, 3),
    ("AIR_CONDITIONER_STATUS", 1, 3),
    ("GENERATOR_STATUS_1", None, 2),
    ("GENERATOR_STATUS_2", None, 2),
    ("SLIDE_STATUS", 1, 3),
    ("AWNING_STATUS", 1, 3),
    ("DATE_TIME_STATUS", None, 1),
    ("WATERHEATER_STATUS", 1, 2),
)


def build_pool(spec: RVCSpec, buses: int, source_base: int = 0xB0) -> list[tuple[int, bytes]]:
    """Frames of the mix, weighted, in VARIANTS value variants, one source address per bus."""
    encoder = Encoder(spec)
    pool: list[tuple[int, bytes]] = []
    for bus in range(max(1, buses)):
        for name, instance, weight in MIX:
            definition = encoder.definition(name)
            inst = instance if definition.instance else None
            can_id, data = encoder.encode(name, {}, instance=inst, source_address=source_base + bus)
            # Vary the first value byte after the instance: a state change for every frame.
            index = 1 if inst is not None else 0
            for variant in range(VARIANTS):
                frame = bytearray(data[:8].ljust(8, b"\xff"))
                frame[index] = (variant * 23) % 200
                for _ in range(weight):
                    pool.append((can_id, bytes(frame)))
    # Interleave (a fixed shuffle) so that consecutive frames differ, as on a real bus.
    random.Random(0).shuffle(pool)
    return pool


def probe_frame(spec: RVCSpec, sent_at: float) -> tuple[int, bytes]:
    """A probe: ``sent_at`` (epoch seconds) in charge_voltage (low) and charge_current (high)."""
    can_id, _ = Encoder(spec).encode(
        PROBE_DGN, {}, instance=PROBE_INSTANCE, source_address=PROBE_SOURCE
    )
    return can_id, _probe_data(sent_at)


def _probe_data(sent_at: float) -> bytes:
    code = int(sent_at * _PROBE_UNITS) % _PROBE_PERIOD
    high, low = divmod(code, _PROBE_SPAN)
    return bytes((PROBE_INSTANCE, low & 0xFF, low >> 8, high & 0xFF, high >> 8, 0xFF, 0xFF, 0xFF))


def probe_sent_at(state: dict[str, Any], received_at: float) -> float | None:
    """When the probe shown in ``state`` (``voltage``, ``current``) was sent; None if not one.

    ``received_at`` (epoch seconds, after the send) resolves the code's 4.7-day period.
    """
    voltage, current = state.get("voltage"), state.get("current")
    if not isinstance(voltage, int | float) or not isinstance(current, int | float):
        return None
    low = round(voltage / 0.05)
    high = round((current + 1600) / 0.05)
    if not (0 <= low < _PROBE_SPAN and 0 <= high < _PROBE_SPAN):
        return None
    code = high * _PROBE_SPAN + low
    now = int(received_at * _PROBE_UNITS)
    return (now - (now - code) % _PROBE_PERIOD) / _PROBE_UNITS


@dataclass(slots=True)
class LoadReport:
    """What the load generator sent."""

    buses: int
    rate: float
    seconds: float = 0.0
    sent: int = 0
    probes: int = 0
    errors: int = 0
    max_lag_ms: float = 0.0
    by_dgn: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "buses": self.buses,
            "target_fps": self.rate,
            "seconds": round(self.seconds, 3),
            "sent": self.sent,
            "probes": self.probes,
            "errors": self.errors,
            "achieved_fps": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
            "max_lag_ms": round(self.max_lag_ms, 2),
            "by_dgn": dict(self.by_dgn.most_common()),
        }


def _fast_sender(bus: can.BusABC, frames: list[tuple[int, bytes]]) -> Callable[[int], None]:
    """A send(index) function; on udp_multicast the datagrams are packed once."""
    messages = [can.Message(arbitration_id=i, data=d, is_extended_id=True) for i, d in frames]
    multicast = getattr(bus, "_multicast", None)
    if multicast is not None and hasattr(multicast, "send"):
        from can.interfaces.udp_multicast.utils import pack_message

        packed = [pack_message(m) for m in messages]
        send_raw = multicast.send
        return lambda index: send_raw(packed[index])
    send = bus.send
    return lambda index: send(messages[index])


def _frame_sender(bus: can.BusABC) -> Callable[[int, bytes], None]:
    """A send(can_id, data) function for frames built on the fly."""
    multicast = getattr(bus, "_multicast", None)
    if multicast is not None and hasattr(multicast, "send"):
        from can.interfaces.udp_multicast.utils import pack_message

        send_raw = multicast.send
        return lambda can_id, data: send_raw(
            pack_message(can.Message(arbitration_id=can_id, data=data, is_extended_id=True))
        )
    send = bus.send
    return lambda can_id, data: send(
        can.Message(arbitration_id=can_id, data=data, is_extended_id=True)
    )


def run_load(
    bus: can.BusABC,
    spec: RVCSpec,
    buses: int,
    seconds: float | None,
    *,
    stop: Callable[[], bool] = lambda: False,
    progress: Callable[[LoadReport], None] | None = None,
    probe_rate: float = 0.0,
) -> LoadReport:
    """Send ``buses`` x 1,800 frames/s for ``seconds`` (None: until ``stop()``); blocking.

    ``probe_rate`` (per second) of those frames are probes (:func:`probe_frame`).
    """
    frames = build_pool(spec, buses)
    send = _fast_sender(bus, frames)
    send_frame = _frame_sender(bus)
    probe_id, _ = probe_frame(spec, 0.0)
    names = [spec.get((i >> 8) & 0x1FFFF) for i, _ in frames]
    report = LoadReport(buses, float(FRAMES_PER_BUS * buses))
    counts = [0] * len(frames)
    cycle: Iterator[int] = itertools.cycle(range(len(frames)))
    rate = report.rate
    probe_every = max(1, round(rate / probe_rate)) if probe_rate > 0 else 0
    start = time.monotonic()
    next_tick = start
    next_report = start + 1.0
    while not stop():
        now = time.monotonic()
        elapsed = now - start
        if seconds is not None and elapsed >= seconds:
            elapsed = seconds  # send what was due up to the end, then stop
        report.max_lag_ms = max(report.max_lag_ms, (now - next_tick) * 1000)
        due = int(rate * elapsed) - report.sent
        for _ in range(due):
            if probe_every and report.sent % probe_every == 0:
                try:
                    send_frame(probe_id, _probe_data(time.time()))
                except (can.CanError, OSError):
                    report.errors += 1
                    continue
                report.probes += 1
                report.sent += 1
                continue
            index = next(cycle)
            try:
                send(index)
            except (can.CanError, OSError):
                report.errors += 1
                continue
            counts[index] += 1
            report.sent += 1
        if progress is not None and now >= next_report:
            report.seconds = elapsed
            progress(report)
            next_report += 1.0
        if seconds is not None and elapsed >= seconds:
            break
        next_tick += TICK
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_tick = time.monotonic()
    report.seconds = time.monotonic() - start
    for index, count in enumerate(counts):
        definition = names[index]
        if count and definition is not None:
            report.by_dgn[definition.name] += count
    return report
