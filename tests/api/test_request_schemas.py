"""Request schemas state what the server enforces: a body the schema refuses, the server refuses.

Each case is sent to the real app and checked against the app's own OpenAPI with jsonschema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from backend.api.errors import route_table
from backend.core.entity_types import ENTITY_TYPES
from backend.main import create_app
from tests.factories import make_settings

CHANNEL = "schemas-test"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The real app (simulated coach on a virtual bus of its own)."""
    settings = make_settings(can={"interfaces": [CHANNEL], "bustype": "virtual"})
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def body_validator(openapi: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator of the component ``name`` of the app's OpenAPI."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": openapi["components"]}
    return jsonschema.Draft202012Validator(schema)


def parameter_schema(openapi: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    parameters = openapi["paths"][path]["get"]["parameters"]
    return next(p["schema"] for p in parameters if p["name"] == name)


@pytest.mark.parametrize(
    ("can_id", "data", "accepted"),
    [
        ("19FFFFF9", "2AFFC800FF00FFFF", True),  # CoachIQ's own source address, 0xF9
        ("0x19ffFFf9", "2A FF C8", True),
        ("1FFFFF9", "", True),
        ("19FEDB9F", "00", False),  # source 0x9F: another node
        ("20FFFFF9", "00", False),  # above 29 bits
        ("19FFFFF9 ", "00", False),  # trailing space
        ("19FFFFF9", "2AF", False),  # odd number of digits
        ("19FFFFF9", "2A  FF", False),  # two spaces
        ("19FFFFF9", "000000000000000000", False),  # 9 bytes
        ("", "00", False),
    ],
)
def test_can_send_schema_and_server_agree(
    client: TestClient, openapi: dict[str, Any], can_id: str, data: str, accepted: bool
) -> None:
    body = {"can_id": can_id, "data": data}
    assert body_validator(openapi, "CANSendRequest").is_valid(body) is accepted
    response = client.post("/api/can/send", json=body)
    assert (response.status_code == 202) is accepted, response.text
    if not accepted:
        assert response.json()["errors"][0]["field"] in ("can_id", "data")


def test_can_send_interface_is_an_enum_of_this_servers_names(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    validator = body_validator(openapi, "CANSendRequest")
    assert validator.is_valid({"can_id": "F9", "data": "", "interface": CHANNEL})
    assert validator.is_valid({"can_id": "F9", "data": "", "interface": "chassis"})
    assert not validator.is_valid({"can_id": "F9", "data": "", "interface": ""})
    response = client.post("/api/can/send", json={"can_id": "F9", "data": "", "interface": ""})
    assert response.status_code == 422
    assert response.json()["allowed"] == ["chassis", "house", CHANNEL]


@pytest.mark.parametrize(
    ("dgn", "accepted"),
    [("1FFFD", True), ("0x1fffd", True), ("EA00", True), ("20000", False), ("", False)],
)
def test_sniffer_dgn_pattern_is_what_the_server_takes(
    client: TestClient, openapi: dict[str, Any], dgn: str, accepted: bool
) -> None:
    schema = parameter_schema(openapi, "/api/can/sniffer", "dgn")
    assert jsonschema.Draft202012Validator(schema).is_valid(dgn) is accepted
    response = client.get("/api/can/sniffer", params={"dgn": dgn})
    assert (response.status_code == 200) is accepted, response.text


def test_area_filter_lists_the_coachs_areas(client: TestClient, openapi: dict[str, Any]) -> None:
    schema = parameter_schema(openapi, "/api/entities", "area")
    assert schema["enum"] == [
        "living", "galley", "bedroom", "bathroom", "cockpit", "exterior", "utility"
    ]  # fmt: skip
    assert client.get("/api/entities", params={"area": ""}).status_code == 422
    override = body_validator(openapi, "EntityOverride")
    assert override.is_valid({"area": "galley"}) and not override.is_valid({"area": "attic"})
    assert client.patch("/api/entities/light.porch", json={"area": "attic"}).status_code == 422
    assert client.get("/api/entities", params={"area": "galley"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"action": "on", "entity_ids": ["light.porch"]}, True),
        ({"action": "off", "type": "light"}, True),
        ({"action": "off", "area": "galley", "entity_ids": None}, True),
        ({"action": "on"}, False),
        ({"action": "on", "entity_ids": []}, False),
        ({"action": "on", "type": None, "area": None}, False),
        ({"action": "on", "entity_ids": None, "type": None, "area": None}, False),
        ({"action": "dim", "type": "light"}, False),
    ],
)
def test_bulk_needs_ids_or_a_filter_in_schema_and_server(
    client: TestClient, openapi: dict[str, Any], body: dict[str, Any], accepted: bool
) -> None:
    assert body_validator(openapi, "BulkRequest").is_valid(body) is accepted
    response = client.post("/api/dashboard/bulk", json=body)
    assert (response.status_code == 200) is accepted, response.text


def test_override_hidden_must_be_a_boolean(client: TestClient, openapi: dict[str, Any]) -> None:
    assert not body_validator(openapi, "EntityOverride").is_valid({"hidden": 0})
    response = client.patch("/api/entities/light.porch", json={"hidden": 0})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "hidden"


def example_arguments(spec: Any) -> dict[str, Any]:
    """A command body for ``spec`` with each argument at a value its table allows."""
    body: dict[str, Any] = {"command": spec.name}
    for arg in spec.args:
        if arg.kind == "enum":
            body[arg.name] = arg.choices[-1]
        elif arg.kind == "number":
            body[arg.name] = arg.maximum
        else:
            body[arg.name] = "2024-06-03T14:32:56"
    return body


def test_every_command_of_the_type_table_is_in_the_schema(openapi: dict[str, Any]) -> None:
    validator = body_validator(openapi, "EntityCommand")
    for entity_type in ENTITY_TYPES.values():
        for control in entity_type.controls:
            for spec in control.commands:
                body = example_arguments(spec)
                assert validator.is_valid(body), (entity_type.name, body)
                if spec.args:
                    assert validator.is_valid({**body, spec.args[0].name: None}) is (
                        not spec.args[0].required and (not spec.needs_one_of or len(spec.args) > 1)
                    ), (entity_type.name, spec.name)


@pytest.mark.parametrize(
    ("entity_id", "body"),
    [
        ("light.galley_ceiling", {"command": "set"}),  # at least one of state, brightness
        ("light.galley_ceiling", {"command": "set", "state": None, "brightness": None}),
        ("light.galley_ceiling", {"command": "set", "brightness": 101}),
        ("light.galley_ceiling", {"command": "set", "brightness": "50"}),
        ("light.galley_ceiling", {"command": "set", "state": "on", "colour": "red"}),
        ("light.galley_ceiling", {"command": "toggle", "id": "light.porch"}),
        ("light.galley_ceiling", {"command": "fly"}),
        ("thermostat.front", {"command": "set_mode"}),  # mode is required
        ("datetime.coach", {"command": "set", "datetime": "2024-06-03"}),
        ("datetime.coach", {"command": "set", "datetime": "1999-06-03T14:32:56"}),
    ],
)
def test_commands_the_schema_refuses_are_refused(
    client: TestClient, openapi: dict[str, Any], entity_id: str, body: dict[str, Any]
) -> None:
    assert not body_validator(openapi, "EntityCommand").is_valid(body)
    response = client.post(f"/api/entities/{entity_id}/command", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"], response.text


def test_a_command_of_another_type_is_valid_for_the_schema_and_refused_with_allowed(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    """The one documented gap: the body schema has every type's commands; an entity its own."""
    body = {"command": "set_mode", "mode": "heat"}
    assert body_validator(openapi, "EntityCommand").is_valid(body)
    response = client.post("/api/entities/light.galley_ceiling/command", json=body)
    assert response.status_code == 422
    assert response.json()["allowed"] == ["set", "toggle", "brightness_up", "brightness_down"]


def test_every_request_body_model_is_strict(client: TestClient) -> None:
    """A strict model refuses what its schema refuses ("5" for a number, 0 for a boolean)."""
    bodies = 0
    for route in route_table(client.app):  # type: ignore[arg-type]
        for param in route.dependant.body_params if route.dependant else []:
            model = param.field_info.annotation
            if isinstance(model, type) and hasattr(model, "model_config"):
                bodies += 1
                assert model.model_config.get("strict") is True, (route.path, model.__name__)
    assert bodies >= 10


def test_a_number_sent_as_a_string_is_refused(client: TestClient) -> None:
    response = client.post("/api/dashboard/bulk", json={"action": "on", "entity_ids": "x"})
    assert response.status_code == 422
    response = client.post(
        "/api/can/send", json={"can_id": "19FFFFF9", "data": "", "interface": None}
    )
    assert response.status_code == 202
