"""One frame per chapter-6 DGN family, composed from the spec's signal table and decoded.

Each payload below was written byte by byte from the table of the section named in the test
(RV-C, edition of 6 November 2023); the comments work the raw values out by hand with the
scaling of table 5.3 or the precision the table states:

- % (uint8): raw x 0.5; V (uint16): raw x 0.05; A (uint16): raw x 0.05 - 1600;
- A (uint32): raw x 0.001 - 2,000,000; °C (uint16): raw x 0.03125 - 273;
- bit fields are numbered from the least significant bit of their byte; multi-byte values are
  LSB first. Unused bits and "not available" fields are sent as ones.

The families already covered by ``test_decode.py`` (DC source, generator, AC point, date and
time, AC load, inverter temperature, thermostat, air conditioner command, DM_RV, request) are not
repeated here.
"""

from __future__ import annotations

import random

import pytest

from backend.integrations.rvc import RVCConfig
from backend.integrations.rvc.decoder import decode_generic, message_flags
from tests.rvc.conftest import frame


def test_tank_status(rvc: RVCConfig) -> None:
    # 6.28.2: 0 instance, 1 relative level, 2 resolution, 3-4 absolute level (l), 5-6 tank size.
    # Black waste (1), level 3 of resolution 4 (= 3/4 full), 80 l of 160 l.
    m = rvc.decode(0x19FFB742, frame("01 03 04 5000 A000 FF"))
    assert m.name == "TANK_STATUS"
    assert m.instance == 1
    s = m.signals
    assert s["instance"] == 1
    assert m.labels == {"instance": "black_waste"}  # "1 — Black waste"
    assert (s["relative_level"], s["resolution"]) == (3, 4)  # Level = 3 / 4
    assert s["absolute_level"] == 80  # 0x0050 l, precision 1 l
    assert s["tank_size"] == 160  # 0x00A0 l
    assert m.units["absolute_level"] == "L"
    # "If only one waste tank is present" ... LPG is 3, second fresh water 16.
    second = rvc.decode(0x19FFB742, frame("10 01 02 FFFF FFFF FF"))
    assert second.signals == {
        "instance": 16,
        "relative_level": 1,
        "resolution": 2,
        "absolute_level": None,
        "tank_size": None,
    }
    assert second.labels == {"instance": "second_fresh_water"}


def test_water_heater_status(rvc: RVCConfig) -> None:
    # 6.9.2: 0 instance, 1 operating mode, 2-3 set point °C, 4-5 water temperature °C,
    # 6 thermostat(0-1) burner(2-3) AC element(4-5) limit switch(6-7), 7 failure to ignite(0-1)
    # AC power failure(2-3) DC power failure(4-5) DC power warning(6-7).
    # Set point 0x29A0 = 10656: 10656 x 0.03125 - 273 = 333 - 273 = 60.0 °C.
    # Water 0x27D0 = 10192: 10192 x 0.03125 - 273 = 318.5 - 273 = 45.5 °C.
    # Byte 6 = 0x11 = 00 01 00 01b: set point not met, burner off, AC element active, not tripped.
    m = rvc.decode(0x19FFF742, frame("01 02 A029 D027 11 00"))
    assert m.name == "WATERHEATER_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["operating_modes"] == "electric"  # 2 – electric
    assert s["set_point_temperature"] == 60.0
    assert s["water_temperature"] == 45.5
    assert m.units["water_temperature"] == "°C"
    assert s["thermostat_status"] == "set_point_not_met"
    assert s["burner_status"] == "off"
    assert s["ac_element_status"] == "ac_element_is_active"
    assert s["high_temperature_limit_switch_status"] == "limit_switch_not_tripped"
    assert s["failure_to_ignite_status"] == "no_failure"
    assert s["ac_power_failure_status"] == "ac_power_present"
    assert s["dc_power_failure_status"] == "dc_power_present"
    assert s["dc_power_warning_status"] == "dc_power_sufficient"


