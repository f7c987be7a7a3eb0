"""Decoding: real frames with the values the spec gives, special values, short frames."""

from __future__ import annotations

import pytest

from backend.integrations.rvc import RVCConfig
from tests.rvc.conftest import frame


def test_dc_source_status_1_real_frame(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FFFD42, frame("0164020100943577"))
    assert m.name == "DC_SOURCE_STATUS_1"
    assert (m.priority, m.dgn, m.source, m.destination) == (6, 0x1FFFD, 0x42, None)
    assert m.instance == 1
    assert m.signals["dc_instance"] == 1  # an instance is a number, whatever its name
    assert m.signals["device_priority"] == 100
    # the spec's names of those numbers: 1 = main house battery bank, 100 = inverter/charger
    assert m.labels == {
        "dc_instance": "main_house_battery_bank",
        "device_priority": "inverter_charger",
    }
    assert m.raw == {}  # DC_SOURCE_STATUS_1 has no enumeration
    assert m.signals["dc_voltage"] == 12.90  # 0x0102 x 0.05 V, exactly
    assert m.signals["dc_current"] == 0.000  # 0x77359400 x 0.001 - 2,000,000 A
    assert m.units["dc_voltage"] == "V"
    assert m.units["dc_current"] == "A"
    assert m.flags is None


def test_generator_status_1_real_frame(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FFDC5D, frame("005E010000FFFFFF"))
    assert m.name == "GENERATOR_STATUS_1"
    assert m.signals["status"] == "stopped"
    assert m.signals["engine_run_time"] == 350
    assert m.units["engine_run_time"] == "min"
    assert m.signals["engine_load"] is None
    assert m.signals["start_battery_voltage"] is None
    assert m.instance is None  # single-instance device


@pytest.mark.parametrize(
    ("can_id", "data", "name", "direction"),
    [
        (0x19FFCA42, "013809FFFF0D1EFF", "CHARGER_AC_STATUS_1", "input"),
        (0x19FFD742, "413809FFFF0D1EFF", "INVERTER_AC_STATUS_1", "output"),
    ],
)
def test_ac_status_1_device_uses(
    rvc: RVCConfig, can_id: int, data: str, name: str, direction: str
) -> None:
    m = rvc.decode(can_id, frame(data))
    assert m.name == name
    assert m.instance == 1
    assert m.signals["line"] == "line_1"
    assert m.signals["input_output"] == direction
    assert m.signals["rms_voltage"] == 118.0  # 0x0938 x 0.05
    assert m.signals["rms_current"] is None
    assert m.signals["frequency"] == pytest.approx(60.10, abs=0.005)  # 0x1E0D / 128
    assert m.signals["frequency"] == 7693 / 128


def test_date_time_status_real_frame(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FFFF5D, frame("000603010E2038FF"))
    s = m.signals
    assert s["year"] == 2000
    assert s["month"] == 6  # date fields are numbers; the name goes in labels
    assert s["day_of_month"] == 3
    assert s["day_of_week"] == 1
    assert m.labels == {"month": "june", "day_of_week": "sunday"}
    assert (s["hour"], s["minute"], s["second"]) == (14, 32, 56)
    assert s["time_zone"] is None


def test_ac_load_status_real_frame(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FFBF5D, frame("DBFF0060000BFFFF"))
    assert m.instance == 219
    assert m.signals["group"] is None
    assert m.signals["operating_status_level"] == 0.0
    assert m.units["operating_status_level"] == "%"


def test_inverter_temperature_status_real_frame(rvc: RVCConfig) -> None:
    s = rvc.decode(0x19FEBD42, frame("01C026C026FFFFFF")).signals
    assert s["fet1_temperature"] == 37.0  # 0x26C0 x 0.03125 - 273
    assert s["transformer_temperature"] == 37.0
    assert s["fet2_temperature"] is None


