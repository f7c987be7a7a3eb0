"""EntityManager.replace_mapping and the edits' YAML, without an app."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH, load_mapping, shipped_models
from backend.core.entity_manager import EntityManager, EntityRemoved, MappingChange
from backend.core.mapping_edit import _dump, _load, add_entity, remove_entity
from backend.integrations.rvc.loader import load_config_data
from tests.mapping.conftest import mapping_lacking

RVC = load_config_data()


def _mapping(tmp_path: Path, text: str, name: str = "m.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_mapping(path, RVC.spec)


def _feed(manager: EntityManager, can_id: int, data: str) -> None:
    manager.ingest(RVC.decode(can_id, bytes.fromhex(data)))


def test_replace_keeps_state_and_announces_removals(tmp_path: Path) -> None:
    manager = EntityManager(_mapping(tmp_path, mapping_lacking("light.bedroom_ceiling")))
    removed: list[EntityRemoved] = []
    changes: list[MappingChange] = []
    manager.add_removal_listener(removed.append)
    manager.add_mapping_listener(changes.append)
    _feed(manager, 0x19FEDA83, "01FF50FCFF00FFFF")  # living ceiling 40 %
    _feed(manager, 0x19FEDA83, "03FFC8FCFF00FFFF")  # bedroom ceiling (unmapped) 100 %
    living = manager.get_entity("light.living_ceiling")
    assert living is not None and living.state["brightness"] == 40.0
    history = list(living.history)

    text = remove_entity(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"), "tank.lpg")
    change = manager.replace_mapping(_mapping(tmp_path, text, "n.yml"))

    assert change.added == ("light.bedroom_ceiling",) and change.removed == ("tank.lpg",)
    assert removed == [EntityRemoved("tank.lpg", "tank", "utility")]
    assert changes == [change]
    kept = manager.get_entity("light.living_ceiling")
    assert kept is not None and kept is not living
    assert kept.state["brightness"] == 40.0 and list(kept.history) == history
    bedroom = manager.get_entity("light.bedroom_ceiling")
    assert bedroom is not None and bedroom.available and bedroom.state["brightness"] == 100.0
    assert manager.get_entity("tank.lpg") is None
    assert all(r["instance"] != 3 for r in manager.unmapped())
    _feed(manager, 0x19FFB748, "03326400000000FF")  # TANK_STATUS 3 is unmapped again
    assert any(r["name"] == "TANK_STATUS" for r in manager.unmapped())


@pytest.mark.parametrize("model", shipped_models())
def test_round_trip_of_every_shipped_mapping_is_byte_identical(model: str) -> None:
    text = DEFAULT_MAPPING_PATH.with_name(f"coach_mapping.{model}.yml").read_text("utf-8")
    assert _dump(_load(text)) == text


def test_an_added_area_and_entity_keep_the_owners_comments(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING_PATH.read_text(encoding="utf-8")
    edited = add_entity(
        text,
        {"entity_id": "light.step", "name": "Step", "type": "light", "instance": 30,
         "area": "entry"},
        ("entry", "Entry"),
    )  # fmt: skip
    assert "  - {id: entry, name: Entry}\n" in edited
    assert [line for line in text.splitlines() if "#" in line] == [
        line for line in edited.splitlines() if "#" in line
    ]
    mapping = _mapping(tmp_path, edited)
    assert mapping.areas["entry"] == "Entry"
    assert any(e.entity_id == "light.step" for e in mapping.entities)


def test_an_empty_coach_gets_its_first_entity_from_the_wizard(tmp_path: Path) -> None:
    """A real bus without a mapping runs an empty coach; naming a device writes the owner's
    file in the data directory, which the next reload (and start) loads."""
    from backend.core.coach_mapping import OWNER_MAPPING_NAME, empty_mapping, unmapped_reason
    from backend.core.mapping_service import MappingService
    from tests.factories import make_settings

    settings = make_settings(
        can={"bustype": "socketcan", "interfaces": ["can0"]},
        persistence={"data_dir": tmp_path / "data"},
    )
    reason = unmapped_reason(settings, simulated=False)
    assert reason
    manager = EntityManager(empty_mapping(reason))
    service = MappingService(settings, RVC.spec, manager)
    _feed(manager, 0x19FFB748, "00326400000000FF")  # TANK_STATUS instance 0, 50 %
    entity_id, change = service.name_device(
        {"dgn": "TANK_STATUS", "instance": 0, "name": "Fresh water", "area": "Utility bay"}
    )
    assert entity_id == "tank.fresh_water" and change.added == ("tank.fresh_water",)
    owner = tmp_path / "data" / OWNER_MAPPING_NAME
    text = owner.read_text(encoding="utf-8")
    assert "entities:\n  - entity_id: tank.fresh_water\n" in text
    assert "areas:\n  - {id: utility_bay, name: Utility bay}\n" in text
    tank = manager.get_entity("tank.fresh_water")
    assert tank is not None and tank.available and tank.state["level"] == 50.0
    assert unmapped_reason(settings, simulated=False) == ""
    assert service.reload().kept == ("tank.fresh_water",)