def test_furnace_status(rvc: RVCConfig) -> None:
    # 6.15.2: 0 instance (zone), 1 operating mode(0-1) heat source(2-7, uint6), 2 circulation fan
    # speed %, 3 heat output level %, 4 dead band (0.1 °C), 5 second stage dead band, 6 zone
    # overcurrent(0-1) undercurrent(2-3) temperature(4-5) analog input(6-7).
    # Byte 1 = 0x04: mode 00b automatic, heat source 000001b (AC power primary).
    # Fan 0xC8 = 200 x 0.5 = 100 %, output 0x64 = 100 x 0.5 = 50 %; dead bands 15 and 20 x 0.1 °C.
    # Byte 6 = 0x10: temperature warning (bits 4-5 = 01b), the rest 00b.
    m = rvc.decode(0x19FFE442, frame("01 04 C8 64 0F 14 10 FF"))
    assert m.name == "FURNACE_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["operating_mode"] == "automatic"
    assert s["heat_source"] == "ac_power_primary"
    assert s["circulation_fan_speed"] == 100.0
    assert s["heat_output_level"] == 50.0
    assert s["dead_band"] == 1.5
    assert s["second_stage_dead_band"] == 2.0
    assert s["zoneovercurrent_status"] == "no_overcurrent_detected"
    assert s["zoneundercurrent_status"] == "no_undercurrent_detected"
    assert s["zonetemperature_status"] == "temperature_warning"
    assert s["zoneanalog_input_status"] == "off_inactive"


def test_awning_status(rvc: RVCConfig) -> None:
    # 6.38.2: 0 instance, 1 motion, 2 position %, 3 travel lock(0-1) unlock(2-3) user lock(4-5)
    # brake(6-7), 4 parked(0-1) ignition(2-3) low voltage(4-5) generic lock(6-7), 5 awning light
    # (0-1) secondary light(2-3) auto retraction park brake(4-5) ignition(6-7), 6 awning light %,
    # 7 secondary light %.
    # Main patio awning (1) extending, 0x64 = 100 x 0.5 = 50 % out; byte 3 = 0x01: not secured;
    # byte 5 = 0x11: light on, auto retraction on park brake release; light 0xC8 = 100 %.
    m = rvc.decode(0x19FEF342, frame("01 01 64 01 00 11 C8 FF"))
    assert m.name == "AWNING_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["motion"] == "extending"
    assert s["position"] == 50.0
    assert s["travel_lock_status"] == "awning_is_not_secured"
    assert s["unlock_status"] == "awning_is_unlocked_and_ready_to_move"
    assert s["user_lock_status"] == "user_lock_is_not_activated"
    assert s["brake_status"] == "all_motor_brakes_are_not_locked"
    for name in ("parked_status", "ignition_key", "low_voltage", "generic_lock"):
        assert s[name] == "awning_may_move"
    assert s["awning_light"] == "integrated_awning_light_on"
    assert s["secondary_light"] == "secondary_awning_light_off"
    assert (
        s["auto_retraction_on_park_brake_release"]
        == "awning_set_to_automatically_retract_with_park_brake_released"
    )
    assert s["auto_retraction_on_ignition"] == "no_auto_retraction_based_on_ignition"
    assert s["awning_light_2"] == 100.0
    assert s["secondary_light_2"] is None  # 0xFF: not available


def test_slide_status(rvc: RVCConfig) -> None:
    # 6.14.1: 0 instance (2 = Room 2), 1 motion, 2 position %, 3 lock(0-1) unlock(2-3) user lock
    # brake(6-7), 4 park brake(0-1) leveling jacks(2-3) ignition(4-5) air seal(6-7), 5 low voltage.
    # The table prints "5 to 6" for the user lock status; the 2-bit field between unlock (2-3)
    # and brake (6-7) is bits 4-5, where config/rvc.json has it.
    # Retracting, 0x32 = 50 x 0.5 = 25 % out; byte 3 = 0x01 not secured; byte 4 = 0x04: leveling
    # jacks hold it; byte 5 = 0xFC: low voltage 00b, unused bits ones.
    m = rvc.decode(0x19FFE842, frame("02 02 32 01 04 FC FF FF"))
    assert m.name == "SLIDE_STATUS"
    s = m.signals
    assert s["instance"] == 2
    assert s["motion"] == "retracting"
    assert s["position"] == 25.0
    assert s["lock_status"] == "slide_is_not_secured"
    assert s["unlock_status"] == "slide_is_unlocked_and_ready_to_move"
    assert s["user_lock_status"] == "user_lock_is_not_activated"
    assert s["brake_status"] == "all_motor_brake_are_not_locked"
    assert s["park_brake"] == "slide_may_move"
    assert s["leveling_jacks"] == "slide_shall_not_move_because_of_leveler_status"
    assert s["ignition_key"] == "slide_may_move"
    assert s["air_seal"] == "slide_may_move"
    assert s["low_voltage"] == "slide_may_move"