@pytest.mark.parametrize(
    ("data", "instance", "mode", "fan", "output"),
    [
        # from the 2022 Entegra Aspire capture, source 0x96
        ("03 01 FF FF 64 C8 FF FF", 3, "manual", 50.0, 100.0),
        ("02 00 FF FF 00 00 FF FF", 2, "automatic", 0.0, 0.0),
        ("01 00 FF FF 64 00 FF FF", 1, "automatic", 50.0, 0.0),
    ],
)
def test_air_conditioner_command_capture(
    rvc: RVCConfig, data: str, instance: int, mode: str, fan: float, output: float
) -> None:
    m = rvc.decode(0x19FFE096, frame(data))
    assert m.name == "AIR_CONDITIONER_COMMAND"
    assert m.source == 0x96
    assert m.instance == instance
    assert m.signals["operating_mode"] == mode
    assert m.signals["fan_speed"] == fan
    assert m.signals["air_conditioning_output_level"] == output
    assert m.signals["max_fan_speed"] is None
    assert m.signals["dead_band"] is None


def test_thermostat_status_scaling(rvc: RVCConfig) -> None:
    # 22.0 degC = (22 + 273) / 0.03125 = 9440 = 0x24E0; mode 1 cool, fan auto, schedule off
    s = rvc.decode(0x19FFE258, frame("0101C8E024E024FF")).signals
    assert s["operating_mode"] == "cool"
    assert s["fan_mode"] == "auto"
    assert s["schedule_mode"] == "disabled"
    assert s["fan_speed"] == 100.0
    assert s["setpoint_temp_heat"] == 22.0
    assert s["setpoint_temp_cool"] == 22.0


def test_special_values_and_flags(rvc: RVCConfig) -> None:
    na = rvc.decode(0x19FFFD42, frame("0164FFFFFFFFFFFF"))
    assert na.signals["dc_voltage"] is None
    assert na.signals["dc_current"] is None
    assert na.flags is None  # "not available" is not a condition
    err = rvc.decode(0x19FFFD42, frame("0164FEFFFEFFFFFF"))
    assert err.signals["dc_voltage"] is None
    assert err.signals["dc_current"] is None
    assert err.flags == {"dc_voltage": "out_of_range", "dc_current": "out_of_range"}
    reserved = rvc.decode(0x19FFFD42, frame("0164FDFF00943577"))
    assert reserved.signals["dc_voltage"] is None
    assert reserved.flags == {"dc_voltage": "reserved"}
    assert reserved.to_record()["flags"] == {"dc_voltage": "reserved"}


def test_uint2_error_is_flagged(rvc: RVCConfig) -> None:
    # AC_STATUS_1 byte 7 bits 0-1 = 10b: error
    m = rvc.decode(0x19FFCA42, frame("013809FFFF0D1EFE"))
    assert m.signals["fault_open_ground"] is None
    assert m.flags == {"fault_open_ground": "error"}


def test_labels_naming_special_values_win(rvc: RVCConfig) -> None:
    # DC_DIMMER_STATUS_3 delay/duration: 255 is labelled "no delay/duration active"
    m = rvc.decode(0x19FEDA80, frame("02FFC8FCFFFFFFFF"))
    assert m.signals["delay_duration"] is None  # a number or null, never a label
    assert m.labels == {"delay_duration": "no_delay_duration_active"}
    assert m.flags is None  # a named value, not a special condition
    assert m.signals["operating_status_brightness"] == 100.0


@pytest.mark.parametrize("dlc", range(8))
def test_short_frames_decode_the_bytes_present(rvc: RVCConfig, dlc: int) -> None:
    full = frame("0164020100943577")
    m = rvc.decode(0x19FFFD42, full[:dlc])
    assert m.name == "DC_SOURCE_STATUS_1"
    assert m.data == full[:dlc]
    assert m.signals["dc_instance"] == (1 if dlc >= 1 else None)
    assert m.signals["device_priority"] == (100 if dlc >= 2 else None)
    assert ("dc_instance" in m.labels) == (dlc >= 1)
    assert m.signals["dc_voltage"] == (12.90 if dlc >= 4 else None)
    assert m.signals["dc_current"] is None  # needs bytes 4-7


