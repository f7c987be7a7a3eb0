"""Reload in place, the wizard's naming, undo and refused mappings against the real app."""

from __future__ import annotations

from backend.core.mapping_edit import add_entity
from tests.mapping.conftest import MISSING, Coach, wait_for

DIMMER_10_ON = "0AFFC8FCFF00FFFF"  # DC_DIMMER_STATUS_3 instance 10, operating status 100 %
DIMMER_1_AT_40 = "01FF50FCFF00FFFF"  # instance 1 (living room ceiling), 0x50 = 40 %
DIMMER_3_ON = "03FFC8FCFF00FFFF"  # instance 3: the bedroom ceiling light the owner's copy lacks
PORCH = {  # the entity the owner's copy lacks, as the shipped mapping has it
    "entity_id": "light.bedroom_ceiling",
    "name": "Bedroom ceiling",
    "type": "light",
    "control": "dimmer",
    "area": "bedroom",
    "instance": 3,
    "capabilities": ["dimmable"],
}


def _unmapped(coach: Coach, name: str, instance: int) -> dict | None:
    for row in coach.client.get("/api/entities/unmapped").json():
        if row["name"] == name and row["instance"] == instance:
            return row
    return None


def _ids(coach: Coach) -> set[str]:
    return {e["entity_id"] for e in coach.client.get("/api/entities").json()}


def test_missing_light_is_mapped_by_editing_the_file_and_reloading(coach: Coach) -> None:
    coach.send(0x19FEDA83, DIMMER_3_ON)
    row = wait_for(lambda: _unmapped(coach, "DC_DIMMER_STATUS_3", 3))
    assert row["signals"]["operating_status_brightness"] == 100.0
    assert "light.bedroom_ceiling" not in _ids(coach)

    text = coach.mapping.read_text(encoding="utf-8")
    coach.mapping.write_text(add_entity(text, PORCH), encoding="utf-8")
    answer = coach.client.post("/api/mapping/reload")
    assert answer.status_code == 200, answer.text
    assert answer.json()["added"] == ["light.bedroom_ceiling"]

    entity = coach.client.get("/api/entities/light.bedroom_ceiling").json()
    assert entity["available"] is True  # at once, from the values seen while unmapped
    assert entity["state"]["state"] == "on" and entity["state"]["brightness"] == 100.0
    assert _unmapped(coach, "DC_DIMMER_STATUS_3", 3) is None
    coach.send(0x19FEDA83, "03FF00FCFF03FFFF")  # the light goes off
    wait_for(
        lambda: (
            coach.client.get("/api/entities/light.bedroom_ceiling").json()["state"]["state"]
            == "off"
        )
    )


def test_kept_entities_keep_state_history_and_overrides(coach: Coach) -> None:
    coach.send(0x19FEDA83, DIMMER_1_AT_40)
    wait_for(lambda: coach.client.get("/api/entities/light.living_ceiling").json()["available"])
    renamed = coach.client.patch("/api/entities/light.living_ceiling", json={"name": "Salon"})
    assert renamed.status_code == 200
    before = coach.client.get("/api/entities/light.living_ceiling/history").json()["entries"]
    assert before

    assert coach.client.post("/api/mapping/reload").status_code == 200

    entity = coach.client.get("/api/entities/light.living_ceiling").json()
    assert entity["name"] == "Salon"
    assert entity["available"] is True
    assert entity["state"]["brightness"] == 40.0
    after = coach.client.get("/api/entities/light.living_ceiling/history").json()["entries"]
    assert after == before


def test_removed_entity_disappears_from_api_and_websocket(coach: Coach) -> None:
    with coach.client.websocket_connect("/ws/entities") as socket:
        first = socket.receive_json()
        assert first["type"] == "snapshot"
        assert "light.galley_ceiling" in {e["entity_id"] for e in first["entities"]}
        from backend.core.mapping_edit import remove_entity

        text = coach.mapping.read_text(encoding="utf-8")
        coach.mapping.write_text(remove_entity(text, "light.galley_ceiling"), encoding="utf-8")
        answer = coach.client.post("/api/mapping/reload")
        assert answer.status_code == 200
        assert answer.json()["removed"] == ["light.galley_ceiling"]
        seen = []
        while True:
            message = socket.receive_json()
            seen.append(message["type"])
            if message["type"] == "entity_removed":
                assert message["entity_id"] == "light.galley_ceiling"
            if message["type"] == "snapshot":
                ids = {e["entity_id"] for e in message["entities"]}
                assert "light.galley_ceiling" not in ids
                assert "light.living_ceiling" in ids
                break
        assert seen[-2:] == ["entity_removed", "snapshot"]
    assert coach.client.get("/api/entities/light.galley_ceiling").status_code == 404
    assert "light.galley_ceiling" not in _ids(coach)


