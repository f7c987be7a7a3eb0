"""Encoding: command frames from units and labels; named errors that list what is allowed."""

from __future__ import annotations

import pytest

from backend.integrations.rvc import (
    AddressError,
    EncodeError,
    RVCConfig,
    SignalValueError,
    UnknownDGNError,
    UnknownSignalError,
    encode,
)
from tests.rvc.conftest import frame


def test_dimmer_command_brightness(rvc: RVCConfig) -> None:
    can_id, data = rvc.encoder.encode(
        "DC_DIMMER_COMMAND_2",
        {"desired_level_brightness": 50.0, "command": "set_level_delay", "delay_duration": 0},
        instance=2,
        source_address=0x80,
    )
    assert can_id == 0x19FEDB80  # priority 6, DGN 1FEDB, source 0x80
    assert data == frame("02FF640000FFFFFF")


def test_dgn_by_number_and_hex(rvc: RVCConfig) -> None:
    by_name = rvc.encoder.encode("DC_DIMMER_COMMAND_2", {}, instance=2, source_address=0x80)
    assert rvc.encoder.encode(0x1FEDB, {}, instance=2, source_address=0x80) == by_name
    assert rvc.encoder.encode("1FEDB", {}, instance=2, source_address=0x80) == by_name
    assert by_name[1] == frame("02FFFFFFFFFFFFFF")  # fields not given: all ones


def test_thermostat_setpoint_in_celsius(rvc: RVCConfig) -> None:
    _, data = rvc.encoder.encode(
        "THERMOSTAT_COMMAND_1",
        {"operating_mode": "cool", "setpoint_temp_cool": 22.0},
        instance=1,
        source_address=0x9F,
    )
    # mode cool in bits 0-3 of byte 1, other bits ones; 22.0 degC = 0x24E0
    assert data == frame("01F1FFFFFFE024FF")


def test_request_for_product_id(rvc: RVCConfig) -> None:
    can_id, data = rvc.encoder.encode(
        "DG_REQUEST",
        {"desired_dgn": 0x0FEEB},
        instance=None,
        source_address=0x80,
        destination=0x42,
    )
    assert can_id == 0x18EA4280
    assert data[:3] == frame("EBFE00")
    assert (
        rvc.encoder.encode(
            "DG_REQUEST", {"desired_dgn": 0x0FEEB}, instance=None, source_address=0x80
        )[0]
        == 0x18EAFF80
    )


def test_request_alias(rvc: RVCConfig) -> None:
    # "REQUEST" is the common name of EA00; the spec's name is DG_REQUEST (spec.ALIASES).
    args = {"instance": None, "source_address": 0x80, "destination": 0x42}
    assert encode("REQUEST", {"desired_dgn": 0x0FEEB}, **args) == encode(
        "DG_REQUEST", {"desired_dgn": 0x0FEEB}, **args
    )
    assert encode("request", {"desired_dgn": 0x0FEEB}, **args)[0] == 0x18EA4280
    assert rvc.spec.get("REQUEST") is rvc.spec.by_name["DG_REQUEST"]
    assert rvc.spec.get("NOT_A_DGN") is None


def test_priority_override(rvc: RVCConfig) -> None:
    can_id, _ = rvc.encoder.encode(
        "GENERATOR_COMMAND", {}, instance=None, source_address=0x80, priority=3
    )
    assert can_id >> 26 == 3


def test_module_level_encode(rvc: RVCConfig) -> None:
    assert encode("DC_DIMMER_COMMAND_2", {}, instance=1, source_address=1) == (
        rvc.encoder.encode("DC_DIMMER_COMMAND_2", {}, instance=1, source_address=1)
    )


def test_unknown_dgn_lists_names(rvc: RVCConfig) -> None:
    with pytest.raises(UnknownDGNError, match="DC_DIMMER_COMMAND_9") as info:
        rvc.encoder.encode("DC_DIMMER_COMMAND_9", {}, instance=1, source_address=1)
    assert "DC_DIMMER_COMMAND_2" in info.value.known
    assert isinstance(info.value, EncodeError)


def test_unknown_signal_lists_allowed(rvc: RVCConfig) -> None:
    with pytest.raises(UnknownSignalError) as info:
        rvc.encoder.encode("DC_DIMMER_COMMAND_2", {"level": 50}, instance=1, source_address=1)
    assert "desired_level_brightness" in str(info.value)
    assert "desired_level_brightness" in info.value.allowed


@pytest.mark.parametrize(
    ("signal", "value"),
    [
        ("desired_level_brightness", 130.0),  # above 126 % (raw 252)
        ("desired_level_brightness", -1),
        ("command", "explode"),
        ("command", [1]),
        ("desired_level_brightness", float("nan")),
    ],
)
def test_bad_values_raise_with_what_is_allowed(rvc: RVCConfig, signal: str, value: object) -> None:
    with pytest.raises(SignalValueError) as info:
        rvc.encoder.encode("DC_DIMMER_COMMAND_2", {signal: value}, instance=1, source_address=1)
    assert "allowed" in str(info.value)
    assert info.value.signal == signal


def test_allowed_mentions_labels_and_range(rvc: RVCConfig) -> None:
    with pytest.raises(SignalValueError) as info:
        rvc.encoder.encode(
            "DC_DIMMER_COMMAND_2", {"desired_level_brightness": 130}, instance=1, source_address=1
        )
    assert "numbers 0 to 126 %" in info.value.allowed  # raw 0-252 x 0.5
    assert "master_memory_value" in info.value.allowed


def test_instance_rules(rvc: RVCConfig) -> None:
    with pytest.raises(EncodeError, match="single-instance"):
        rvc.encoder.encode("GENERATOR_COMMAND", {}, instance=1, source_address=1)
    with pytest.raises(SignalValueError):
        rvc.encoder.encode("DC_DIMMER_COMMAND_2", {"instance": 3}, instance=2, source_address=1)


def test_destination_only_for_pdu1(rvc: RVCConfig) -> None:
    with pytest.raises(AddressError, match="broadcast-only"):
        rvc.encoder.encode("DC_DIMMER_COMMAND_2", {}, instance=1, source_address=1, destination=5)
    with pytest.raises(AddressError):
        rvc.encoder.encode("DC_DIMMER_COMMAND_2", {}, instance=1, source_address=999)


def test_none_sends_not_available(rvc: RVCConfig) -> None:
    _, data = rvc.encoder.encode(
        "DC_DIMMER_COMMAND_2", {"desired_level_brightness": None}, instance=1, source_address=1
    )
    assert data[2] == 0xFF


def test_variant_fields_follow_the_selector(rvc: RVCConfig) -> None:
    can_id, data = rvc.encoder.encode(
        "SPECIAL_APPLICATION_PROPRIETARY_DGN",
        {"operation": "set_instance", "internal_instance": 1, "public_instance": 5},
        instance=None,
        source_address=0x80,
        destination=0x42,
    )
    assert can_id == 0x1DEF4280  # priority 7
    assert data[:4] == frame("02FF0105")
    decoded = rvc.decode(can_id, data).signals
    assert decoded["public_instance"] == 5
    assert "source_address" not in decoded
    with pytest.raises(UnknownSignalError):
        rvc.encoder.encode(
            "SPECIAL_APPLICATION_PROPRIETARY_DGN",
            {"operation": "set_source_address", "public_instance": 5},
            instance=None,
            source_address=0x80,
        )