def test_window_shade_control_status(rvc: RVCConfig) -> None:
    # 6.39.2: 0 instance, 1 group bitmap, 2 motor duty %, 3 lock(0-1) motor(2-3) forward(4-5)
    # reverse(6-7), 4 duration s, 5 last command (table 6.39.3c), 6 overcurrent(0-1) override
    # (2-3) disable 1(4-5) disable 2(6-7).
    # Group 01111110b = group 1; duty 0xC8 = 100 %; byte 3 = 0x14 = 00 01 01 00b: unlocked, motor
    # on, forward on (raising), reverse off; 30 s left; last command 81 (hex: Forward);
    # byte 6 = 0xF0: no overcurrent, no override, disable 1 and 2 "not supported" (11b).
    m = rvc.decode(0x19FEDE42, frame("03 7E C8 14 1E 81 F0 FF"))
    assert m.name == "WINDOW_SHADE_CONTROL_STATUS"
    s = m.signals
    assert s["instance"] == 3
    assert s["group"] == 0b01111110
    assert s["operating_status_motor_duty"] == 100.0
    assert s["lock_status"] == "load_is_unlocked"
    assert s["motor_status"] == "either_forward_or_reverse_output_is_on"
    assert s["forward_status"] == "forward_output_is_on"
    assert s["reverse_status"] == "reverse_output_not_on"
    assert s["duration"] == 30
    assert m.units["duration"] == "s"
    assert s["last_command"] == "forward"
    assert s["overcurrent_status"] == "load_output_not_in_overcurrent"
    assert s["override_status"] == "external_override_is_inactive"
    assert s["disable1_status"] == "disable_1_is_not_supported"
    assert s["disable2_status"] == "disable_2_is_not_supported"
    assert m.flags is None


def test_roof_fan_status_1(rvc: RVCConfig) -> None:
    # 6.46.2: 0 instance, 1 system(0-1) fan mode(2-3) speed mode(4-5) light(6-7), 2 fan speed %,
    # 3 wind direction(0-1) dome position(2-5, uint4) deprecated(6-7), 4-5 ambient °C,
    # 6-7 set point °C.
    # Byte 1 = 0x11 = 00 01 00 01b: on, fan auto, speed manual, light off; 0x96 = 150 x 0.5 = 75 %.
    # Byte 3 = 0xC9 = 11 0010 01b: air in, dome 0010b = half open, deprecated bits ones.
    # Ambient 0x2540 = 9536: 9536 x 0.03125 - 273 = 298 - 273 = 25.0 °C.
    # Set point 0x24F0 = 9456: 9456 x 0.03125 - 273 = 295.5 - 273 = 22.5 °C.
    m = rvc.decode(0x19FEA742, frame("01 11 96 C9 4025 F024"))
    assert m.name == "ROOF_FAN_STATUS_1"
    s = m.signals
    assert s["instance"] == 1
    assert s["system_status"] == "on"
    assert s["fan_mode"] == "auto"
    assert s["speed_mode"] == "manual"
    assert s["light"] == "off"
    assert s["fan_speed_setting"] == 75.0
    assert s["wind_direction_switch"] == "air_in"
    assert s["dome_position"] == "1_2_open"
    assert s["ambient_temperature"] == 25.0
    assert s["set_point"] == 22.5


def test_water_pump_status(rvc: RVCConfig) -> None:
    # 6.29.2 (single instance): 0 operating status(0-1) pump status(2-3) water hookup(4-5),
    # 1-2 system pressure, 3-4 pump pressure setting, 5-6 regulator setting (precision 100 Pa),
    # 7 operating current A.
    # Byte 0 = 0xC5 = 11 00 01 01b: enabled, running, not hooked up.
    # 0x0AC6 = 2758 x 100 Pa = 275,800 Pa (about 40 psi); 0x0BB8 = 3000 x 100 = 300,000 Pa.
    m = rvc.decode(0x19FFB342, frame("C5 C60A B80B FFFF 04"))
    assert m.name == "WATER_PUMP_STATUS"
    assert m.instance is None
    s = m.signals
    assert s["operating_status"] == "pump_enabled_standby_or_running"
    assert s["pump_status"] == "pump_running"
    assert s["water_hookup_detected"] == "rv_is_not_hooked_up"
    assert s["current_system_pressure"] == 275_800
    assert s["pump_pressure_setting"] == 300_000
    assert m.units["current_system_pressure"] == "Pa"
    assert s["regulator_pressure_setting"] is None
    assert s["operating_current"] == 4
    assert m.units["operating_current"] == "A"


