"""CAN settings: bad values stop start-up with one line naming the variable; no-activity flag."""

from __future__ import annotations

import pytest

from backend.core.config import ConfigError, load_settings
from backend.main import create_app
from backend.services.can_config import validate_can_settings
from backend.services.feature_base import HealthStatus
from tests.can.conftest import can_settings, unique_channel, wait_for
from tests.factories import make_settings


@pytest.mark.parametrize(
    ("env", "variable", "message"),
    [
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


def test_unknown_bus_type_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__BUSTYPE", "socketcann")
    settings = load_settings(None)  # the core layer checks the form; python-can's names, not
    [line] = validate_can_settings(settings)
    assert line.startswith("COACHIQ_CAN__BUSTYPE: unknown python-can interface 'socketcann'; ")
    assert "known: " in line and "socketcan, " in line
    assert line.endswith("(got 'socketcann')")
    assert validate_can_settings(settings.can) == [line]


def test_every_problem_is_one_line(tmp_path) -> None:
    settings = make_settings(
        can={
            "bustype": "nosuchbus",
            "interfaces": f"can0,replay:{tmp_path}/a.log,replay:{tmp_path}/b.log?loop=2",
        }
    )
    lines = validate_can_settings(settings)
    assert [line.split(":")[0] for line in lines] == [
        "COACHIQ_CAN__INTERFACES",
        "COACHIQ_CAN__INTERFACES",
        "COACHIQ_CAN__BUSTYPE",
    ]
    assert "no such log file" in lines[0]
    assert "loop must be 0 or 1" in lines[1]
    assert validate_can_settings(make_settings()) == []


async def test_can_feature_start_fails_with_the_lines() -> None:
    app = create_app(
        make_settings(
            can={"bustype": "socketcann"},
            features={"enable_simulator": False, "enable_persistence": False},
        )
    )
    async with app.router.lifespan_context(app):
        can_feature = next(f for f in app.state.feature_manager.status() if f["name"] == "can")
    assert can_feature["state"] == "failed"
    assert (
        "COACHIQ_CAN__BUSTYPE: unknown python-can interface 'socketcann'" in (can_feature["reason"])
    )


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


def test_bus_options_python_can_rejects_stop_start_with_the_option_named(monkeypatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__BUSTYPE", "udp_multicast")
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", "239.74.163.9")
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"port": 43291, "hop_limit": -5}')
    [line] = validate_can_settings(load_settings(None))
    assert line.startswith("COACHIQ_CAN__BUS_OPTIONS: python-can's udp_multicast rejects ")
    assert "hop_limit=-5" in line
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"port": 43291, "hop_limit": 1}')
    assert validate_can_settings(load_settings(None)) == []


def test_unknown_bus_options_are_refused_with_the_known_ones(monkeypatch) -> None:
    monkeypatch.setenv("COACHIQ_CAN__BUSTYPE", "socketcan")
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", "can0")
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"bogus": 1, "receive_own_messages": true}')
    [line] = validate_can_settings(load_settings(None))
    assert line.startswith("COACHIQ_CAN__BUS_OPTIONS: python-can's socketcan has no option 'bogus'")
    assert "known: " in line and "local_loopback" in line and "receive_own_messages" in line


def test_serve_stops_on_a_rejected_bus_option(monkeypatch) -> None:
    from typer.testing import CliRunner

    from backend.cli.main import app

    monkeypatch.setenv("COACHIQ_CAN__BUSTYPE", "udp_multicast")
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", "239.74.163.9")
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"port": 43291, "hop_limit": -5}')
    result = CliRunner().invoke(app, ["config", "validate"])
    assert result.exit_code != 0
    assert "COACHIQ_CAN__BUS_OPTIONS: python-can's udp_multicast rejects hop_limit=-5" in (
        result.output
    )
    assert "Traceback" not in result.output


async def test_an_option_python_can_rejects_fails_the_interface_without_retrying(
    make_service,
) -> None:
    # Past the start-up check (e.g. a bus type opened only later): never a transient fault.
    settings = can_settings(
        interfaces=["239.74.163.9"],
        bustype="udp_multicast",
        bus_options={"port": 43292, "hop_limit": -5},
        reconnect_initial=0.05,
    )
    service = await make_service(settings)
    await wait_for(lambda: service.interfaces_status()[0]["state"] == "failed")
    interface = service.interface_service.get("239.74.163.9")
    assert interface.counters.reconnects == 0
    assert interface.last_error.startswith("error: ")  # struct.error names itself "error"
