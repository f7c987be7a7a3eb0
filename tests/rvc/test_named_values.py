"""Named values the spec gives: instances with names or "all", durations in minutes, 0xFF meanings.

Each case writes out the frame and what the spec's table says about it (section and wording).
The numbers stay numbers; the spec's name goes in ``labels``, in the spec's words, snake_case.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.integrations.rvc import RVCConfig
from backend.integrations.rvc.frame_id import build_can_id
from tests.rvc.conftest import frame


def decode(rvc: RVCConfig, name: str, hex_data: str) -> Any:
    definition = rvc.spec.by_name[name]
    can_id = build_can_id(6, definition.dgn, 0x80, 0xFF if definition.pdu1 else None)
    return rvc.decode(can_id, frame(hex_data))


def snake(text: str) -> str:
    """The spec's words as a label: lower case, every run of other characters one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# (DGN, frame, signal, value, the spec's words for it)
CASES = [
    # 6.24.6b DC_DIMMER_COMMAND_2: "Set to FFh for group commands", "11111111 – For non-group
    # commands", delay/duration "241 = 5 min ... 250 = 14 min", "A value of 255 indicates
    # continuous duration", "A value of 0 indicates a momentary command".
    ("DC_DIMMER_COMMAND_2", "FF FF C8 00 F1 FC FF FF", "instance", 255, "group commands"),
    ("DC_DIMMER_COMMAND_2", "FF FF C8 00 F1 FC FF FF", "group", 255, "For non-group commands"),
    ("DC_DIMMER_COMMAND_2", "FF FF C8 00 F1 FC FF FF", "delay_duration", 300, "5 min"),
    ("DC_DIMMER_COMMAND_2", "01 FF C8 00 FA FC FF FF", "delay_duration", 840, "14 min"),
    ("DC_DIMMER_COMMAND_2", "01 FF C8 00 FF FC FF FF", "delay_duration", None,
     "continuous duration"),
    ("DC_DIMMER_COMMAND_2", "01 FF C8 00 00 FC FF FF", "delay_duration", 0, "momentary command"),
    # 6.14.2b SLIDE_COMMAND instance: 1 - Room 1 ... 5 - Generator, 6 - Step (deprecated),
    # 7 - Step cover; 6.14.1b SLIDE_STATUS: 1 - Room 1 ... 5 - Generator.
    ("SLIDE_COMMAND", "01 FC FF FF FF FF FF FF", "instance", 1, "Room 1"),
    ("SLIDE_COMMAND", "04 FC FF FF FF FF FF FF", "instance", 4, "Room 4"),
    ("SLIDE_COMMAND", "05 FC FF FF FF FF FF FF", "instance", 5, "Generator"),
    ("SLIDE_COMMAND", "06 FC FF FF FF FF FF FF", "instance", 6, "Step (deprecated)"),
    ("SLIDE_COMMAND", "07 FC FF FF FF FF FF FF", "instance", 7, "Step cover"),
    ("SLIDE_STATUS", "05 00 FF FF FF FF FF FF", "instance", 5, "Generator"),
    ("SLIDE_MOTOR_STATUS", "07 FF FF FF FF FF FF FF", "instance", 7, "Step cover"),
    ("SLIDE_SENSOR_STATUS", "02 FF FF FF FF FF FF FF", "instance", 2, "Room 2"),
    # 6.42.3b DC_DISCONNECT_COMMAND / 6.42.2b DC_DISCONNECT_STATUS instance
    ("DC_DISCONNECT_COMMAND", "01 FD FF FF FF FF FF FF", "instance", 1,
     "Main House Battery Disconnect"),
    ("DC_DISCONNECT_COMMAND", "02 FD FF FF FF FF FF FF", "instance", 2,
     "Chassis Battery Disconnect"),
    ("DC_DISCONNECT_COMMAND", "03 FD FF FF FF FF FF FF", "instance", 3, "House/Chassis Bridge"),
    ("DC_DISCONNECT_STATUS", "04 FF FF FF FF FF FF FF", "instance", 4, "Secondary House Battery"),
    ("DC_DISCONNECT_STATUS", "05 FF FF FF FF FF FF FF", "instance", 5, "Generator Starter Battery"),
    # 6.24.13b DC_LIGHTING_CONTROLLER_STATUS_5 (and the other lighting controller DGNs):
    # "0 — Invalid", "255 – Applies to all light instances"
    ("DC_LIGHTING_CONTROLLER_STATUS_5", "FF FF FF FF FF FF FF FF", "instance", 255,
     "Applies to all light instances"),
    ("DC_LIGHTING_CONTROLLER_COMMAND_1", "FF FF FF FF FF FF FF FF", "instance", 255,
     "Applies to all light instances"),
    ("DC_LIGHTING_CONTROLLER_STATUS_1", "00 FF FF FF FF FF FF FF", "instance", 0, "Invalid"),
    # 6.25 GENERIC_INDICATOR_COMMAND, 6.27.3 DC_MOTOR_CONTROL_COMMAND, 6.39.3 WINDOW_SHADE_
    # CONTROL_COMMAND duration: "241 = 5 min ... 250 = 14 min", "255 = Continuous command"
    ("GENERIC_INDICATOR_COMMAND", "01 FF C8 FF FA FF FF FF", "duration", 840, "14 min"),
    ("DC_MOTOR_CONTROL_COMMAND", "01 FF C8 04 F1 FF FF FF", "duration", 300, "5 min"),
    ("WINDOW_SHADE_CONTROL_COMMAND", "01 FF C8 04 F5 FC FF FF", "duration", 540, "9 min"),
    ("WINDOW_SHADE_CONTROL_COMMAND", "01 FF C8 04 FF FC FF FF", "duration", None,
     "Continuous command"),
    # 6.39.2 WINDOW_SHADE_CONTROL_STATUS duration: "0 = delay/duration expired"
    ("WINDOW_SHADE_CONTROL_STATUS", "01 FF C8 00 00 FF FF FF", "duration", 0,
     "delay/duration expired"),
    # 6.13.5 LEVELING_SENSOR_STATUS byte 7: "255 = Single sensor system"
    ("LEVELING_SENSOR_STATUS", "00 00 64 00 64 FF FF FF", "instance", 255, "Single sensor system"),
    # 6.2.4 INSTANCE_ASSIGNMENT: "FFh = Send INSTANCE_STATUS for all Instances of the indicated
    # device type", "FFh = Update single instance only"
    ("INSTANCE_ASSIGNMENT", "40 FF FF FF FF FF FF FF", "base_instance", 255,
     "Send INSTANCE_STATUS for all Instances of the indicated device type"),
    ("INSTANCE_ASSIGNMENT", "40 01 FF FF FF FF FF FF", "max_instance", 255,
     "Update single instance only"),
    ("INSTANCE_STATUS", "40 01 FF 00 00 FF FF FF", "max_instance", 255,
     "Applies to single instance only"),
    # 6.48 DC_COMPONENT_DRIVER_COMMAND: "0 - Apply to all instances", "0 - Apply to all
    # drivers"; every DC component driver DGN: "FFh for non-instanced devices", "FFh is
    # acceptable for devices with a single driver"
    ("DC_COMPONENT_DRIVER_COMMAND", "00 00 01 FF FF FF FF FF", "device_instance", 0,
     "Apply to all instances"),
    ("DC_COMPONENT_DRIVER_COMMAND", "00 00 01 FF FF FF FF FF", "driver_index", 0,
     "Apply to all drivers"),
    ("DC_COMPONENT_DRIVER_STATUS_1", "FF FF FF FF FF FF FF FF", "device_instance", 255,
     "for non-instanced devices"),
    ("DC_COMPONENT_DRIVER_STATUS_1", "FF FF FF FF FF FF FF FF", "driver_index", 255,
     "acceptable for devices with a single driver"),
    # Second sweep. 6.18.10b GENERATOR_DC_STATUS_2 / 6.20.9b CHARGER_STATUS_2 byte 1 "DC Source
    # instance (DEPRECATED)": "0 = invalid", "255 = Unknown" (the byte was missing); charger
    # instance "0 = Invalid".
    ("GENERATOR_DC_STATUS_2", "01 FF 05 FF FF FF FF FF", "dc_source_instance_deprecated", 255,
     "Unknown"),
    ("CHARGER_STATUS_2", "01 00 05 FF FF FF FF FF", "dc_source_instance_deprecated", 0,
     "invalid"),
    ("CHARGER_STATUS_2", "00 01 05 FF FF FF FF FF", "charger_instance", 0, "Invalid"),
    # 6.47.1b GENERIC_ALARM_STATUS / 6.47.2b GENERIC_ALARM_COMMAND byte 5 device instance: "If
    # the device type is multi-instances, FFh = All Instances"
    ("GENERIC_ALARM_STATUS", "01 65 FD FF FF FF FF FF", "device_instance", 255, "All Instances"),
    ("GENERIC_ALARM_COMMAND", "01 65 FD FF FF FF FF FF", "device_instance", 255, "All Instances"),
    # 6.49.15b BATTERY_SUMMARY byte 1 DC source instance: "0 = not assigned to a DC Instance at
    # this time", "255 - Unspecified"
    ("BATTERY_SUMMARY", "01 00 01 04 04 FF FF FF", "dc_source_instance", 0,
     "not assigned to a DC Instance at this time"),
    ("BATTERY_SUMMARY", "01 FF 01 04 04 FF FF FF", "dc_source_instance", 255, "Unspecified"),
    # 6.24.4b DC_DIMMER_STATUS_3 byte 4: "240 = 240 or more seconds remaining (as in the case
    # of the minute increment values)"
    ("DC_DIMMER_STATUS_3", "01 FF C8 FF F0 FF FF FF", "delay_duration", 240,
     "240 or more seconds remaining"),
    # Instances that name 0 "all": 6.13.6b/6.13.7b (and the 6.13.8 commands, which use those
    # tables) "0 = All sensors"; 6.38.3b AWNING_COMMAND "0 - All, for Retraction and Lock
    # Engagement/Disengagement only"; 6.53.3b TV_LIFT_COMMAND "0 - All, for Storing and Lock";
    # 6.40.3b DOOR_COMMAND "0 = All Locks"; 6.40.5b WINDOW_COMMAND "0 = All Instances";
    # 6.17.8 AIR_CONDITIONER_COMPONENT_COMMAND component index "0 - All components of selected
    # "Component type" (bits 0-3) - applicable in COMMANDS only".
    ("LEVELING_SENSOR_PITCH_CONFIG_STATUS", "00 FF FF FF FF FF FF FF", "instance", 0,
     "All sensors"),
    ("LEVELING_SENSOR_ROLL_CONFIG_COMMAND", "00 FF FF FF FF FF FF FF", "instance", 0,
     "All sensors"),
    ("AWNING_COMMAND", "00 FF FF FF FF FF FF FF", "instance", 0, "All"),
    ("TV_LIFT_COMMAND", "00 FF FF FF FF FF FF FF", "instance", 0, "All"),
    ("DOOR_COMMAND", "00 FD 00 FF FF FF FF FF", "instance", 0, "All Locks"),
    ("WINDOW_COMMAND", "00 FD FF FF FF FF FF FF", "instance", 0, "All Instances"),
    ("AIR_CONDITIONER_COMPONENT_COMMAND", "01 01 FF FF FF FF FF FF", "component_index", 0,
     "All components of selected Component type"),
    # The families that had these already: 6.22.4 DC_LOAD_COMMAND "241 = 5 min",
    # 6.28.2 TANK_STATUS "16 — Second fresh water", 6.20.4 CHARGER_COMMAND "0 = All".
    ("DC_LOAD_COMMAND", "01 FF C8 FC 00 F1 FF FF", "delay_duration", 300, "5 min"),
    ("TANK_STATUS", "10 01 02 FF FF FF FF FF", "instance", 16, "Second fresh water"),
    ("CHARGER_COMMAND", "00 01 FF FF FF FF FF FF", "instance", 0, "All"),
]  # fmt: skip