def test_charger_status(rvc: RVCConfig) -> None:
    # 6.20.8: 0 instance, 1-2 charge voltage, 3-4 charge current, 5 percent of maximum,
    # 6 operating state, 7 default state on power-up(0-1) auto recharge(2-3) force charge(4-7).
    # 0x0120 = 288 x 0.05 = 14.40 V; 0x7EF4 = 32500: 32500 x 0.05 - 1600 = 1625 - 1600 = 25.00 A;
    # 0x64 = 100 x 0.5 = 50 %; state 2 = bulk; byte 7 = 0x05: enabled, auto recharge on, not forced.
    m = rvc.decode(0x19FFC742, frame("01 2001 F47E 64 02 05"))
    assert m.name == "CHARGER_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["charge_voltage"] == 14.40
    assert s["charge_current"] == 25.00
    assert s["charge_current_percent_of_maximum"] == 50.0
    assert s["operating_state"] == "bulk"
    assert s["default_state_on_power_up"] == "charger_enabled"
    assert s["auto_recharge_enable"] == "auto_recharge_enabled"
    assert s["force_charge"] == "charging_is_not_forced"
    # Charging current below zero: 0x7CE0 = 31968: 31968 x 0.05 - 1600 = -1.60 A.
    assert rvc.decode(0x19FFC742, frame("01 2001 E07C 00 06 05")).signals["charge_current"] == -1.6


def test_inverter_status(rvc: RVCConfig) -> None:
    # 6.19.8: 0 instance, 1 status, 2 battery temperature sensor(0-1) load sense(2-3) inverter
    # enabled(4-5) pass-through(6-7), 3 generator support(0-1).
    # Byte 2 = 0x51 = 01 01 00 01b: sensor present, load sense off, inverter on, pass-through on.
    m = rvc.decode(0x19FFD442, frame("01 01 51 FC FFFFFFFF"))
    assert m.name == "INVERTER_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["status"] == "invert"  # 1 - Invert
    assert s["battery_temperature_sensor_present"] == "sensor_is_present_and_active"
    assert s["load_sense_enabled"] == "load_sense_disabled"  # 00b - Load sense disabled
    assert s["inverter_enabled"] == "inverter_enabled"  # 01b - Inverter enabled
    assert s["pass_through_enable"] == "pass_through_enabled"  # 01b - Pass-through enabled
    assert s["generator_support_enabled"] == "generator_support_disabled"


def test_solar_controller_status(rvc: RVCConfig) -> None:
    # 6.45.2: as CHARGER_STATUS, with power-up state(0-1) clear history(2-3) force charge(4-7)
    # in byte 7; the operating state uses table 6.5.5b.
    # 0x011A = 282 x 0.05 = 14.10 V; 0x7DFA = 32250: 32250 x 0.05 - 1600 = 1612.5 - 1600 = 12.50 A;
    # 0x32 = 50 x 0.5 = 25 %; state 3 = absorption; byte 7 = 0x01: enabled, history not clear.
    m = rvc.decode(0x19FEB342, frame("01 1A01 FA7D 32 03 01"))
    assert m.name == "SOLAR_CONTROLLER_STATUS"
    s = m.signals
    assert s["charge_voltage"] == 14.10
    assert s["charge_current"] == 12.50
    assert s["charge_current_percent_of_maximum"] == 25.0
    assert s["operating_state"] == "absorption"
    assert s["power_up_state"] == "controller_enabled"
    assert s["clear_history"] == "history_not_clear"
    assert s["force_charge"] == "charging_is_not_forced"


