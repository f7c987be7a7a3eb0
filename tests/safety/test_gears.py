"""The moving interlock reads the transmission gear as the number the spec gives (table 6.11.2b:
124 reverse 1, 125 neutral, 126 forward 1, 251 park), decoded from real frames."""

from __future__ import annotations

import pytest

from backend.integrations.rvc.loader import load_config_data
from backend.safety.chassis import interlock_verdict
from backend.safety.lockouts import _STILL, _holds

RVC = load_config_data()


def chassis(gear: int) -> dict:
    """CHASSIS_MOBILITY_STATUS: 0 rpm, 0 km/h, park brake engaged, the gear in bytes 6 and 7."""
    can_id, data = RVC.encoder.encode(
        "CHASSIS_MOBILITY_STATUS",
        {
            "engine_rpms": 0,
            "vehicle_speed": 0,
            "park_brake_status": "park_brake_engaged",
            "transmission_current_gear": gear,
            "transmission_gear_selected": gear,
        },
        instance=None,
        source_address=252,
    )
    assert data[6] == data[7] == gear
    return RVC.decode(can_id, data).signals


@pytest.mark.parametrize(("gear", "parked"), [(251, True), (125, True), (126, False), (124, False)])
def test_gear_numbers_decide_parked(gear: int, parked: bool) -> None:
    signals = chassis(gear)
    assert signals["transmission_current_gear"] == gear  # a number, its name in labels
    assert interlock_verdict(signals, 0.1).parked is parked


@pytest.mark.parametrize(("gear", "holds"), [(251, False), (125, False), (126, True)])
def test_awning_gear_lockout_condition_uses_the_numbers(gear: int, holds: bool) -> None:
    # AWNING_STATUS_2 bit 6: locked out while the transmission is not in park or neutral.
    assert _holds(chassis(gear), "transmission_current_gear", _STILL) is holds
