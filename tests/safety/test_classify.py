"""Which entities and commands are motion: the shipped mapping and the mapping's override."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, MappingError, load_mapping
from backend.integrations.rvc.loader import load_config_data
from backend.safety.classify import (
    is_motion_command,
    is_motion_entity,
    is_stop_command,
    needs_hold,
    needs_parked,
)


@pytest.fixture(scope="module")
def spec():
    return load_config_data().spec


@pytest.fixture(scope="module")
def shipped(spec):
    return {e.entity_id: e for e in load_mapping(DEFAULT_MAPPING_PATH, spec).entities}


def test_shipped_motion_entities(shipped) -> None:
    motion = sorted(i for i, e in shipped.items() if is_motion_entity(e))
    assert motion == [
        "awning.patio",
        "leveling.jacks",
        "roof_fan.bathroom",
        "shade.bedroom_night",
        "shade.living_day",
        "slide.bedroom",
        "slide.living",
        "step.entry",
    ]
    assert not is_motion_entity(shipped["light.living_ceiling"])
    assert not is_motion_entity(shipped["generator.main"])


def test_travel_loads_are_interlocked_and_held(shipped) -> None:
    for entity_id in ("awning.patio", "slide.living", "slide.bedroom", "step.entry"):
        assert needs_parked(shipped[entity_id]) and needs_hold(shipped[entity_id])
    # The shipped leveling system is self_run: its manual jack moves stay held, its firmware
    # runs auto_level and store without a lease.
    jacks = shipped["leveling.jacks"]
    assert needs_parked(jacks) and jacks.self_run
    assert needs_hold(jacks, "extend") and needs_hold(jacks, "retract")
    assert not needs_hold(jacks, "auto_level") and not needs_hold(jacks, "store")
    for entity_id in ("shade.living_day", "roof_fan.bathroom"):
        assert not needs_parked(shipped[entity_id]) and not needs_hold(shipped[entity_id])


def test_commands(shipped) -> None:
    slide = shipped["slide.living"]
    fan = shipped["roof_fan.bathroom"]
    assert is_motion_command(slide, "extend", {})
    assert not is_motion_command(slide, "stop", {})
    assert is_stop_command(slide, "stop")
    assert not is_stop_command(shipped["generator.main"], "stop")
    assert is_motion_command(fan, "set", {"lid": "open"})
    assert not is_motion_command(fan, "set", {"speed": 50})


def _mapping(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "m.yml"
    path.write_text(
        "version: 1\ncoach: {name: Test}\nentities:\n"
        "  - entity_id: dc_load.tv_lift\n    name: TV lift\n    type: dc_load\n"
        "    control: dc_load\n    instance: 5\n" + extra,
        encoding="utf-8",
    )
    return path


def test_mapping_marks_motion(tmp_path: Path, spec) -> None:
    lift = load_mapping(_mapping(tmp_path, "    motion: true\n    self_run: true\n"), spec)
    entity = lift.entities[0]
    assert is_motion_entity(entity) and needs_parked(entity) and not needs_hold(entity)
    plain = load_mapping(_mapping(tmp_path, ""), spec).entities[0]
    assert not is_motion_entity(plain)


def test_mapping_motion_must_be_boolean(tmp_path: Path, spec) -> None:
    with pytest.raises(MappingError) as err:
        load_mapping(_mapping(tmp_path, "    motion: sometimes\n"), spec)
    assert "motion" in str(err.value) and "boolean" in str(err.value)


def test_chassis_mobility_status_absent(tmp_path: Path, spec) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        _mapping(tmp_path, "").read_text() + "chassis: {mobility_status: absent}\n",
        encoding="utf-8",
    )
    assert load_mapping(path, spec).chassis == {"mobility_status": "absent"}
    path.write_text(_mapping(tmp_path, "").read_text() + "chassis: {mobility_status: maybe}\n")
    with pytest.raises(MappingError) as err:
        load_mapping(path, spec)
    assert "'maybe' is not one of present, absent" in str(err.value)
