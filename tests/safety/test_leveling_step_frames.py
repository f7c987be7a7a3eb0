"""Leveling jacks and the entry step: command frames and status decoding, byte for byte.

The bytes are the specification's (LEVELING_CONTROL_COMMAND 1FFEE table 6.13.3b, STEP_COMMAND
1FE88 table 6.48.2b, LEVELING_CONTROL_STATUS 1FFED table 6.13.2b, LEVELING_JACK_STATUS 1FFEC
table 6.13.4b, LEVELING_AIR_STATUS 1FFE9 table 6.13.11b, STEP_STATUS 1FE89 table 6.48.1b), written
out here, not computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.core.coach_mapping import load_mapping
from backend.core.entity_errors import CommandValidationError, MappingError
from backend.core.entity_model import CommandContext, KeptLabels
from backend.core.entity_types import ENTITY_TYPES
from backend.integrations.rvc import encode as rvc_encode
from backend.integrations.rvc import load_config_data
from backend.safety.gate import load_out
from backend.safety.lockouts import entity_lockouts

RVC = load_config_data()
SA = 0xF9
FOUR = ["left_front", "right_front", "left_rear", "right_rear"]


def _frames(type_: str, control: str, command: str, args: dict[str, Any], **ctx: Any):
    control_ = ENTITY_TYPES[type_].control(control)
    assert control_ is not None and control_.encoder is not None
    context = CommandContext(
        instance=ctx.get("instance"),
        instances={},
        capabilities=frozenset(),
        state={},
        command_dgn=control_.command_dgn or "",
        motor_run_seconds=20,
        hold=True,
        attributes={"jacks": ctx.get("jacks", FOUR)},
    )
    plan = control_.encoder(context, command, args)
    out = []
    for frame in (*plan.frames, *(plan.repeat.final if plan.repeat else ())):
        can_id, data = rvc_encode(
            frame.dgn, frame.signals, instance=frame.instance, source_address=SA
        )
        out.append((can_id, data.hex(" ").upper()))
    return plan, out


def test_manual_jack_moves_encode_mode_71_and_the_jack_bits() -> None:
    # Priority 3, DGN 1FFEE, source F9: 0x0DFFEEF9. Byte 0 = 71 (0x47) "Manual
    # hydraulic/electric leveling - Four point"; left front extend = byte 2 bits 6-7 = 01b.
    plan, frames = _frames("leveling", "hydraulic", "extend", {"jack": "left_front"})
    assert frames[0] == (0x0DFFEEF9, "47 00 40 00 F0 FF FF FF")
    # held: repeated every 100 ms, ended with Abort Function (11 = 0x0B), every jack Off
    assert plan.repeat is not None and plan.repeat.interval == 0.1
    assert frames[1] == (0x0DFFEEF9, "0B 00 00 00 F0 FF FF FF")
    # retract all four: byte 1 bits 0-1 (left rear) and 4-5 (right front), byte 2 bits 0-1
    # (right rear) and 4-5 (left front) = 01b
    _, frames = _frames("leveling", "hydraulic", "retract", {"jack": "all"})
    assert frames[0][1] == "47 11 11 00 F0 FF FF FF"
    # the front pair: right front extend byte 1 bits 6-7, left front extend byte 2 bits 6-7
    _, frames = _frames("leveling", "hydraulic", "extend", {"jack": "front"})
    assert frames[0][1] == "47 40 40 00 F0 FF FF FF"
    # rear pair retract: left rear byte 1 bits 0-1, right rear byte 2 bits 0-1
    _, frames = _frames("leveling", "hydraulic", "retract", {"jack": "rear"})
    assert frames[0][1] == "47 01 01 00 F0 FF FF FF"


def test_air_three_point_and_multi_point_modes() -> None:
    three = ["left_front", "left_rear", "right_rear"]
    # 43 (0x2B) "Manual air leveling - 3 point mode"; the front jack is on the left-front bits
    _, frames = _frames("leveling", "air", "extend", {"jack": "front"}, jacks=three)
    assert frames[0][1] == "2B 00 40 00 F0 FF FF FF"
    six = [*FOUR, "left_middle", "right_middle"]
    # 74 (0x4A) "Manual hydraulic leveling - Multi point mode 5+"; left middle extend is byte 3
    # bits 2-3
    _, frames = _frames("leveling", "hydraulic", "extend", {"jack": "left_middle"}, jacks=six)
    assert frames[0][1] == "4A 00 00 04 F0 FF FF FF"


def test_auto_level_and_store_are_sent_once() -> None:
    # 81 (0x51) "Automatic hydraulic leveling - Four point"; 3 "Store active"
    plan, frames = _frames("leveling", "hydraulic", "auto_level", {})
    assert frames == [(0x0DFFEEF9, "51 00 00 00 F0 FF FF FF")] and plan.repeat is None
    plan, frames = _frames("leveling", "hydraulic", "store", {})
    assert frames == [(0x0DFFEEF9, "03 00 00 00 F0 FF FF FF")] and plan.repeat is None
    plan, frames = _frames("leveling", "air", "auto_level", {})
    assert frames[0][1].startswith("33 ")  # 51 "Automatic air leveling - Four point"


def test_a_jack_the_system_lacks_is_refused() -> None:
    with pytest.raises(CommandValidationError) as refused:
        _frames("leveling", "hydraulic", "extend", {"jack": "tongue"})
    assert "tongue" in refused.value.message and "left_front" in refused.value.message


def test_step_command_frames() -> None:
    # Priority 6, DGN 1FE88: 0x19FE88F9. Byte 0 instance 1, byte 1 operation mode not changed
    # (all ones), byte 2 direction 2 extend / 3 retract / 1 stop.
    plan, frames = _frames("step", "native", "extend", {}, instance=1)
    assert frames == [
        (0x19FE88F9, "01 FF 02 FF FF FF FF FF"),
        (0x19FE88F9, "01 FF 01 FF FF FF FF FF"),
    ]
    assert plan.repeat is not None and plan.repeat.interval == 0.1
    _, frames = _frames("step", "native", "retract", {}, instance=1)
    assert frames[0][1] == "01 FF 03 FF FF FF FF FF"
    _, frames = _frames("step", "native", "stop", {}, instance=1)
    assert frames == [(0x19FE88F9, "01 FF 01 FF FF FF FF FF")]


def _read(type_: str, control: str, dgn: int, payload: str) -> dict[str, Any]:
    message = RVC.decode((3 << 26) | (dgn << 8) | 0x52, bytes.fromhex(payload))
    reader = ENTITY_TYPES[type_].control(control).readers[message.name]  # type: ignore[union-attr]
    return reader(message.signals, None, KeptLabels(message.labels))


def test_leveling_control_status_decodes_motion_and_lockouts() -> None:
    # mode 71; byte 3 bits 2-3 = 01b: left rear extending; byte 7 bits 0-1 = 01b: "Leveling
    # system may not operate because of Park Brake status", bits 2-7 = 00b
    state = _read("leveling", "hydraulic", 0x1FFED, "47 00 00 04 00 00 F0 01")
    assert state["motion"] == "extending"
    assert state["jack_left_rear_motion"] == "extending"
    assert state["jack_right_front_motion"] == "stopped"
    assert state["lockout"] == "park brake"
    # mode 8 "Automatic hydraulic/electric leveling active", no jack bit on
    state = _read("leveling", "hydraulic", 0x1FFED, "08 01 00 00 00 00 F0 00")
    assert state["motion"] == "leveling" and state["lockout"] is None


def test_leveling_jack_status_decodes_jacks_down() -> None:
    # byte 0: type 0 straight acting, 4 jacks (bits 4-7); byte 1: left rear (bits 0-1) and
    # right rear (bits 4-5) extended; byte 2 auxiliary jacks not available; byte 3: left rear
    # bears weight
    state = _read("leveling", "hydraulic", 0x1FFEC, "40 11 FF 01 FF FF FF FF")
    assert state["number_of_jacks"] == 4
    assert state["jack_left_rear"] == "extended" and state["jack_right_rear"] == "extended"
    assert state["jack_left_front"] == "retracted" and state["jack_right_front"] == "retracted"
    assert state["jack_left_rear_load"] is True and state["jack_right_rear_load"] is False
    assert state["jacks_down"] == 2
    assert "jack_auxiliary_jack_1" not in state


def test_leveling_air_status_names_the_bags_with_low_pressure() -> None:
    # Priority 3, DGN 1FFE9. Every bag and the system at 00b "Pressure OK"; the reserved bits
    # (byte 1 bits 4-7, byte 2 bits 2-7) are ones.
    state = _read("leveling", "air", 0x1FFE9, "00 F0 FC FF FF FF FF FF")
    assert state == {"low_air_pressure": [], "system_air_pressure_low": False}
    # 01b "Low air pressure detected": byte 0 bits 0-1 (left rear) and 6-7 (left front, or the
    # front bag of a three-point system) = 41h; byte 1 bits 2-3 (tag axle right) = F4h; byte 2
    # bits 0-1 (system air pressure) = FDh
    state = _read("leveling", "air", 0x1FFE9, "41 F4 FD FF FF FF FF FF")
    assert state == {
        "low_air_pressure": ["left_front", "left_rear", "tag_axle_right"],
        "system_air_pressure_low": True,
    }
    # a three-point system: right front (byte 0 bits 2-3) N/A = 11b, no tag axle, no system
    # pressure reported; nothing is low and the system's pressure is unknown
    state = _read("leveling", "air", 0x1FFE9, "0C FF FF FF FF FF FF FF")
    assert state == {"low_air_pressure": [], "system_air_pressure_low": None}


def test_step_status_decodes_position_and_motion() -> None:
    # instance 1, mode 0, motion 2 extending, position 200 = 100 %, no obstruction
    state = _read("step", "native", 0x1FE89, "01 00 02 C8 F0 FF FF FF")
    assert state == {
        "motion": "extending",
        "position": 100.0,
        "operation_mode": "step_extends_retracts_with_user_operated_switch",
        "obstruction": False,
    }
    state = _read("step", "native", 0x1FE89, "01 00 01 00 F1 FF FF FF")
    assert state["motion"] == "stopped" and state["position"] == 0 and state["obstruction"]


def test_leveling_lockout_bits_name_the_lockout() -> None:
    message = RVC.decode(0x0DFFED52, bytes.fromhex("00 00 00 00 00 00 F0 04"))
    locks = entity_lockouts("leveling", {"LEVELING_CONTROL_STATUS": message.signals})
    assert [(x.source, x.reason) for x in locks] == [
        (
            "LEVELING_CONTROL_STATUS",
            "leveling system may not operate: ignition status (ignition_key)",
        )
    ]
    message = RVC.decode(0x0DFFED52, bytes.fromhex("00 00 00 00 00 00 F0 40"))
    locks = entity_lockouts("leveling", {"LEVELING_CONTROL_STATUS": message.signals})
    assert "an additional lockout (other_lockout)" in locks[0].reason
    assert entity_lockouts("step", {"STEP_STATUS": {"motion": "no_motion"}}) == []


def _mapping(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "m.yml"
    path.write_text("version: 1\ncoach: {name: Test}\nentities:\n" + body, encoding="utf-8")
    return path


def test_mapping_jacks_and_self_run(tmp_path: Path) -> None:
    spec = RVC.spec
    body = (
        "  - {entity_id: leveling.main, name: Jacks, type: leveling, control: air,\n"
        "     jacks: [left_front, left_rear, right_rear], self_run: true}\n"
        "  - {entity_id: step.entry, name: Entry step, type: step, instance: 1}\n"
    )
    mapping = load_mapping(_mapping(tmp_path, body), spec)
    jacks, step = mapping.entities
    assert jacks.attributes == {
        "jacks": ["left_front", "left_rear", "right_rear"],
        "layout": "three_point",
    }
    assert jacks.commands == ["extend", "retract", "stop", "auto_level", "store"]
    assert step.commands == ["extend", "retract", "stop"]
    assert {b.dgn_name for b in jacks.bindings} == {
        "LEVELING_CONTROL_STATUS",
        "LEVELING_JACK_STATUS",
        "LEVELING_AIR_STATUS",
    }
    plain = load_mapping(
        _mapping(tmp_path, "  - {entity_id: leveling.main, name: J, type: leveling}\n"), spec
    ).entities[0]
    assert plain.commands == ["extend", "retract", "stop"]  # no auto_level without self_run
    assert plain.attributes["layout"] == "four_point"
    with pytest.raises(MappingError) as wrong:
        load_mapping(
            _mapping(
                tmp_path,
                "  - {entity_id: step.entry, name: S, type: step, instance: 1, jacks: [tongue]}\n",
            ),
            spec,
        )
    assert "jacks is only for a leveling entity, not step" in str(wrong.value.problems)
    with pytest.raises(MappingError) as bad:
        load_mapping(
            _mapping(
                tmp_path,
                "  - {entity_id: leveling.m, name: J, type: leveling, jacks: [nose]}\n",
            ),
            spec,
        )
    assert "'nose' is not one of left_front" in str(bad.value.problems)


class _E:
    def __init__(self, type_: str, name: str, state: dict[str, Any]) -> None:
        self.entity_type, self.name, self.state = type_, name, state


def test_load_out_names_jacks_down_and_step_out() -> None:
    jacks = _E("leveling", "Leveling jacks", {"jack_left_front": "extended", "motion": "stopped"})
    assert load_out(jacks) == "Leveling jacks: jacks down (left front)"  # type: ignore[arg-type]
    up = _E("leveling", "Leveling jacks", {"jack_left_front": "retracted", "motion": "stopped"})
    assert load_out(up) is None  # type: ignore[arg-type]
    step = _E("step", "Entry step", {"position": 100.0, "motion": "stopped"})
    assert load_out(step) == "Entry step: step out (100 %)"  # type: ignore[arg-type]


def test_a_slide_waits_while_the_jacks_auto_level() -> None:
    # LEVELING_CONTROL_STATUS byte 0 = 81 "Automatic hydraulic leveling - Four point"
    message = RVC.decode(0x0DFFED52, bytes.fromhex("51 01 00 00 00 00 F0 00"))
    locks = entity_lockouts("slide", {}, leveling=message.signals)
    assert [x.source for x in locks] == ["LEVELING_CONTROL_STATUS"]
    assert locks[0].reason == "leveling system busy: automatic_hydraulic_leveling_four_point"
    idle = RVC.decode(0x0DFFED52, bytes.fromhex("00 00 00 00 00 00 F0 00"))
    assert entity_lockouts("slide", {}, leveling=idle.signals) == []
