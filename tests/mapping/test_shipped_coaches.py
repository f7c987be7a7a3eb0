"""The shipped real-coach mappings, each replayed against frames written for it.

The frames are written here from the RV-C specification for the instances each mapping's header
cites (they are not captures): DC_DIMMER_STATUS_3 (1FEDA, 6.24.5) byte 0 instance, byte 2
operating status in 0.5 % steps (C8 = 100 %, 64 = 50 %, 00 = off); THERMOSTAT_STATUS_1 (1FFE2,
6.11.2) byte 1 bits 0-3 operating mode (1 = cool), bytes 3-4 / 5-6 heat / cool setpoints in
0.03125 K above -273 °C (A0 24 = 20.0 °C, E0 24 = 22.0 °C); THERMOSTAT_AMBIENT_STATUS (1FF9C,
6.11.6) bytes 1-2 ambient temperature (D0 24 = 21.5 °C).
"""

from __future__ import annotations

import pytest

from backend.core.coach_mapping import CONFIG_DIR, load_mapping, shipped_models
from backend.core.entity_manager import EntityManager
from backend.integrations.rvc.loader import load_config_data

RVC = load_config_data()
REAL_COACHES = ("entegra_aspire_2022", "thor_miramar_2020", "jayco_terrain_2023",
                "tiffin_open_road_2019")  # fmt: skip


def _manager(model: str) -> EntityManager:
    return EntityManager(load_mapping(CONFIG_DIR / f"coach_mapping.{model}.yml", RVC.spec))


def _replay(manager: EntityManager, frames: str) -> None:
    for line in frames.strip().splitlines():
        can_id, data = line.split()
        manager.ingest(RVC.decode(int(can_id, 16), bytes.fromhex(data)))


def _state(manager: EntityManager, entity_id: str) -> dict:
    entity = manager.get_entity(entity_id)
    assert entity is not None, entity_id
    assert entity.available, entity_id
    return entity.state


def test_config_holds_the_simulated_coach_and_four_real_coach_families() -> None:
    models = shipped_models()
    assert "default" in models
    assert set(REAL_COACHES) <= set(models)
    assert len(models) >= 5


def test_thor_miramar_2020() -> None:
    manager = _manager("thor_miramar_2020")
    _replay(
        manager,
        """
        19FEDA83 01FFC8FCFF00FFFF
        19FEDA83 04FF64FCFF00FFFF
        19FEDA83 27FFC8FCFF00FFFF
        19FEDA83 39FF00FCFF03FFFF
        19FEDA83 17FFC8FCFF00FFFF
        19FEDA83 05FFC8FCFF01FFFF
        19FEDA83 06FF00FCFF03FFFF
        19FFE29F 00C164A024E024FF
        19FF9C9F 01D024FFFFFFFFFF
        """,
    )
    assert _state(manager, "light.living_room")["brightness"] == 100.0
    assert _state(manager, "light.bedroom")["brightness"] == 50.0
    assert _state(manager, "light.steps")["state"] == "on"  # instance 39 (0x27)
    assert _state(manager, "light.awning")["state"] == "off"  # instance 57 (0x39)
    assert _state(manager, "dc_load.water_pump")["state"] == "on"  # instance 23 (0x17)
    assert _state(manager, "awning.awning")["motion"] == "extending"  # 5 on, 6 off
    front = _state(manager, "thermostat.front")
    assert front["mode"] == "cool" and front["setpoint_cool"] == 22.0
    assert front["setpoint_heat"] == 20.0
    assert _state(manager, "thermostat.back")["ambient_temperature"] == 21.5
    assert manager.unmapped() == []


def test_jayco_terrain_2023() -> None:
    manager = _manager("jayco_terrain_2023")
    _replay(
        manager,
        """
        19FEDA83 20FF64FCFF00FFFF
        19FEDA83 19FFC8FCFF00FFFF
        19FEDA83 09FFC8FCFF00FFFF
        19FEDA83 03FF00FCFF03FFFF
        19FEDA83 04FFC8FCFF01FFFF
        19FFE29F 00C164A024E024FF
        """,
    )
    assert _state(manager, "light.main_ceiling")["brightness"] == 50.0  # instance 32 (0x20)
    assert _state(manager, "light.cargo")["brightness"] == 100.0  # instance 25 (0x19)
    assert _state(manager, "dc_load.water_pump")["state"] == "on"
    assert _state(manager, "awning.awning")["motion"] == "retracting"  # 3 off, 4 on
    assert _state(manager, "thermostat.front")["setpoint_cool"] == 22.0
    assert manager.unmapped() == []


def test_tiffin_open_road_2019() -> None:
    manager = _manager("tiffin_open_road_2019")
    _replay(
        manager,
        """
        19FEDA83 5EFFC8FCFF00FFFF
        19FEDA83 01FF00FCFF03FFFF
        19FEDA83 5DFFC8FCFF00FFFF
        19FEDA83 21FFC8FCFF00FFFF
        19FFE29F 02C164A024E024FF
        19FF9C9F 00D024FFFFFFFFFF
        """,
    )
    assert _state(manager, "light.porch")["state"] == "on"  # instance 94 (0x5E)
    assert _state(manager, "light.ceiling")["state"] == "off"
    assert _state(manager, "dc_load.water_pump")["state"] == "on"  # instance 93 (0x5D)
    assert _state(manager, "dc_load.ceiling_fan")["state"] == "on"  # instance 33 (0x21)
    assert _state(manager, "thermostat.bedroom")["setpoint_cool"] == 22.0
    assert _state(manager, "thermostat.front")["ambient_temperature"] == 21.5
    assert manager.unmapped() == []


@pytest.mark.parametrize("model", REAL_COACHES[1:])
def test_every_real_coach_header_names_its_sources(model: str) -> None:
    text = (CONFIG_DIR / f"coach_mapping.{model}.yml").read_text(encoding="utf-8")
    header = text.split("version: 1", 1)[0]
    assert "https://github.com/rubillos/RV-Bridge" in header
    assert "What it does not cover" in header
