"""TANK_GEOMETRY_STATUS (1FFB5) and TANK_GEOMETRY_COMMAND (1FFB4): every point of the table.

Table 6.28.4b: byte 0 instance, byte 1 number of entries, then per point a 4-byte entry:
level (uint8), precision (uint8), table value (uint16, LSB first, "application specific
interpretation"); "additional table entries may follow in the same format". 6.28.5: the command
has the same format. The messages are multi-packet (3.2.7), so the data is longer than 8 bytes.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from backend.integrations.rvc import RVCConfig, encode
from backend.integrations.rvc.errors import EncodeError, SignalValueError
from backend.integrations.rvc.json_schema import dgn_schema
from tests.rvc.conftest import frame

# Fresh water tank (instance 0), 5 entries:
#   point 1: level 0,   precision 4, table value 0x0000 = 0
#   point 2: level 1,   precision 4, table value 0x0190 = 400
#   point 3: level 2,   precision 4, table value 0x0352 = 850
#   point 4: level 3,   precision 4, table value 0x0514 = 1300
#   point 5: level 4,   precision 4, table value 0x07D0 = 2000
FIVE_POINTS = "00 05 00 04 00 00 01 04 90 01 02 04 52 03 03 04 14 05 04 04 D0 07"
EXPECTED = [
    {"point": 1, "level": 0, "precision": 4, "table_value": 0},
    {"point": 2, "level": 1, "precision": 4, "table_value": 400},
    {"point": 3, "level": 2, "precision": 4, "table_value": 850},
    {"point": 4, "level": 3, "precision": 4, "table_value": 1300},
    {"point": 5, "level": 4, "precision": 4, "table_value": 2000},
]


def _decode(rvc: RVCConfig, can_id: int, hex_data: str) -> Any:
    return rvc.decode(can_id, frame(hex_data))


@pytest.mark.parametrize("can_id", [0x19FFB542, 0x19FFB480], ids=["status", "command"])
def test_points_past_two_are_decoded(rvc: RVCConfig, can_id: int) -> None:
    m = _decode(rvc, can_id, FIVE_POINTS)
    assert m.name in ("TANK_GEOMETRY_STATUS", "TANK_GEOMETRY_COMMAND")
    assert m.signals["instance"] == 0
    assert m.labels["instance"] == "fresh_water"
    assert m.signals["number_of_entries"] == 5
    assert m.signals["table"] == EXPECTED
    # the first two points are also the DGN's own signals
    assert (m.signals["point_2_level"], m.signals["point_2_table_value"]) == (1, 400)
    jsonschema.validate(m.to_record(), dgn_schema(rvc.spec.by_name[m.name]))


def test_the_number_of_entries_bounds_the_table(rvc: RVCConfig) -> None:
    # byte 1 = 3: a fourth and fifth entry in the data are not part of the table
    m = _decode(rvc, 0x19FFB542, "00 03" + FIVE_POINTS[5:])
    assert m.signals["table"] == EXPECTED[:3]


def test_an_incomplete_entry_is_left_out(rvc: RVCConfig) -> None:
    # 5 entries announced, the data ends in the middle of point 4 (level and precision only)
    m = _decode(
        rvc, 0x19FFB542, FIVE_POINTS[: len("00 05 00 04 00 00 01 04 90 01 02 04 52 03 03 04")]
    )
    assert m.signals["table"] == EXPECTED[:3]


def test_not_available_values_are_null(rvc: RVCConfig) -> None:
    # black waste (instance 1), 3 entries, point 3: level FFh, precision FFh, value FFFFh
    m = _decode(rvc, 0x19FFB542, "01 03 00 02 00 00 02 02 E8 03 FF FF FF FF")
    assert m.labels["instance"] == "black_waste"
    assert m.signals["table"][2] == {
        "point": 3,
        "level": None,
        "precision": None,
        "table_value": None,
    }
    assert m.signals["table"][1] == {"point": 2, "level": 2, "precision": 2, "table_value": 1000}


def test_the_encoder_sends_every_point_of_a_table(rvc: RVCConfig) -> None:
    can_id, data = encode(
        "TANK_GEOMETRY_COMMAND",
        {"table": [{k: v for k, v in p.items() if k != "point"} for p in EXPECTED]},
        instance=0,
        source_address=0x80,
        config=rvc,
    )
    # instance 0, 5 entries, then the five 4-byte entries: 22 bytes, a multi-packet message
    assert data == frame(FIVE_POINTS)
    assert can_id & 0x3FFFF00 == 0x1FFB400
    assert rvc.decode(can_id, data).signals["table"] == EXPECTED


def test_the_encoder_refuses_a_bad_table(rvc: RVCConfig) -> None:
    with pytest.raises(SignalValueError, match="table"):
        encode(
            "TANK_GEOMETRY_COMMAND",
            {"table": [{"level": 0, "precision": 4, "table_value": 70000}]},
            instance=0,
            source_address=0x80,
            config=rvc,
        )
    with pytest.raises(EncodeError, match="not both"):
        encode(
            "TANK_GEOMETRY_COMMAND",
            {"table": EXPECTED, "point_1_level": 0},
            instance=0,
            source_address=0x80,
            config=rvc,
        )