@pytest.mark.parametrize(("dgn", "data", "signal", "value", "words"), CASES)
def test_named_values_decode_to_numbers_with_the_spec_words(
    rvc: RVCConfig, dgn: str, data: str, signal: str, value: Any, words: str
) -> None:
    m = decode(rvc, dgn, data)
    assert m.name == dgn
    assert m.signals[signal] == value
    assert m.labels[signal] == snake(words)
    assert signal not in (m.flags or {})  # a named value, not a special condition


@pytest.mark.parametrize(("dgn", "data", "signal", "value", "words"), CASES)
def test_the_encoder_takes_the_name_and_sends_the_spec_value(
    rvc: RVCConfig, dgn: str, data: str, signal: str, value: Any, words: str
) -> None:
    definition = rvc.spec.by_name[dgn]
    f = definition.by_name[signal]
    raw = (int.from_bytes(frame(data), "little") >> f.start) & f.mask
    assert f.to_raw(snake(words)) == raw
    if value is not None:
        assert f.to_raw(value) == raw


def test_slide_instance_6_is_named_only_on_the_command(rvc: RVCConfig) -> None:
    # SLIDE_STATUS lists rooms 1-4 and the generator only; 6 is a plain instance there.
    m = decode(rvc, "SLIDE_STATUS", "06 00 FF FF FF FF FF FF")
    assert m.signals["instance"] == 6
    assert m.labels == {}


def test_lighting_controller_instance_255_is_no_longer_not_available(rvc: RVCConfig) -> None:
    m = decode(rvc, "DC_LIGHTING_CONTROLLER_STATUS_5", "FF FF FF FF FF FF FF FF")
    assert m.instance == 255
    assert m.signals["instance"] == 255


def test_a_five_minute_dimmer_duration_reaches_the_device_as_300_s(rvc: RVCConfig) -> None:
    # The spec's 241 (= 5 min) no longer reads as 241 s.
    can_id, data = rvc.encoder.encode(
        "DC_DIMMER_COMMAND_2",
        {"desired_level_brightness": 100, "command": "on_duration", "delay_duration": "5_min"},
        instance=3,
        source_address=0x80,
    )
    assert data[4] == 241
    m = rvc.decode(can_id, data)
    assert m.signals["delay_duration"] == 300