def test_battery_status_1_and_2(rvc: RVCConfig) -> None:
    # 6.49.1: 0 battery instance, 1 DC instance, 2-3 DC voltage, 4-7 DC current (uint32).
    # 0x0109 = 265 x 0.05 = 13.25 V.
    # 0x7735632C = 2,000,000,000 - 12,500 = 1,999,987,500: x 0.001 - 2,000,000 = -12.500 A
    # ("a negative value would be indicative of the battery being recharged").
    m = rvc.decode(0x19FE9542, frame("01 01 0901 2C633577"))
    assert m.name == "BATTERY_STATUS_1"
    assert m.instance == 1
    s = m.signals
    assert (s["battery_instance"], s["dc_instance"]) == (1, 1)
    assert s["dc_voltage"] == 13.25
    assert s["dc_current"] == -12.5
    # 6.49.2: 0 battery instance, 1 DC instance, 2-3 source temperature, 4 state of charge,
    # 5-6 time remaining (min), 7 time remaining interpretation(0-1).
    # 0x24A0 = 9376: 9376 x 0.03125 - 273 = 293 - 273 = 20.0 °C; 0xAA = 170 x 0.5 = 85 %;
    # 0x012C = 300 min; byte 7 = 0xFD: 01b = time to full.
    m = rvc.decode(0x19FE9442, frame("01 01 A024 AA 2C01 FD"))
    assert m.name == "BATTERY_STATUS_2"
    s = m.signals
    assert s["source_temperature"] == 20.0
    assert s["state_of_charge"] == 85.0
    assert s["time_remaining"] == 300
    assert m.units["time_remaining"] == "min"
    assert s["time_remaining_interpretation"] == "time_to_full"


def test_dc_load_status(rvc: RVCConfig) -> None:
    # 6.23.2: 0 instance, 1 group, 2 operating status (level) %, 3 operating mode(0-1) variable
    # level capability(2-3) priority(4-7), 4 delay s, 5 demanded current A, 6-7 present current.
    # Group 01111110b (group 1); 0xC8 = 100 %; byte 3 = 0x35 = 0011 01 01b: manual, dimmable,
    # priority 3; no delay; 10 A demanded; 0x7DAA = 32170: 32170 x 0.05 - 1600 = 8.50 A.
    m = rvc.decode(0x19FFBD42, frame("05 7E C8 35 00 0A AA7D"))
    assert m.name == "DC_LOAD_STATUS"
    s = m.signals
    assert s["instance"] == 5
    assert s["group"] == 0b01111110
    assert s["operating_status_level"] == 100.0
    assert s["operating_mode"] == "manual"
    assert s["variable_level_capability"] == "variable"
    assert s["priority"] == 3
    assert s["delay"] == 0
    assert s["demanded_current"] == 10
    assert s["present_current"] == 8.5
    # 252 is "Load delay active"; priority 1110b is "Error"; delay 241 is 5 minutes.
    m = rvc.decode(0x19FFBD42, frame("05 00 FC E5 F1 FF FFFF"))
    s = m.signals
    assert s["group"] == 0
    assert s["operating_status_level"] is None
    assert s["variable_level_capability"] == "variable"
    assert s["priority"] is None
    assert m.flags == {"priority": "error"}
    assert s["delay"] == 300  # 5 minutes, in the signal's unit (s)
    assert m.labels == {
        "group": "all_groups",
        "operating_status_level": "load_delay_active",
        "delay": "5_min",
    }
    assert m.raw == {"operating_mode": 1, "variable_level_capability": 1}
    assert s["present_current"] is None


def test_ats_ac_status_1(rvc: RVCConfig) -> None:
    # 6.32.2: byte 0 is table 6.32.2b: transfer switch instance(0-2, 1 to 6 valid), input/output
    # (3), source(4-6), leg(7); bytes 1-7 as AC Point Status 1 (6.1.2).
    # Byte 0 = 0x16 = 0 001 0 110b: instance 6, input, secondary source, leg 1.
    # 0x0960 = 2400 x 0.05 = 120.0 V; 0x7E18 = 32280: 32280 x 0.05 - 1600 = 14.0 A;
    # 0x1E00 = 7680 / 128 = 60.0 Hz; byte 7 = 0x00: no faults.
    m = rvc.decode(0x0DFFAD42, frame("16 6009 187E 001E 00"))
    assert m.name == "ATS_AC_STATUS_1"
    assert m.priority == 3
    assert m.instance == 6
    s = m.signals
    assert s["transfer_switch_instance"] == 6  # a valid instance, not the uint3 "error" value
    assert s["input_output_type"] == "input"
    assert s["source"] == "secondary"
    assert s["leg"] == "leg1"
    assert s["rms_voltage"] == 120.0
    assert s["rms_current"] == 14.0
    assert s["frequency"] == 60.0
    assert s["fault_open_ground"] == "no_fault"
    assert s["fault_ground_current"] == "no_fault"
    assert m.flags is None
    # 0xF9 = 1 111 1 001b: instance 1, output, source 111b "invalid (no data)", leg 2.
    s = rvc.decode(0x0DFFAD42, frame("F9 FFFF FFFF FFFF FF")).signals
    assert (s["transfer_switch_instance"], s["input_output_type"]) == (1, "output")
    assert (s["source"], s["leg"]) == ("invalid_no_data", "leg2")