def test_data_as_hex_str_bytearray_memoryview(rvc: RVCConfig) -> None:
    expected = rvc.decode(0x19FFFD42, frame("0164020100943577")).signals
    assert rvc.decode(0x19FFFD42, "0164020100943577").signals == expected
    assert rvc.decode(0x19FFFD42, "01 64 02 01 00 94 35 77").signals == expected
    assert rvc.decode(0x19FFFD42, bytearray(frame("0164020100943577"))).signals == expected
    assert rvc.decode(0x19FFFD42, memoryview(frame("0164020100943577"))).signals == expected


def test_invalid_hex_is_a_flag_not_an_exception(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FFFD42, "not hex")
    assert m.name == "DC_SOURCE_STATUS_1"
    assert m.signals == {}
    assert m.flags == {"data": "invalid"}


def test_unknown_and_proprietary_dgns(rvc: RVCConfig) -> None:
    unknown = rvc.decode(0x18FEDA9F, frame("0102"))
    assert unknown.name is None
    assert unknown.dgn == 0x0FEDA
    assert unknown.signals == {}
    record = unknown.to_record()
    assert record["name"] is None
    assert record["data"] == "0102"
    proprietary = rvc.decode(0x18FF1042, frame("0011223344556677"))
    assert proprietary.name == "PROPRIETARY"
    assert rvc.decode(0x18EF4280, frame("00FFFFFFFFFFFFFF")).name == "PROPRIETARY_MESSAGE"


def test_empty_frame(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FFFD42, b"")
    assert m.name == "DC_SOURCE_STATUS_1"
    assert all(v is None for v in m.signals.values())


def test_request_is_pdu1_with_destination(rvc: RVCConfig) -> None:
    m = rvc.decode(0x18EAFF44, frame("EBFE00FFFFFFFFFF"))
    assert m.name == "DG_REQUEST"
    assert m.destination == 255
    assert m.source == 0x44
    assert m.signals["desired_dgn"] == 0x0FEEB
    directed = rvc.decode(0x18EA4280, frame("EBFE00FFFFFFFFFF"))
    assert directed.destination == 0x42
    assert directed.dgn == 0x0EA00


def test_record_shape(rvc: RVCConfig) -> None:
    record = rvc.decode(0x19FFFD42, frame("0164020100943577")).to_record()
    assert record == {
        "can_id": "19FFFD42",
        "priority": 6,
        "dgn": "1FFFD",
        "name": "DC_SOURCE_STATUS_1",
        "source": 0x42,
        "destination": None,
        "data": "0164020100943577",
        "signals": {
            "dc_instance": 1,
            "device_priority": 100,
            "dc_voltage": 12.9,
            "dc_current": 0.0,
        },
        "labels": {"dc_instance": "main_house_battery_bank", "device_priority": "inverter_charger"},
        "raw": {},
        "units": {"dc_voltage": "V", "dc_current": "A"},
    }


def test_dm_rv_single_frame_dtc(rvc: RVCConfig) -> None:
    # spec 3.2.5.5 example: SPN bytes 01h 03h C0h -> SPN 081Eh (single-instance device), FMI 0
    m = rvc.decode(0x19FECA42, frame("05A00103C0FFFFFF"))
    assert m.name == "DM_RV"
    assert m.signals["operating_status"] == "on"  # bits 0-1 = 01b
    assert m.signals["operating_status_2"] == "active"  # bits 2-3 = 01b
    assert m.signals["dsa"] == 0xA0
    assert m.signals["dtcs"] == [
        {"spn": 0x081E, "fmi": 0, "occurrence_count": None, "dsa_extension": None}
    ]
    assert m.flags is None


def test_dm_rv_without_faults(rvc: RVCConfig) -> None:
    m = rvc.decode(0x19FECA42, frame("05A0FFFFFFFFFFFF"))
    assert m.signals["dtcs"] == []


def test_values_follow_signal_names(rvc: RVCConfig) -> None:
    for data in ("0164020100943577", "016402"):  # generated and generic decoders
        m = rvc.decode(0x19FFFD42, frame(data))
        assert m.definition is not None
        assert m.values == tuple(m.signals[name] for name in m.definition.signal_names)
    assert rvc.decode(0x18FEDA9F, b"").values is None
