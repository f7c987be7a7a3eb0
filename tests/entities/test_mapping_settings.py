"""The mapping the settings select: one check for the CLI, the server and the simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from backend.core.coach_mapping import load_coach_mapping
from backend.core.entity_errors import MappingError
from backend.services.entity_service import validate_coach_mapping
from tests.factories import make_settings

BAD = """version: 1
coach: {name: test}
areas: [{id: galley, name: Galley}]
entities:
  - {entity_id: light.a, name: A, type: light, instance: 1}
  - {entity_id: light.b, name: B, type: lamp, instance: 2}
  - {entity_id: tank.c, name: C, type: tank, instance: 0, area: cellar}
"""


def test_a_bad_mapping_file_gives_file_line_and_what(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(BAD)
    lines = validate_coach_mapping(make_settings(rvc={"coach_mapping_path": str(path)}))
    assert len(lines) == 1  # the schema stops before the meaning checks
    assert lines[0].startswith(f"{path}:6: entities[1].type: 'lamp' is not one of light, ")


def test_meaning_errors_are_listed_all_at_once(write_mapping: Callable[[str], Path]) -> None:
    path = write_mapping(BAD.replace("type: lamp", "type: light"))
    lines = validate_coach_mapping(make_settings(rvc={"coach_mapping_path": str(path)}))
    assert lines == [f"{path}:7: entities[2].area: unknown area 'cellar'; areas: galley"]


def test_shipped_mappings_are_valid() -> None:
    assert validate_coach_mapping(make_settings()) == []
    assert validate_coach_mapping(make_settings(rvc={"coach_model": "entegra_aspire_2022"})) == []


def test_unknown_coach_model_names_the_shipped_ones() -> None:
    lines = validate_coach_mapping(make_settings(rvc={"coach_model": "winnebago_9000"}))
    assert len(lines) == 1
    assert lines[0].startswith("COACHIQ_RVC__COACH_MODEL: unknown coach model 'winnebago_9000'")
    assert lines[0].endswith(
        "models: default, entegra_aspire_2022, jayco_terrain_2023, thor_miramar_2020, "
        "tiffin_open_road_2019"
    )


def test_missing_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yml"
    lines = validate_coach_mapping(make_settings(rvc={"coach_mapping_path": str(path)}))
    assert lines == [f"{path}: cannot read: No such file or directory"]


def test_load_coach_mapping_raises_what_validate_reports(
    write_mapping: Callable[[str], Path],
) -> None:
    path = write_mapping(BAD)
    settings = make_settings(rvc={"coach_mapping_path": str(path)})
    try:
        load_coach_mapping(settings)
    except MappingError as exc:
        assert exc.problems == validate_coach_mapping(settings)
    else:
        raise AssertionError("a bad mapping loaded")
