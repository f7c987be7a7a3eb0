"""CAN settings: bad values stop start-up with one line naming the variable; no-activity flag."""

from __future__ import annotations

import pytest

from backend.core.config import ConfigError, load_settings
from backend.services.feature_base import HealthStatus
from tests.can.conftest import can_settings, unique_channel, wait_for


@pytest.mark.parametrize(
    ("env", "variable", "message"),
    [
        ({"COACHIQ_CAN__BUSTYPE": "socketcann"}, "COACHIQ_CAN__BUSTYPE", "unknown python-can"),
        (
            {"COACHIQ_CAN__INTERFACES": "can0", "COACHIQ_CAN__INTERFACE_MAPPINGS": "house:can1"},
            "COACHIQ_CAN__INTERFACE_MAPPINGS",
            "'house' maps to 'can1', which is not in COACHIQ_CAN__INTERFACES (can0)",
        ),
        (
            {"COACHIQ_CAN__INTERFACE_MAPPINGS": "house=can0"},
            "COACHIQ_CAN__INTERFACE_MAPPINGS",
            "is not LOGICAL:PHYSICAL",
        ),
        ({"COACHIQ_CAN__BUS_OPTIONS": "[1]"}, "COACHIQ_CAN__BUS_OPTIONS", "JSON object"),
        ({"COACHIQ_CAN__SOURCE_ADDRESS": "300"}, "COACHIQ_CAN__SOURCE_ADDRESS", "253"),
        ({"COACHIQ_CAN__PRODUCT_ID": "CoachIQ"}, "COACHIQ_CAN__PRODUCT_ID", "make*model"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, env, variable, message) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert len(info.value.lines) == 1
    assert info.value.lines[0].startswith(f"{variable}: ")
    assert message in info.value.lines[0]


def test_good_values_parse(monkeypatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", "can0,can1")
    monkeypatch.setenv("COACHIQ_CAN__BUSTYPE", "socketcan")
    monkeypatch.setenv("COACHIQ_CAN__INTERFACE_MAPPINGS", "house:can0,chassis:can1")
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"port": 43114}')
    can = load_settings(None).can
    assert can.interfaces == ["can0", "can1"]
    assert can.interface_mappings == {"house": "can0", "chassis": "can1"}
    assert can.bus_options == {"port": 43114}


async def test_quiet_interface_is_flagged_and_degrades_health(make_service) -> None:
    channel = unique_channel()
    service = await make_service(can_settings(interfaces=[channel], activity_timeout=0.1))
    await wait_for(lambda: service.status()["state"] == "up")
    await wait_for(lambda: service.interfaces_status()[0]["no_activity"], timeout=2)
    health = service.health()
    assert health.status is HealthStatus.DEGRADED
    assert "no CAN activity" in health.reason
    assert health.details[channel]["no_activity"] is True
