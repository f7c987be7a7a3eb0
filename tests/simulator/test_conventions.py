"""The simulated coach's power values follow the spec's sign and scaling conventions.

Each value is read from the frame's bytes with the spec's own scaling (table 5.3), written out
here rather than taken from the decoder, so a simulator that sends the wrong sign or scale fails.
"""

from __future__ import annotations

import asyncio

from backend.integrations.rvc.decoder import DecodedMessage
from backend.services.simulator.power import SolarModel
from tests.simulator.conftest import SERVER, Bench

DC_SOURCE_STATUS_1 = 0x1FFFD  # 6.5.2
DC_SOURCE_STATUS_2 = 0x1FFFC  # 6.5.3
CHARGER_STATUS = 0x1FFC7  # 6.20.8
CHARGER_AC_STATUS_1 = 0x1FFCA  # 6.20.2 layout
INVERTER_STATUS = 0x1FFD4  # 6.19.5
INVERTER_AC_STATUS_1 = 0x1FFD7  # 6.19.2 layout
SOLAR_CONTROLLER_STATUS = 0x1FEB3  # 6.45.2


def u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def volts_u16(data: bytes, at: int) -> float:
    """Table 5.3: Vdc/Vac uint16, 0.050 V per bit, 0 V at 0."""
    return u16(data, at) * 0.05


def amps_u16(data: bytes, at: int) -> float:
    """Table 5.3: Adc/Aac uint16, 0.05 A per bit, 0 A at 0x7D00 (-1600 A offset)."""
    return u16(data, at) * 0.05 - 1600


def amps_u32(data: bytes, at: int) -> float:
    """Table 5.3: Adc uint32, 0.001 A per bit, 0 A at 0x77359400 (-2,000,000 A offset)."""
    return int.from_bytes(data[at : at + 4], "little") * 0.001 - 2_000_000


def percent_u8(data: bytes, at: int) -> float:
    """Table 5.3: % uint8, 0.5 % per bit."""
    return data[at] * 0.5


async def _frames(bench: Bench, seconds: float) -> list[DecodedMessage]:
    return [m for _, m in await bench.collect(seconds)]


def _last(frames: list[DecodedMessage], dgn: int, instance: int) -> DecodedMessage:
    found = [m for m in frames if m.dgn == dgn and m.data[0] & 0x0F == instance & 0x0F]
    assert found, f"no {dgn:05X} instance {instance} heard"
    return found[-1]


def _check_scaling(frames: list[DecodedMessage]) -> None:
    """Every power frame's values are within the physical range the scaling allows."""
    for m in frames:
        d = m.data
        if m.dgn == DC_SOURCE_STATUS_1:
            assert 10.0 <= volts_u16(d, 2) <= 15.5, (m.instance, volts_u16(d, 2))
            assert abs(amps_u32(d, 4)) < 500
        elif m.dgn == DC_SOURCE_STATUS_2:
            assert 0 <= percent_u8(d, 4) <= 100
            assert d[7] & 0x03 in (0, 1)
        elif m.dgn in (CHARGER_STATUS, SOLAR_CONTROLLER_STATUS):
            # Charge current is what is delivered to the battery: never negative.
            assert 0 <= amps_u16(d, 3) <= 200, (m.name, amps_u16(d, 3))
            assert 0 <= percent_u8(d, 5) <= 100
            assert volts_u16(d, 1) in (0.0,) or 12.0 <= volts_u16(d, 1) <= 15.0
        elif m.dgn in (CHARGER_AC_STATUS_1, INVERTER_AC_STATUS_1):
            volts, amps = volts_u16(d, 1), amps_u16(d, 3)
            frequency = u16(d, 5) / 128  # Hz, 1/128 Hz per bit
            assert volts == 0 or abs(volts - 120.0) < 0.1
            assert 0 <= amps < 100
            assert frequency == 0 or abs(frequency - 60.0) < 0.01
            # Byte 0 bits 6-7 (table 6.19.2): 00b input (charger), 01b output (inverter).
            assert d[0] >> 6 == (1 if m.dgn == INVERTER_AC_STATUS_1 else 0)


async def test_charging_and_discharging_follow_the_spec_conventions(bench: Bench) -> None:
    world = bench.coach.world
    assert world.shore_power  # shore power: the charger charges the house bank
    await asyncio.sleep(2.0)  # let currents settle
    charging = await _frames(bench, 5.5)
    _check_scaling(charging)

    charger = _last(charging, CHARGER_STATUS, 1)
    charge_amps = amps_u16(charger.data, 3)
    assert charge_amps > 10
    assert charger.data[6] in (2, 3, 6)  # bulk, absorption or float
    house = _last(charging, DC_SOURCE_STATUS_1, 1)
    # 6.5.2: positive current flows from the source (discharge); a battery being recharged
    # reports a negative current.
    house_amps = amps_u32(house.data, 4)
    assert house_amps < 0, house_amps
    assert house.signals["dc_current"] < 0
    assert abs(house_amps) <= charge_amps + 30.1  # charger + at most the solar panels
    house2 = _last(charging, DC_SOURCE_STATUS_2, 1)
    assert house2.data[7] & 0x03 == 1  # time to full while charging
    inverter_ac = _last(charging, INVERTER_AC_STATUS_1, 1)
    assert abs(volts_u16(inverter_ac.data, 1) - 120.0) < 0.1  # passing shore power through

    # Shore power gone: the charger stops, the inverter draws from the house bank.
    world.shore_power = False
    sun = bench.coach.model("solar_controller.roof")
    assert isinstance(sun, SolarModel)
    sun.MAX_AMPS = 0.01  # night: under 0.025 A rounds to 0 (the sun follows the wall clock)
    # AC_LOAD_COMMAND (1FFBE) galley outlets (instance 2) on at 100 %: an AC load to invert for.
    bench.send(0x19FFBE00 | SERVER, bytes.fromhex("02FFC8F30000FFFF"))
    await asyncio.sleep(3.0)
    discharging = await _frames(bench, 5.5)
    _check_scaling(discharging)
    charger = _last(discharging, CHARGER_STATUS, 1)
    assert amps_u16(charger.data, 3) == 0
    assert charger.data[6] == 1  # not charging
    assert _last(discharging, INVERTER_STATUS, 1).signals["status"] == "invert"
    house = _last(discharging, DC_SOURCE_STATUS_1, 1)
    net_into_bank = world.dc_source_amps - world.dc_load_amps
    assert net_into_bank < -1  # night: no sun, the inverter's draw
    house_amps = amps_u32(house.data, 4)
    assert house_amps > 0  # discharge is positive
    assert abs(house_amps + net_into_bank) < 0.5, (house_amps, net_into_bank)
    assert _last(discharging, DC_SOURCE_STATUS_2, 1).data[7] & 0x03 == 0  # time to empty
    solar = _last(discharging, SOLAR_CONTROLLER_STATUS, 1)
    assert amps_u16(solar.data, 3) == 0
    # The chassis battery with the generator off has a small parasitic draw: a discharge.
    chassis = _last(discharging, DC_SOURCE_STATUS_1, 2)
    assert amps_u32(chassis.data, 4) > 0
