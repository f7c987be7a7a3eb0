"""Listen to each configured interface for a few seconds, as a separate node would.

The doctor opens the buses itself (python-can; SocketCAN and udp_multicast let several programs
read at once), sends one REQUEST for ADDRESS_CLAIMED from the null address (J1939/RV-C lets any
node ask) so every node on the bus names itself, and keeps what it hears: frames, sources,
address claims, DATE_TIME_STATUS and error frames. Reading happens in one thread per interface
with ``bus.recv`` (this is a command-line tool, not the server's event loop).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import can

from backend.core.config import CANSettings
from backend.integrations.can import message_factory as mf
from backend.integrations.can.manager import make_bus_factory
from backend.integrations.can.replay import is_replay

BusFactory = Callable[[], can.BusABC]
DGN_DATE_TIME_STATUS = 0x1FFFF
MAX_KEPT_FRAMES = 100_000  # frames kept for the mapping coverage (about 2 buses x 10 s)


@dataclass(slots=True)
class Observation:
    """What one interface carried while the doctor listened."""

    channel: str
    seconds: float
    opened: bool = False
    error: str = ""
    read_only: bool = False
    request_sent: bool = False
    frames: int = 0
    error_frames: int = 0
    sources: Counter[int] = field(default_factory=Counter)
    claims: dict[int, set[int]] = field(default_factory=dict)  # address -> NAME values
    date_times: list[tuple[float, bytes]] = field(default_factory=list)
    kept: deque[tuple[int, bytes, float]] = field(
        default_factory=lambda: deque(maxlen=MAX_KEPT_FRAMES)
    )

    def on_message(self, msg: can.Message, own: tuple[int, bytes] | None) -> None:
        """Count one received message."""
        if msg.is_error_frame:
            self.error_frames += 1
            return
        if msg.is_remote_frame or not msg.is_extended_id:
            return
        arbitration_id = msg.arbitration_id
        data = bytes(msg.data)
        if own is not None and (arbitration_id, data) == own:
            return  # our own REQUEST coming back (udp_multicast loops it back)
        self.frames += 1
        source = arbitration_id & 0xFF
        self.sources[source] += 1
        if (arbitration_id >> 16) & 0xFF == 0xEE:
            self.claims.setdefault(source, set()).add(mf.claim_value(data))
        elif (
            (arbitration_id >> 8) & 0x1FFFF == DGN_DATE_TIME_STATUS
            and len(data) >= 7
            and len(self.date_times) < 100
        ):
            self.date_times.append((time.time(), data))
        self.kept.append((arbitration_id, data, msg.timestamp or time.time()))


def _listen_one(
    observation: Observation, factory: BusFactory, until: float, ask_claims: bool
) -> None:
    try:
        bus = factory()
    except Exception as exc:  # python-can raises many kinds; each is a finding, not a crash
        observation.error = f"{type(exc).__name__}: {exc}"
        return
    observation.opened = True
    own: tuple[int, bytes] | None = None
    try:
        if ask_claims and not observation.read_only:
            frame = mf.request(mf.DGN_ADDRESS_CLAIMED, mf.NULL_ADDRESS)
            try:
                bus.send(mf.make_message(*frame))
                observation.request_sent = True
                own = frame
            except Exception as exc:
                observation.error = f"could not send a REQUEST: {type(exc).__name__}: {exc}"
        while (left := until - time.monotonic()) > 0:
            try:
                msg = bus.recv(timeout=min(0.2, left))
            except Exception as exc:
                observation.error = f"receive failed: {type(exc).__name__}: {exc}"
                return
            if msg is not None:
                observation.on_message(msg, own)
    finally:
        try:
            bus.shutdown()
        except Exception as exc:
            observation.error = observation.error or f"shutdown failed: {exc}"


def listen(
    settings: CANSettings,
    seconds: float,
    *,
    ask_claims: bool = True,
    bus_factories: Mapping[str, BusFactory] | None = None,
) -> dict[str, Observation]:
    """Listen to every configured interface at once for ``seconds``; one Observation each."""
    observations: dict[str, Observation] = {}
    threads = []
    until = time.monotonic() + seconds
    for channel in settings.interfaces:
        observation = Observation(channel, seconds, read_only=is_replay(channel))
        observations[channel] = observation
        factory = (bus_factories or {}).get(channel) or make_bus_factory(
            channel, settings.bustype, settings.bitrate, settings.bus_options
        )
        thread = threading.Thread(
            target=_listen_one,
            args=(observation, factory, until, ask_claims),
            name=f"doctor-listen-{channel}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=seconds + 10)
    return observations