def test_broken_mapping_is_refused_with_file_line_and_the_running_one_stays(coach: Coach) -> None:
    good = coach.mapping.read_text(encoding="utf-8")
    lines = good.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if "entity_id: light.galley_ceiling" in line)
    broken_line = index + 1
    lines[index] = lines[index].replace("light.galley_ceiling", "Light Galley!")
    coach.mapping.write_text("".join(lines), encoding="utf-8")

    answer = coach.client.post("/api/mapping/reload")
    assert answer.status_code == 422
    body = answer.json()
    assert body["problems"][0].startswith(f"{coach.mapping}:{broken_line}: entities[")
    assert "entity_id" in body["problems"][0]

    assert "light.galley_ceiling" in _ids(coach)  # the running mapping keeps working
    coach.send(0x19FEDA83, "02FF64FCFF00FFFF")  # galley ceiling 50 %
    wait_for(
        lambda: (
            coach.client.get("/api/entities/light.galley_ceiling").json()["state"].get("brightness")
            == 50.0
        )
    )


def test_wizard_names_a_device_writes_the_file_and_undo_restores_it(coach: Coach) -> None:
    original = coach.mapping.read_text(encoding="utf-8")
    coach.send(0x19FEDA83, DIMMER_10_ON)
    wait_for(lambda: _unmapped(coach, "DC_DIMMER_STATUS_3", 10))
    groups = coach.client.get("/api/mapping/devices").json()
    lights = next(g for g in groups if g["kind"] == "light")
    device = next(d for d in lights["devices"] if d["instance"] == 10)
    assert device["kinds"][0] == {
        "type": "light",
        "control": "dimmer",
        "roles": [],
        "commandable": True,
        "capabilities": [],
    }

    answer = coach.client.post(
        "/api/mapping/entities",
        json={"dgn": "DC_DIMMER_STATUS_3", "instance": 10, "name": "Porch light",
              "area": "Exterior", "capabilities": ["dimmable"]},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["entity_id"] == "light.porch_light"
    entity = coach.client.get("/api/entities/light.porch_light").json()
    assert entity["area"] == "exterior" and entity["available"] is True
    assert entity["state"]["state"] == "on"

    written = coach.mapping.read_text(encoding="utf-8")
    assert written.startswith(original)  # comments, order and the owner's lines untouched
    assert written[len(original) :] == (
        "  - entity_id: light.porch_light\n"
        "    name: Porch light\n"
        "    type: light\n"
        "    control: dimmer\n"
        "    area: exterior\n"
        "    instance: 10\n"
        "    capabilities: [dimmable]\n"
    )
    summary = coach.client.get("/api/mapping").json()
    assert summary["versions"][0]["action"] == "add light.porch_light"

    undone = coach.client.post("/api/mapping/undo")
    assert undone.status_code == 200
    assert undone.json()["removed"] == ["light.porch_light"]
    assert coach.mapping.read_text(encoding="utf-8") == original
    assert coach.client.get("/api/entities/light.porch_light").status_code == 404
    assert coach.client.post("/api/mapping/undo").status_code == 409


def test_wizard_refuses_what_does_not_fit(coach: Coach) -> None:
    bad_type = coach.client.post(
        "/api/mapping/entities",
        json={"dgn": "DC_DIMMER_STATUS_3", "instance": 10, "name": "X", "type": "tank"},
    )
    assert bad_type.status_code == 422
    assert "cannot be 'tank'" in bad_type.json()["detail"]
    taken = coach.client.post(
        "/api/mapping/entities",
        json={"dgn": "DC_DIMMER_STATUS_3", "instance": 2, "name": "Galley ceiling"},
    )
    assert taken.status_code == 422
    assert "light.galley_ceiling" in taken.json()["detail"]
    claimed = coach.client.post(
        "/api/mapping/entities",
        json={"dgn": "DC_DIMMER_STATUS_3", "instance": 2, "name": "Second galley"},
    )  # instance 2 is the galley ceiling's: the loader refuses, nothing is written
    assert claimed.status_code == 422
    assert "already claimed by 'light.galley_ceiling'" in claimed.json()["problems"][0]
    assert coach.client.get("/api/mapping").json()["versions"] == []


def test_preview_and_import_of_an_uploaded_mapping(coach: Coach) -> None:
    exported = coach.client.get("/api/mapping/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    text = add_entity(exported.text, PORCH)
    preview = coach.client.post("/api/mapping/preview", json={"text": text}).json()
    assert preview["valid"] is True
    assert preview["added"] == ["light.bedroom_ceiling"] and preview["removed"] == []
    assert "+  - entity_id: light.bedroom_ceiling\n" in preview["diff"]
    assert "light.bedroom_ceiling" not in _ids(coach)  # a preview applies nothing

    bad = coach.client.post("/api/mapping/preview", json={"text": text + "  - nonsense: 1\n"})
    assert bad.json()["valid"] is False
    assert f"{coach.mapping}:" in bad.json()["problems"][0]
    refused = coach.client.post("/api/mapping/import", json={"text": "entities: [\n"})
    assert refused.status_code == 422
    assert "not valid YAML" in refused.json()["problems"][0]

    applied = coach.client.post("/api/mapping/import", json={"text": text})
    assert applied.status_code == 200 and applied.json()["added"] == ["light.bedroom_ceiling"]
    assert coach.mapping.read_text(encoding="utf-8") == text


def test_start_from_a_shipped_example(coach: Coach) -> None:
    preview = coach.client.post("/api/mapping/preview", json={"example": "default"}).json()
    assert preview["valid"] and sorted(preview["added"]) == sorted(MISSING)
    unknown = coach.client.post("/api/mapping/preview", json={"example": "nope"})
    assert unknown.status_code == 422 and "examples: " in unknown.json()["detail"]
    applied = coach.client.post("/api/mapping/import", json={"example": "default"})
    assert applied.status_code == 200
    assert "tank.lpg" in _ids(coach)


def test_wizard_names_a_motor_driven_as_a_pair_of_dimmer_outputs(coach: Coach) -> None:
    coach.send(0x19FEDA83, "28FF00FCFF03FFFF")  # dimmer 40, off
    coach.send(0x19FEDA83, "29FF00FCFF03FFFF")  # dimmer 41, off
    wait_for(lambda: _unmapped(coach, "DC_DIMMER_STATUS_3", 41))
    kinds = next(
        d["kinds"]
        for g in coach.client.get("/api/mapping/devices").json()
        for d in g["devices"]
        if d["instance"] == 40
    )
    assert {"type": "awning", "control": "dimmer_pair", "roles": ["extend", "retract"]}.items() <= (
        next(k for k in kinds if k["type"] == "awning" and k["control"] == "dimmer_pair").items()
    )
    half = coach.client.post(
        "/api/mapping/entities",
        json={"dgn": "DC_DIMMER_STATUS_3", "type": "awning", "control": "dimmer_pair",
              "name": "Door awning", "instances": {"extend": 41}},
    )  # fmt: skip
    assert half.status_code == 422 and "extend, retract" in half.json()["detail"]
    answer = coach.client.post(
        "/api/mapping/entities",
        json={"dgn": "DC_DIMMER_STATUS_3", "type": "awning", "control": "dimmer_pair",
              "name": "Door awning", "area": "exterior",
              "instances": {"extend": 41, "retract": 40}},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    entity = coach.client.get("/api/entities/awning.door_awning").json()
    assert entity["device"]["instances"] == {"extend": 41, "retract": 40}
    assert "instances: {extend: 41, retract: 40}" in coach.mapping.read_text(encoding="utf-8")
    assert _unmapped(coach, "DC_DIMMER_STATUS_3", 40) is None


def test_devices_list_unknown_dgns_last(coach: Coach) -> None:
    coach.send(0x19FE0083, "0102030405060708")  # DGN 1FE00: not in the RV-C specification
    coach.send(0x19FFB748, "03326400000000FF")  # TANK_STATUS instance 3 (the tank it lacks)
    groups = wait_for(
        lambda: (
            (g := coach.client.get("/api/mapping/devices").json())
            and {"tank", "unknown"} <= {x["kind"] for x in g}
            and g
        )
    )
    kinds = [g["kind"] for g in groups]
    assert kinds.index("light") < kinds.index("tank") < kinds.index("unknown") == len(kinds) - 1
    unknown = next(g for g in groups if g["kind"] == "unknown")["devices"]
    assert unknown[0]["name"] == "1FE00" and unknown[0]["kinds"] == []
    assert unknown[0]["signals"] == {"data": "0102030405060708"}
    tank = next(g for g in groups if g["kind"] == "tank")["devices"][0]
    assert tank["name"] == "TANK_STATUS" and tank["instance"] == 3
    assert tank["signals"]["relative_level"] == 50
