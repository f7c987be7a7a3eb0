"""Mapping files: the shipped ones load; mistakes name the file, the line and the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from backend.core.coach_mapping import (
    DEFAULT_MAPPING_PATH,
    CoachMapping,
    load_mapping,
    resolve_mapping_path,
)
from backend.core.entity_errors import MappingError
from backend.core.entity_types import ENTITY_TYPES


def test_default_mapping_is_the_simulated_coach(default_mapping: CoachMapping) -> None:
    entities = default_mapping.entities
    assert len(entities) >= 30
    assert {e.entity_type for e in entities} == set(ENTITY_TYPES)
    for entity in entities:  # what the simulator needs, explicit in the file
        assert entity.bindings and entity.entity_type
    areas = {e.area for e in entities if e.entity_type == "light"}
    assert len(areas) >= 3
    assert len([e for e in entities if e.entity_type == "thermostat"]) == 2


HEADER = "version: 1\ncoach: {name: test}\nareas: [{id: galley, name: Galley}]\nentities:\n"


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "  - {entity_id: light.a, name: A, type: light, instance: 1}\n"
            "  - {entity_id: light.b, name: B, type: lamp, instance: 2}\n",
            6,
            "entities[1].type: 'lamp' is not one of light",
        ),
        (
            "  - entity_id: light.a\n    name: A\n    type: light\n    instance: 1\n"
            "    status: [DC_DIMMER_STATUS_9]\n",
            9,
            "entities[0].status[0]: unknown DGN 'DC_DIMMER_STATUS_9'",
        ),
        (
            "  - {entity_id: light.a, name: A, type: light, instance: 1, area: bedroom}\n",
            5,
            "entities[0].area: unknown area 'bedroom'; areas: galley",
        ),
        (
            "  - {entity_id: light.a, name: A, type: light, instance: 1}\n"
            "  - {entity_id: light.b, name: B, type: light, instance: 1}\n",
            6,
            "DC_DIMMER_STATUS_3 instance 1 is already claimed by 'light.a'",
        ),
        (
            "  - {entity_id: light.a, name: A, type: light}\n",
            5,
            "DC_DIMMER_STATUS_3 needs an instance",
        ),
        (
            "  - {entity_id: tank.a, name: A, type: tank, instance: 0, status: [DC_LOAD_STATUS]}\n",
            5,
            "tank (tank) is not reported by DC_LOAD_STATUS; status DGNs: TANK_STATUS",
        ),
        (
            "  - {entity_id: light.a, name: A, type: light, instance: 1, colour: red}\n",
            5,
            "unknown key(s) ('colour' was unexpected)",
        ),
        (
            "  - entity_id: slide.a\n    name: A\n    type: slide\n    control: dimmer_pair\n"
            "    instances: {extend: 5}\n",
            9,
            "needs instances for exactly extend, retract",
        ),
    ],
)
def test_mapping_errors_name_file_line_and_problem(
    rvc, write_mapping: Callable[[str], Path], body: str, line: int, message: str
) -> None:
    path = write_mapping(HEADER + body)
    with pytest.raises(MappingError) as info:
        load_mapping(path, rvc.spec)
    text = "\n".join(info.value.problems)
    assert f"{path}:{line}: " in text, text
    assert message in text, text


def test_yaml_syntax_and_missing_file(rvc, write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping("version: 1\ncoach: {name: x\n")
    with pytest.raises(MappingError, match=r"mapping\.yml:\d+: not valid YAML"):
        load_mapping(path, rvc.spec)
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(path.with_name("nope.yml"), rvc.spec)


def test_resolve_mapping_path() -> None:
    assert resolve_mapping_path(None, None) == DEFAULT_MAPPING_PATH
    assert resolve_mapping_path(Path("/x.yml"), "ignored") == Path("/x.yml")
    assert resolve_mapping_path(None, "entegra_aspire_2022").name == (
        "coach_mapping.entegra_aspire_2022.yml"
    )


def test_match_on_a_named_number_matches_the_number(rvc, write_mapping) -> None:
    # DC_SOURCE_STATUS_1 device priority 100 is "inverter/charger" (6.5.2): it decodes to 100,
    # so the name in a mapping matches the number.
    path = write_mapping(
        HEADER + "  - entity_id: battery.house\n    name: House\n    type: battery\n"
        "    instance: 1\n"
        "    status: [{dgn: DC_SOURCE_STATUS_1, match: {device_priority: inverter_charger}}]\n"
    )
    entity = load_mapping(path, rvc.spec).entities[0]
    assert entity.bindings[0].match == (("device_priority", 100),)
    assert entity.bindings[0].matches(rvc.decode(0x19FFFD42, "0164020100943577").signals)
    assert not entity.bindings[0].matches(rvc.decode(0x19FFFD42, "0178020100943577").signals)
    bad = write_mapping(
        HEADER + "  - entity_id: battery.house\n    name: House\n    type: battery\n"
        "    instance: 1\n"
        "    status: [{dgn: DC_SOURCE_STATUS_1, match: {device_priority: top}}]\n",
        "bad.yml",
    )
    with pytest.raises(MappingError, match="'top' is not a value of device_priority"):
        load_mapping(bad, rvc.spec)
