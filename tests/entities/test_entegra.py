"""The real-coach example mapping against a copy of the public Entegra capture's frames.

The frames below are the last 31 of the 92 in the public candump capture of a 2022 Entegra Aspire
(candump default format), copied here: the climate controller at source 0x96 broadcasting
AIR_CONDITIONER_COMMAND (1FFE0) for units 1-3, with unit 1 switched from automatic to manual
part-way through. Values per RV-C 6.17.8 (same layout as AIR_CONDITIONER_STATUS 6.17.7): byte 1
operating mode 0 automatic / 1 manual; byte 4 fan speed and byte 5 output level, 0.5 % per bit;
bytes 2-3 (max fan speed, max output level) FF = not available.
"""

from __future__ import annotations

import time

from backend.core.coach_mapping import load_mapping, resolve_mapping_path
from backend.core.entity_manager import EntityManager
from backend.integrations.rvc.loader import RVCConfig

CAPTURE = """\
  can0  19FFE096   [8]  01 00 FF FF 64 00 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 00 FF FF 64 00 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 00 FF FF 64 00 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 00 FF FF 64 00 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 00 FF FF 64 00 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
  can0  19FFE096   [8]  03 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  01 01 FF FF 64 C8 FF FF
  can0  19FFE096   [8]  02 00 FF FF 00 00 FF FF
"""

AUTOMATIC_IDLE = {"mode": "automatic", "fan_speed": 50.0, "output_level": 0.0}  # 64 00
MANUAL_FULL = {"mode": "manual", "fan_speed": 50.0, "output_level": 100.0}  # 64 C8


def _frames(text: str) -> list[tuple[int, bytes]]:
    """(arbitration id, data) of each candump line ``can0  19FFE096   [8]  03 01 ...``."""
    out = []
    for line in text.splitlines():
        _, can_id, _, *data = line.split()
        out.append((int(can_id, 16), bytes.fromhex("".join(data))))
    return out


def _pick(state: dict, keys: dict) -> dict:
    return {k: state.get(k) for k in keys}


def test_capture_decodes_into_the_three_air_conditioners(rvc: RVCConfig) -> None:
    path = resolve_mapping_path(None, "entegra_aspire_2022")
    manager = EntityManager(load_mapping(path, rvc.spec))
    frames = _frames(CAPTURE)
    assert len(frames) == 31
    start = time.time() - 60  # one frame a second, within the history's age limit
    for t, (can_id, data) in enumerate(frames):
        message = rvc.decode(can_id, data)
        assert (message.name, message.source) == ("AIR_CONDITIONER_COMMAND", 0x96)
        manager.ingest(message, start + t)

    entities = {e.entity_id: e for e in manager.get_all_entities()}
    assert sorted(entities) == [f"air_conditioner.unit_{n}" for n in (1, 2, 3)]
    assert all(e.available for e in entities.values())
    assert manager.unmapped() == [] and manager.unknown_dgns() == []

    unit_1 = [_pick(h["state"], MANUAL_FULL) for h in manager.history("air_conditioner.unit_1")]
    assert unit_1 == [AUTOMATIC_IDLE, MANUAL_FULL]  # switched on part-way: two changes, no more
    switched = manager.history("air_conditioner.unit_1")[1]["timestamp"]
    assert switched == start + 15  # the 16th frame is the first "01 01 FF FF 64 C8 FF FF"

    unit_2 = manager.history("air_conditioner.unit_2")
    assert [_pick(h["state"], MANUAL_FULL) for h in unit_2] == [
        {"mode": "automatic", "fan_speed": 0.0, "output_level": 0.0}  # 02 00 FF FF 00 00
    ]
    unit_3 = entities["air_conditioner.unit_3"].state
    assert _pick(unit_3, MANUAL_FULL) == MANUAL_FULL
    assert unit_3["max_fan_speed"] is None and unit_3["max_output_level"] is None  # FF FF
    assert entities["air_conditioner.unit_3"].last_seen == start + 28  # its last frame
