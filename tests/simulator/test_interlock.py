"""Interlock as the simulated devices honour it (RV-C 6.23.4, 6.39.3): a command with Interlock A
or B set acts only when an identical command with the opposing bit comes from another source."""

from __future__ import annotations

from backend.integrations.rvc.decoder import DecodedMessage
from tests.simulator.conftest import SERVER, Bench

OTHER = 0x9C  # another controller on the bus (a wall panel)

# DC_LOAD_COMMAND 1FFBC, priority 6, porch light instance 10 on (level 200, command 0x00).
# Byte 3: mode bits 0-1 and driver direction bits 4-7 all ones; interlock bits 2-3 vary.
LOAD_ON = {
    "none": "0AFFC8F30000FFFF",  # interlock 00b: acts
    "both": "0AFFC8FF0000FFFF",  # byte left all ones = A and B set: never acts
    "a": "0AFFC8F70000FFFF",  # 01b Interlock A
    "b": "0AFFC8FB0000FFFF",  # 10b Interlock B
}
LOAD_ID = 0x19FFBC00
# WINDOW_SHADE_CONTROL_COMMAND 1FEDF, living day shade (instance 1): 0x81 forward, 20 s.
# Byte 5: interlock A/B bits 0-1, reserved bits 2-7 ones.
SHADE_OPEN = {"none": "01FFC88114FCFFFF", "both": "01FFC88114FFFFFF"}
SHADE_ID = 0x19FEDF00


def _porch_level(m: DecodedMessage) -> float | None:
    if m.name == "DC_LOAD_STATUS" and m.instance == 10:
        return m.signals["operating_status_level"]
    return None


def _shade_forward(m: DecodedMessage) -> bool:
    return (
        m.name == "WINDOW_SHADE_CONTROL_STATUS"
        and m.instance == 1
        and m.signals["forward_status"] == "forward_output_is_on"
    )


async def _porch_on(bench: Bench, seconds: float) -> bool:
    heard = await bench.collect(seconds, until=lambda m: _porch_level(m) == 100)
    return any(_porch_level(m) == 100 for _, m in heard)


async def test_load_command_with_interlock_bits_set_is_not_acted_on(bench: Bench) -> None:
    bench.send(LOAD_ID | SERVER, bytes.fromhex(LOAD_ON["both"]))
    assert not await _porch_on(bench, 1.0)
    bench.send(LOAD_ID | SERVER, bytes.fromhex(LOAD_ON["a"]))
    bench.send(LOAD_ID | SERVER, bytes.fromhex(LOAD_ON["b"]))  # same source: still nothing
    assert not await _porch_on(bench, 1.0)
    assert bench.coach.stats["interlocked"] == 3
    bench.send(LOAD_ID | SERVER, bytes.fromhex(LOAD_ON["none"]))
    assert await _porch_on(bench, 1.0)


async def test_interlocked_pair_from_two_sources_acts(bench: Bench) -> None:
    bench.send(LOAD_ID | SERVER, bytes.fromhex(LOAD_ON["a"]))
    assert not await _porch_on(bench, 0.5)
    bench.send(LOAD_ID | OTHER, bytes.fromhex(LOAD_ON["b"]))
    assert await _porch_on(bench, 1.0)


async def test_shade_moves_only_without_interlock(bench: Bench) -> None:
    bench.send(SHADE_ID | SERVER, bytes.fromhex(SHADE_OPEN["both"]))
    heard = await bench.collect(1.0, until=_shade_forward)
    assert not any(_shade_forward(m) for _, m in heard)
    bench.send(SHADE_ID | SERVER, bytes.fromhex(SHADE_OPEN["none"]))
    heard = await bench.collect(1.0, until=_shade_forward)
    assert any(_shade_forward(m) for _, m in heard)