def test_door_status(rvc: RVCConfig) -> None:
    # 6.40.2: 0 instance, 1 lock status(0-1), 2 motion, 3 position %, 4-5 voltage.
    # Byte 1 = 0xFD: locked; no motion; 0 % (closed); 0x00FC = 252 x 0.05 = 12.60 V.
    m = rvc.decode(0x19FEE542, frame("01 FD 00 00 FC00 FFFF"))
    assert m.name == "DOOR_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["lock_status"] == "locked"
    assert s["motion"] == "no_motion"
    assert s["position"] == 0.0
    assert s["voltage"] == 12.60


def test_heat_pump_status(rvc: RVCConfig) -> None:
    # 6.17.5: 0 instance, 1 operating mode, 2 max heat output %, 3 heat output %, 4 dead band,
    # 5 second stage dead band (0.1 °C), 6 fan speed %.
    # Manual; 0xC8 = 100 %; 0x32 = 50 x 0.5 = 25 %; 15 x 0.1 = 1.5 °C; 30 x 0.1 = 3.0 °C; 50 %.
    m = rvc.decode(0x19FF9B42, frame("02 01 C8 32 0F 1E 64 FF"))
    assert m.name == "HEAT_PUMP_STATUS"
    s = m.signals
    assert s["instance"] == 2
    assert s["operating_mode"] == "manual"
    assert s["max_heat_output_level"] == 100.0
    assert s["heat_output_level"] == 25.0
    assert s["dead_band"] == 1.5
    assert s["second_stage_dead_band"] == 3.0
    assert s["fan_speed"] == 50.0


def test_air_conditioner_status(rvc: RVCConfig) -> None:
    # 6.17.2: 0 instance, 1 operating mode, 2 max fan speed %, 3 max output %, 4 fan speed %,
    # 5 output level %, 6 dead band, 7 second stage dead band (0.1 °C).
    # Automatic; 100 %, 100 %; 0x64 = 50 %; 0x96 = 150 x 0.5 = 75 %; 1.0 °C; 0x19 = 25 x 0.1 = 2.5.
    m = rvc.decode(0x19FFE142, frame("01 00 C8 C8 64 96 0A 19"))
    assert m.name == "AIR_CONDITIONER_STATUS"
    s = m.signals
    assert s["instance"] == 1
    assert s["operating_mode"] == "automatic"
    assert s["max_fan_speed"] == 100.0
    assert s["max_air_conditioning_output_level"] == 100.0
    assert s["fan_speed"] == 50.0
    assert s["air_conditioning_output_level"] == 75.0
    assert s["dead_band"] == 1.0
    assert s["second_stage_dead_band"] == 2.5
    assert m.units["dead_band"] == "°C"


def test_generated_decoders_match_the_generic_decoder(rvc: RVCConfig) -> None:
    """The compiled fast path (combined per-byte tables, dict display) agrees with the
    field-by-field reference decoder on every DGN, for random and boundary payloads."""
    rng = random.Random(11)
    payloads = [bytes(8), b"\xff" * 8, b"\xfe" * 8, b"\xfd" * 8]
    payloads += [rng.randbytes(8) for _ in range(40)]
    for definition in rvc.spec.by_dgn.values():
        if definition.multi_packet:
            continue
        dgn = definition.dgn | (0xFF if definition.pdu1 else 0)
        can_id = (6 << 26) | (dgn << 8) | 0x42
        for data in payloads:
            m = rvc.decode(can_id, data)
            assert m.signals == decode_generic(definition, data), (definition.name, data.hex())
            assert m.flags == message_flags(definition, data), (definition.name, data.hex())


@pytest.mark.parametrize("dlc", range(8))
def test_family_frames_cut_short(rvc: RVCConfig, dlc: int) -> None:
    # The slide frame cut to ``dlc`` bytes: the fields present decode, the rest are None.
    full = frame("02 02 32 01 04 FC FF FF")
    s = rvc.decode(0x19FFE842, full[:dlc]).signals
    assert s["instance"] == (2 if dlc >= 1 else None)
    assert s["position"] == (25.0 if dlc >= 3 else None)
    assert s["leveling_jacks"] == (
        "slide_shall_not_move_because_of_leveler_status" if dlc >= 5 else None
    )
