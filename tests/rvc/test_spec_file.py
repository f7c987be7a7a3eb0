"""config/rvc.json: valid against its schema, complete, and internally consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from backend.integrations.rvc import DEFAULT_SPEC_PATH, RVCConfig

SCHEMA_PATH = DEFAULT_SPEC_PATH.with_name("rvc.schema.json")
# Raise this when DGNs are added; the test fails if the count ever drops.
MIN_DGN_COUNT = 349
NAME_RULE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
WIDTHS = {"bit": 1, "uint2": 2, "uint4": 4, "uint8": 8, "uint16": 16, "uint24": 24, "uint32": 32}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(DEFAULT_SPEC_PATH.read_text(encoding="utf-8"))


def test_schema_is_valid_and_file_conforms(raw: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(raw), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:20])


def test_schema_rejects_a_bad_signal() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    bad = {
        "spec": {"title": "RV-C", "edition": "2023-11-06"},
        "layouts": {},
        "dgns": {"1fffd": {}},
    }
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


def test_dgn_count_does_not_drop(rvc: RVCConfig, raw: dict[str, Any]) -> None:
    assert len(raw["dgns"]) >= MIN_DGN_COUNT
    assert len(rvc.spec) == len(raw["dgns"])


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("0EA00", "DG_REQUEST"),
        ("0E800", "ACKNOWLEDGMENT"),
        ("0EE00", "ADDRESS_CLAIMED"),
        ("0EC00", "INITIAL_PACKET"),
        ("0EB00", "DATA_PACKET"),
        ("0FEEB", "PRODUCT_ID"),
        ("1FECA", "DM_RV"),
        ("1FFFD", "DC_SOURCE_STATUS_1"),
        ("1FEDA", "DC_DIMMER_STATUS_3"),
        ("1FEDB", "DC_DIMMER_COMMAND_2"),
        ("1FFCA", "CHARGER_AC_STATUS_1"),
        ("1FFD7", "INVERTER_AC_STATUS_1"),
        ("1FFB7", "TANK_STATUS"),
        ("1FFE2", "THERMOSTAT_STATUS_1"),
        ("1FFDC", "GENERATOR_STATUS_1"),
    ],
)
def test_key_dgns_present(raw: dict[str, Any], key: str, name: str) -> None:
    assert raw["dgns"][key]["name"] == name


def _resolved(raw: dict[str, Any], dgn: dict[str, Any]) -> list[dict[str, Any]]:
    signals = []
    if "layout" in dgn:
        layout = raw["layouts"][dgn["layout"]]
        omit = set(dgn.get("omit", []))
        names = {s["name"] for s in layout["signals"]}
        assert omit <= names, f"omit names not in layout: {omit - names}"
        signals += [s for s in layout["signals"] if s["name"] not in omit]
    return signals + dgn["signals"]


def _bits(sig: dict[str, Any]) -> range | None:
    if sig["type"] in WIDTHS:
        width = WIDTHS[sig["type"]]
    elif sig["type"] == "uint":
        width = sig["bits"]
    elif "length" in sig:
        width = 8 * sig["length"]
    else:
        return None
    start = sig["byte"] * 8 + sig.get("bit", 0)
    return range(start, start + width)


def _check_signals(
    where: str, signals: list[dict[str, Any]], single_frame: bool, taken: dict[int, str]
) -> list[str]:
    problems = []
    names = [s["name"] for s in signals]
    if len(set(names)) != len(names):
        problems.append(f"{where}: duplicate signal names")
    for sig in signals:
        if not NAME_RULE.match(sig["name"]):
            problems.append(f"{where}: signal name {sig['name']!r} breaks the naming rule")
        bits = _bits(sig)
        if bits is None:
            continue
        if single_frame and bits.stop > 64:
            problems.append(f"{where}: {sig['name']} ends beyond byte 7")
        for b in bits:
            if b in taken:
                problems.append(f"{where}: {sig['name']} overlaps {taken[b]}")
                break
            taken[b] = sig["name"]
        for value in sig.get("values", {}):
            if int(value) >= 1 << len(bits):
                problems.append(f"{where}: {sig['name']} label {value} does not fit")
    return problems


def test_every_dgn_is_consistent(raw: dict[str, Any]) -> None:
    problems: list[str] = []
    for key, dgn in raw["dgns"].items():
        where = f"{key} {dgn['name']}"
        number = int(key, 16)
        pf = (number >> 8) & 0xFF
        if dgn["pdu1"] != (pf < 0xF0):
            problems.append(f"{where}: pdu1 does not match PF {pf:02X}")
        if pf < 0xF0 and number & 0xFF:
            problems.append(f"{where}: PDU1 key must have the destination byte cleared")
        if "layout" in dgn and dgn["layout"] not in raw["layouts"]:
            problems.append(f"{where}: layout {dgn['layout']} does not exist")
            continue
        signals = _resolved(raw, dgn)
        taken: dict[int, str] = {}
        problems += _check_signals(where, signals, dgn["frames"] == 1, taken)
        if dgn["instance"] is not None and dgn["instance"] not in {s["name"] for s in signals}:
            problems.append(f"{where}: instance signal {dgn['instance']} missing")
        variants = dgn.get("variants")
        if variants:
            if variants["selector"] not in {s["name"] for s in signals}:
                problems.append(f"{where}: variant selector missing")
            for case, case_signals in variants["cases"].items():
                problems += _check_signals(
                    f"{where} case {case}", case_signals, dgn["frames"] == 1, dict(taken)
                )
    assert not problems, "\n".join(problems)


def test_names_unique_across_dgns(raw: dict[str, Any]) -> None:
    names = [d["name"] for d in raw["dgns"].values()]
    assert len(names) == len(set(names))


def test_spec_path_is_independent_of_cwd() -> None:
    assert DEFAULT_SPEC_PATH.is_absolute()
    assert Path(__file__).resolve().parents[2] / "config" / "rvc.json" == DEFAULT_SPEC_PATH
