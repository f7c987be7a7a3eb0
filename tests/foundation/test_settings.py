"""Settings: environment, .env, nesting and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.config import ConfigError, load_settings


def test_defaults_are_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(env_file=None)
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.can.interfaces == ["virtual0"]
    assert settings.can.bustype == "virtual"
    assert settings.can.bitrate == 250000
    assert settings.persistence.enabled is False
    assert settings.logging.level == "INFO"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_SERVER__PORT", "8080")
    monkeypatch.setenv("COACHIQ_CAN__INTERFACES", "can0, can1")
    monkeypatch.setenv("COACHIQ_CAN__INTERFACE_MAPPINGS", "house:can0,chassis:can1")
    monkeypatch.setenv("COACHIQ_CAN__BUS_OPTIONS", '{"port": 43114}')
    monkeypatch.setenv("COACHIQ_FEATURES__ENABLE_SIMULATOR", "false")
    monkeypatch.setenv("COACHIQ_LOGGING__LEVEL", "debug")
    settings = load_settings(env_file=None)
    assert settings.server.port == 8080
    assert settings.can.interfaces == ["can0", "can1"]
    assert settings.can.interface_mappings == {"house": "can0", "chassis": "can1"}
    assert settings.can.bus_options == {"port": 43114}
    assert settings.features.overrides() == {"simulator": False}
    assert settings.logging.level == "DEBUG"


def test_dotenv_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("COACHIQ_SERVER__PORT=9001\nCOACHIQ_SERVER__HOST=0.0.0.0\n")
    settings = load_settings(env_file=env_file)
    assert settings.server.port == 9001
    assert settings.server.host == "0.0.0.0"
    monkeypatch.setenv("COACHIQ_SERVER__PORT", "9002")
    settings = load_settings(env_file=env_file)
    assert settings.server.port == 9002
    assert settings.server.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("COACHIQ_SERVER__PORT", "70000", "COACHIQ_SERVER__PORT: Input should be less than or"),
        ("COACHIQ_CAN__BITRATE", "fast", "COACHIQ_CAN__BITRATE: Input should be a valid integer"),
        ("COACHIQ_LOGGING__LEVEL", "loud", "COACHIQ_LOGGING__LEVEL: must be one of 'CRITICAL'"),
        ("COACHIQ_LOGGING__FORMAT", "xml", "COACHIQ_LOGGING__FORMAT: must be one of 'text'"),
        ("COACHIQ_CAN__INTERFACE_MAPPINGS", "house", "COACHIQ_CAN__INTERFACE_MAPPINGS: 'house'"),
        ("COACHIQ_CAN__BUS_OPTIONS", "[1]", "COACHIQ_CAN__BUS_OPTIONS: must be a JSON object"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert len(info.value.lines) == 1
    assert info.value.lines[0].startswith(expected)


def test_bad_feature_switch_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHIQ_FEATURES__ENABLE_SIMULATOR", "maybe")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert info.value.lines[0].startswith("COACHIQ_FEATURES__ENABLE_SIMULATOR:")
