"""One JSON type per signal: numbers stay numbers, enumerations stay labels, nothing is lost.

The spec-wide sweep decodes, for every DGN, frames that walk every signal through its raw range
(all values of fields up to 4 bits; edges, every special value, every named value and a spread
of the rest for wider fields) and validates each record against the DGN's generated schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from backend.cli.decode import register
from backend.integrations.rvc import DgnDefinition, RVCConfig, load_config_data
from backend.integrations.rvc.fields import Field
from backend.integrations.rvc.frame_id import build_can_id
from backend.integrations.rvc.json_schema import dgn_schema, spec_schema
from tests.rvc.conftest import frame

CONFIG = load_config_data()
DEFINITIONS = sorted(CONFIG.spec.by_dgn.values(), key=lambda d: d.dgn)
SPREAD = 48  # evenly spaced raw values of a field wider than 4 bits, besides edges and names


def samples(f: Field) -> list[int]:
    """Raw values that sweep a field: all of a narrow field; edges, specials, names, a spread."""
    if f.mask <= 0xF:
        return list(range(f.mask + 1))
    chosen = {0, 1, 2, *range(f.mask - 5, f.mask + 1), *f.labels, *f.numbers}
    chosen.update(range(0, f.mask + 1, max(1, f.mask // SPREAD)))
    return sorted(chosen)


def sweep_frames(definition: DgnDefinition) -> list[bytes]:
    """Frames where every integer field takes, in turn, each of its sample values."""
    cases: list[tuple[int | None, tuple[Field, ...]]] = [(None, ())]
    if definition.variants is not None:
        cases = list(definition.variants.cases.items())
    frames = []
    for key, case in cases:
        fields = [f for f in (*definition.fields, *case) if f.is_int]
        if definition.variants is not None:
            fields = [f for f in fields if f is not definition.variants.selector]
        length = max([8, *(f.end_byte for f in (*definition.fields, *case) if f.width)])
        values = [samples(f) for f in fields]
        for k in range(max([len(v) for v in values] or [1])):
            v = (1 << (8 * length)) - 1
            for f, raws in zip(fields, values, strict=True):
                v = (v & ~(f.mask << f.start)) | raws[k % len(raws)] << f.start
            if key is not None:
                sel = definition.variants.selector  # type: ignore[union-attr]
                v = (v & ~(sel.mask << sel.start)) | key << sel.start
            frames.append(v.to_bytes(length, "little"))
    return frames


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: f"{d.key}-{d.name}")
def test_every_signal_swept_validates_against_its_dgn_schema(definition: DgnDefinition) -> None:
    validator = Draft202012Validator(dgn_schema(definition))
    can_id = build_can_id(definition.priority, definition.dgn, 0x42, 0 if definition.pdu1 else None)
    for data in sweep_frames(definition):
        record = CONFIG.decode(can_id, data).to_record()
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(record)]
        assert not errors, f"{definition.name} {data.hex().upper()}: {errors[:3]}"
        for name, value in record["signals"].items():
            f = definition.by_name.get(name)
            if f is None or value is None:
                continue
            expected = str if f.json_type == "string" else (int, float)
            assert isinstance(value, expected) and not isinstance(value, bool), (name, value)


def test_the_sweep_covers_every_signal_and_its_special_values() -> None:
    tank = CONFIG.spec.by_name["TANK_STATUS"]
    assert 255 in samples(tank.by_name["instance"]) and 16 in samples(tank.by_name["instance"])
    frames = sweep_frames(tank)
    assert {f[0] for f in frames} >= {0, 1, 2, 3, 16, 17, 18, 19, 253, 254, 255}
    assert sum(len(sweep_frames(d)) for d in DEFINITIONS) > 10_000


def test_the_schema_rejects_what_a_typed_client_would_choke_on(rvc: RVCConfig) -> None:
    validator = Draft202012Validator(dgn_schema(rvc.spec.by_name["TANK_STATUS"]))
    record = rvc.decode(0x19FFB742, frame("00 03 04 5000 A000 FF")).to_record()
    assert validator.is_valid(record)
    assert not validator.is_valid({**record, "signals": {**record["signals"], "instance": "x"}})
    assert not validator.is_valid({**record, "labels": {"instance": "drinking_water"}})
    assert not validator.is_valid({**record, "signals": {**record["signals"], "extra": 1}})
    ac = Draft202012Validator(dgn_schema(rvc.spec.by_name["AIR_CONDITIONER_STATUS"]))
    good = rvc.decode(0x19FFE196, frame("03 01 FF FF 64 C8 FF FF")).to_record()
    assert ac.is_valid(good)
    assert not ac.is_valid({**good, "signals": {**good["signals"], "operating_mode": 1}})


# --- the examples, written out from the spec tables ---------------------------------


def test_numbers_stay_numbers_where_the_spec_names_them(rvc: RVCConfig) -> None:
    # AC_LOAD_STATUS (6.23.3) byte 3 bits 4-7 priority: 0 = highest, 13 = lowest
    m = rvc.decode(0x19FFBF42, frame("01 00 00 D0 00 FF FF FF"))
    assert m.signals["priority"] == 13
    assert m.labels["priority"] == "lowest_priority"
    m = rvc.decode(0x19FFBF42, frame("01 00 00 20 00 FF FF FF"))
    assert m.signals["priority"] == 2
    assert "priority" not in m.labels
    # DC_DIMMER_STATUS_3 (6.24.3) byte 6 delay/duration: 0 = delay/duration has expired
    m = rvc.decode(0x19FEDA42, frame("01 00 00 FC 00 00 FF FF"))
    assert m.signals["delay_duration"] == 0
    assert m.labels["delay_duration"] == "delay_duration_has_expired"
    # CHARGER_COMMAND (6.20.4) instance 0 = all
    m = rvc.decode(0x19FFC542, frame("00 01 FF FF FF FF FF FF"))
    assert m.signals["instance"] == 0
    assert m.labels == {"instance": "all"}
    assert m.signals["status"] == "enable_charger"
    assert m.raw["status"] == 1
    # DATE_TIME_STATUS (6.3.2) month 7 = July
    m = rvc.decode(0x19FFFF42, frame("18 07 04 05 0C 00 00 FF"))
    assert m.signals["month"] == 7
    assert m.labels["month"] == "july"


def test_enumerations_stay_labels_with_their_raw_integer(rvc: RVCConfig) -> None:
    # AIR_CONDITIONER_STATUS (6.16.2) byte 1 operating mode: 0 = automatic, 1 = manual
    m = rvc.decode(0x19FFE196, frame("03 01 FF FF 64 C8 FF FF"))
    assert m.signals["operating_mode"] == "manual"
    assert m.raw == {"operating_mode": 1}
    # An enumeration value the spec does not define: null, flagged, and its raw integer kept.
    m = rvc.decode(0x19FFE196, frame("03 07 FF FF 64 C8 FF FF"))
    assert m.signals["operating_mode"] is None
    assert m.flags == {"operating_mode": "undefined"}
    assert m.raw == {"operating_mode": 7}
    # Not available stays null without a flag, error is flagged (3.2.3), raw in both cases.
    m = rvc.decode(0x19FFE196, frame("03 FF FF FF 64 C8 FF FF"))
    assert m.signals["operating_mode"] is None
    assert m.flags is None
    assert m.raw == {"operating_mode": 255}


def test_named_durations_are_seconds_and_non_quantities_are_null_with_their_name(
    rvc: RVCConfig,
) -> None:
    # DC_LOAD_COMMAND (6.22.4) byte 2 desired level (250 = toggle), byte 4 command, byte 5
    # delay/duration: 241 = 5 min ... 250 = 14 min, 255 = continuous
    m = rvc.decode(0x19FFBC42, frame("01 FF C8 FC 00 F1 FF FF"))
    assert m.signals["delay_duration"] == 300
    assert m.signals["group"] == 255
    assert m.labels == {"group": "for_non_group_commands", "delay_duration": "5_min"}
    m = rvc.decode(0x19FFBC42, frame("01 FF C8 FC 00 FA FF FF"))
    assert m.signals["delay_duration"] == 840
    assert m.labels == {"group": "for_non_group_commands", "delay_duration": "14_min"}
    m = rvc.decode(0x19FFBC42, frame("01 FF FA FC 05 FF FF FF"))
    assert m.signals["delay_duration"] is None  # not a number of seconds
    assert m.signals["desired_level"] is None  # 250 = toggle, not 125 %
    assert m.labels == {
        "group": "for_non_group_commands",
        "desired_level": "toggles_the_load_on_off",
        "delay_duration": "continuous_duration",
    }
    assert m.flags is None


def test_encoder_takes_the_numbers_and_the_names(rvc: RVCConfig) -> None:
    def byte5(value: Any) -> int:
        _, data = rvc.encoder.encode(
            "DC_LOAD_COMMAND",
            {"delay_duration": value},
            instance=1,
            source_address=0x80,
        )
        return data[5]

    assert byte5(300) == 241  # 5 minutes
    assert byte5("5_min") == 241
    assert byte5(840) == 250
    assert byte5("continuous_duration") == 255
    assert byte5(240) == 240
    with pytest.raises(ValueError, match="delay_duration"):
        byte5(250)  # raw 250 is 14 minutes, not 250 s: not representable


def test_every_edge_uses_the_one_shape(rvc: RVCConfig) -> None:
    record = rvc.decode(0x19FFB742, frame("00 03 04 5000 A000 FF")).to_record()
    assert list(record) == [
        "can_id",
        "priority",
        "dgn",
        "name",
        "source",
        "destination",
        "data",
        "signals",
        "labels",
        "raw",
        "units",
    ]
    assert record["signals"]["instance"] == 0
    assert record["labels"] == {"instance": "fresh_water"}


# --- declarations ---------------------------------------------------------------------------


def test_declared_json_types_match_what_the_field_can_decode_to() -> None:
    from backend.integrations.rvc.spec import parse_spec

    def spec_with(signal: dict[str, Any]) -> dict[str, Any]:
        sig = {"name": "instance", "byte": 0, "type": "uint8", **signal}
        return {"spec": {}, "dgns": {"1FFB7": {"name": "X", "priority": 6, "signals": [sig]}}}

    from pathlib import Path

    from backend.integrations.rvc.errors import SpecError

    for bad, words in [
        ({"json_type": "string"}, "needs values"),
        ({"json_type": "integer", "scale": 0.5}, "is a number"),
        ({"json_type": "integer", "values": {"1": "a"}, "numbers": {"2": 5}}, "no label"),
        ({"json_type": "string", "values": {"1": "a"}, "numbers": {"1": 5}}, "not enumerations"),
        ({"json_type": "text"}, "not one of"),
    ]:
        with pytest.raises(SpecError, match=words):
            parse_spec(spec_with(bad), Path("x.json"))


def test_cli_prints_the_schema_of_one_dgn_and_of_all(tmp_path: Any) -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["spec", "--json-schema", "TANK_STATUS"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["properties"]["signals"]["properties"]["instance"]["type"] == ["integer", "null"]
    record = CONFIG.decode(0x19FFB742, frame("10 01 02 FFFF FFFF FF")).to_record()
    Draft202012Validator(schema).validate(record)
    same = runner.invoke(app, ["spec", "--json-schema", "1FFB7"])
    assert json.loads(same.stdout) == schema
    everything = runner.invoke(app, ["spec", "--json-schema"])
    assert everything.exit_code == 0
    whole = json.loads(everything.stdout)
    assert len(whole["$defs"]) == len(DEFINITIONS)
    Draft202012Validator(whole).validate(record)
    assert not Draft202012Validator(whole).is_valid(
        {**record, "signals": {**record["signals"], "instance": "second_fresh_water"}}
    )
    unknown = runner.invoke(app, ["spec", "--json-schema", "NOT_A_DGN"])
    assert unknown.exit_code == 2
    assert "unknown DGN 'NOT_A_DGN'" in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1


def test_spec_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(spec_schema(CONFIG.spec))


NUMERIC_NAME = ("instance", "priority", "group", "month", "day_of_week", "year", "count")
TIME_UNITS = {"s", "ms", "min", "h", "days"}
# Named for what they choose, not a number: "0 - Domestic water priority, 1 - Heating priority".
NOT_NUMBERS = {("WATERHEATER_STATUS_2", "hot_water_priority")}


def test_instances_priorities_dates_and_durations_are_numbers() -> None:
    checked = 0
    for definition in DEFINITIONS:
        for f in definition.all_fields():
            if not f.is_int or (definition.name, f.name) in NOT_NUMBERS:
                continue
            if f.name.endswith(NUMERIC_NAME) or f.unit in TIME_UNITS or f.unit:
                assert f.json_type in ("integer", "number"), (definition.name, f.name)
                checked += 1
    assert checked > 900
