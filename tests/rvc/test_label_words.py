"""Every enumeration label is the spec's words for that value, in snake_case.

``config/rvc.json`` keeps, next to each signal's ``values`` (raw value -> label), the words the
specification's table prints for that value (``words``, raw value -> text). This test reads only
the project's data: every named value has its words, and its label is exactly those words in
lower snake_case. A paraphrase ("sensor_present" for "Sensor is present and active") fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.integrations.rvc import RVCConfig
from backend.integrations.rvc.frame_id import build_can_id
from tests.rvc.conftest import frame

RVC_JSON = Path(__file__).resolve().parents[2] / "config" / "rvc.json"


def snake(text: str) -> str:
    """The rule of docs/rvc-spec-format.md: lower case, each run of other characters one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def named_signals() -> Iterator[tuple[str, dict[str, Any]]]:
    data = json.loads(RVC_JSON.read_text(encoding="utf-8"))
    for key, layout in data["layouts"].items():
        for sig in layout["signals"]:
            yield f"layout {key}", sig
    for dgn, definition in data["dgns"].items():
        where = f"{dgn} {definition['name']}"
        for sig in definition.get("signals", []):
            yield where, sig
        for case, signals in definition.get("variants", {}).get("cases", {}).items():
            for sig in signals:
                yield f"{where} (case {case})", sig


SIGNALS = [(where, sig) for where, sig in named_signals() if "values" in sig]


def test_the_data_names_thousands_of_values() -> None:
    # 1061 signals with named values, 3190 values at the time of writing
    assert len(SIGNALS) > 1000
    assert sum(len(sig["values"]) for _, sig in SIGNALS) > 3000


def test_every_named_value_keeps_the_spec_words_it_came_from() -> None:
    missing = [
        f"{where} {sig['name']} {raw}"
        for where, sig in SIGNALS
        for raw in sig["values"]
        if raw not in sig.get("words", {})
    ]
    assert missing == []
    extra = [
        f"{where} {sig['name']} {raw}"
        for where, sig in SIGNALS
        for raw in sig.get("words", {})
        if raw not in sig["values"]
    ]
    assert extra == []


def test_every_label_is_the_spec_words_in_snake_case() -> None:
    wrong = [
        f"{where} {sig['name']} {raw}: {label!r} is not snake({sig['words'][raw]!r})"
        for where, sig in SIGNALS
        for raw, label in sig["values"].items()
        if label != snake(sig["words"][raw])
    ]
    assert wrong == []


def test_labels_are_unique_within_a_signal_unless_the_spec_repeats_the_words() -> None:
    # ROOF_FAN_COMMAND_2 step: the spec prints "1 - One step" and "63 - One step"
    clashes = []
    for where, sig in SIGNALS:
        seen: dict[str, str] = {}
        for raw, label in sig["values"].items():
            if label in seen and sig["words"][seen[label]] != sig["words"][raw]:
                clashes.append(f"{where} {sig['name']} {label}")
            seen.setdefault(label, raw)
    assert clashes == []


# Frames decoded with the spec's words for the value they carry (section, table wording).
CASES = [
    # 6.19.8b INVERTER_STATUS byte 2 bits 0-1: "01b - Sensor is present and active"
    (
        "INVERTER_STATUS",
        "01 01 FD FF FF FF FF FF",
        "battery_temperature_sensor_present",
        "Sensor is present and active",
    ),
    (
        "INVERTER_STATUS",
        "01 01 FC FF FF FF FF FF",
        "battery_temperature_sensor_present",
        "No battery temperature sensor in use",
    ),
    # 6.19.8b byte 2 bits 4-5: "01b - Inverter enabled"
    ("INVERTER_STATUS", "01 01 DF FF FF FF FF FF", "inverter_enabled", "Inverter enabled"),
    # 6.19.9b INVERTER_COMMAND byte 1 bits 2-3: "01b - Enable load sense"
    ("INVERTER_COMMAND", "01 04 FF FF FF FF FF FF", "load_sense_enable", "Enable load sense"),
    # Table 7.5 (ACKNOWLEDGMENT byte 0): "3 Conditions do not allow command to be executed."
    (
        "ACKNOWLEDGMENT",
        "03 01 FF FF 42 00 EF 01",
        "acknowledgment_code",
        "Conditions do not allow command to be executed",
    ),
    (
        "ACKNOWLEDGMENT",
        "05 01 FF FF 42 00 EF 01",
        "acknowledgment_code",
        "Command parameters are out of range",
    ),
    # 6.47.1b GENERIC_ALARM_STATUS byte 2 bits 0-1: "01b - Alarm is Triggered"
    ("GENERIC_ALARM_STATUS", "01 FF FD FF FF FF FF FF", "alarm_triggered", "Alarm is Triggered"),
    # 6.53.2b TV_LIFT_STATUS byte 4 bits 0-1: "01b - Lift will not move because of Parked status."
    (
        "TV_LIFT_STATUS",
        "01 00 00 FF FD FF FF FF",
        "parked_status",
        "Lift will not move because of Parked status",
    ),
    # 6.11.5b VEHICLE_ENVIRONMENT_STATUS byte 1 bits 0-1:
    # "01b - The vehicle is connected to a fresh water supply."
    (
        "VEHICLE_ENVIRONMENT_STATUS",
        "FF FD FF FF FF FF FF FF",
        "water_hookup",
        "The vehicle is connected to a fresh water supply",
    ),
    # 6.18.24b GENERATOR_STATUS_2 byte 0 bits 0-1: "01b - Temperature shutdown active (Genset
    # shall not run)"
    (
        "GENERATOR_STATUS_2",
        "FD FF FF FF FF FF FF FF",
        "temperature_shutdown_switch",
        "Temperature shutdown active",
    ),
]


@pytest.mark.parametrize(("name", "data", "signal", "words"), CASES)
def test_decoded_frames_carry_the_spec_words(
    rvc: RVCConfig, name: str, data: str, signal: str, words: str
) -> None:
    definition = rvc.spec.by_name[name]
    can_id = build_can_id(6, definition.dgn, 0x80, 0xFF if definition.pdu1 else None)
    message = rvc.decode(can_id, frame(data))
    assert message.signals[signal] == snake(words)
