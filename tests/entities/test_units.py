"""Units: every numeric state value has a unit in the metadata; COACHIQ_UNITS__SYSTEM."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.cli.main import app as cli
from backend.core.config import ConfigError, load_settings
from backend.core.entity_types import ENTITY_TYPES, describe_types
from backend.integrations.rvc.loader import RVCConfig
from backend.main import create_app
from tests.factories import make_settings

# Signal values a reader sees: numbers over the range, a label for every enumeration.
SAMPLES = (0, 1, 50, 100.5)


def _numeric_state_keys(rvc: RVCConfig, type_name: str) -> set[str]:
    """Every state key a type's readers give a number for, over sample signal values."""
    keys: set[str] = set()
    for control in ENTITY_TYPES[type_name].controls:
        for dgn, reader in control.readers.items():
            definition = rvc.spec.get(dgn)
            assert definition is not None, dgn
            fields = definition.all_fields()
            for value in SAMPLES:
                signals = {f.name: value if f.json_type != "string" else "x" for f in fields}
                for role in (None, *control.roles):
                    state = reader(signals, role, None)
                    keys |= {
                        k
                        for k, v in state.items()
                        if isinstance(v, int | float) and not isinstance(v, bool)
                    }
    return keys


@pytest.mark.parametrize("type_name", sorted(ENTITY_TYPES))
def test_every_numeric_state_value_has_a_unit_or_is_documented_unitless(
    rvc: RVCConfig, type_name: str
) -> None:
    described = {t["type"]: t for t in describe_types()}[type_name]
    units: dict[str, Any] = described["units"]  # type: ignore[assignment]
    unitless: dict[str, Any] = described["unitless"]  # type: ignore[assignment]
    keys = _numeric_state_keys(rvc, type_name)
    missing = sorted(k for k in keys if k not in units and k not in unitless)
    assert missing == [], f"{type_name}: numeric state without a unit: {missing}"
    assert all(unitless.values())  # each unitless key says what it is


def test_the_walk_sees_the_quantities_it_must() -> None:
    """The walk finds the values the owners asked about (so it can fail)."""
    from backend.integrations.rvc.loader import load_config_data

    rvc = load_config_data()
    assert {"volume_l", "capacity_l", "level"} <= _numeric_state_keys(rvc, "tank")
    assert {"setpoint_heat", "setpoint_cool", "ambient_temperature"} <= _numeric_state_keys(
        rvc, "thermostat"
    )
    assert {"oil_pressure_kpa", "coolant_temperature"} <= _numeric_state_keys(rvc, "generator")


def _metadata(**units: str) -> dict[str, Any]:
    channel = f"units-{os.getpid()}-{time.monotonic_ns()}"
    settings = make_settings(
        can={"interfaces": [channel], "bustype": "virtual"},
        features={"enable_simulator": False, "enable_persistence": False},
        units=units,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/entities/metadata")
    assert response.status_code == 200
    return response.json()


def test_metadata_states_si_units_and_the_display_default() -> None:
    meta = _metadata()
    assert meta["units_system"] == "metric"
    types = {t["type"]: t for t in meta["types"]}
    assert types["tank"]["units"]["volume_l"] == "L"
    assert types["thermostat"]["units"]["setpoint_heat"] == "°C"
    assert types["generator"]["units"]["oil_pressure_kpa"] == "kPa"
    assert types["generator"]["units"]["coolant_temperature"] == "°C"
    assert types["battery"]["units"]["time_remaining_min"] == "min"
    assert types["air_conditioner"]["units"]["dead_band"] == "K"
    assert "source" in types["transfer_switch"]["unitless"]
    us = _metadata(system="us")
    assert us["units_system"] == "us"
    # the API stays SI whatever the display default
    assert {t["type"]: t for t in us["types"]}["tank"]["units"]["volume_l"] == "L"


def test_units_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(env_file=None).units.system == "metric"
    monkeypatch.setenv("COACHIQ_UNITS__SYSTEM", "us")
    assert load_settings(env_file=None).units.system == "us"
    monkeypatch.setenv("COACHIQ_UNITS__SYSTEM", "imperial")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert info.value.lines == [
        "COACHIQ_UNITS__SYSTEM: must be one of 'metric' or 'us' (got 'imperial')"
    ]


def test_a_bad_units_system_is_one_line_at_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_UNITS__SYSTEM", "imperial")
    result = CliRunner().invoke(cli, ["config", "validate"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "configuration error: COACHIQ_UNITS__SYSTEM: must be one of 'metric' or 'us' "
        "(got 'imperial')"
    ]
