"""The one error model: every 4xx answer and every declared error status, on the real app."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from backend.core import dependencies
from backend.main import create_app
from backend.models.errors import ErrorResponse, error_responses
from tests.factories import make_settings

COMMAND = "/api/entities/light.galley_ceiling/command"
ERROR_SCHEMA = ErrorResponse.model_json_schema()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The real app (simulated coach on a virtual bus of its own)."""
    settings = make_settings(can={"interfaces": ["errors-test"], "bustype": "virtual"})
    with TestClient(create_app(settings)) as client:
        yield client


def error_body(response: Any, status: int) -> dict[str, Any]:
    """The body of an error answer, checked against the ErrorResponse schema."""
    assert response.status_code == status, response.text
    body = response.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_malformed_json_is_422_with_line_and_column(client: TestClient) -> None:
    response = client.post(
        COMMAND, content=b'{"brightness": 40x}', headers={"Content-Type": "application/json"}
    )
    body = error_body(response, 422)
    assert body["detail"].startswith("the body is not valid JSON: line 1, column 18")
    assert body["errors"] == [{"field": "body", "message": body["detail"]}]


def test_malformed_json_on_a_later_line_names_that_line(client: TestClient) -> None:
    text = b'{\n  "command": "set",\n  "state": on\n}'
    response = client.post(COMMAND, content=text, headers={"Content-Type": "application/json"})
    assert error_body(response, 422)["detail"].startswith(
        "the body is not valid JSON: line 3, column 12"
    )


def test_missing_body_says_a_json_body_is_required(client: TestClient) -> None:
    body = error_body(client.post(COMMAND), 422)
    assert body["detail"] == "a JSON body is required"
    assert body["errors"][0]["field"] == "body"


def test_body_without_json_content_type_says_to_send_json(client: TestClient) -> None:
    response = client.post(
        COMMAND, content=b'{"command": "toggle"}', headers={"Content-Type": "text/plain"}
    )
    assert error_body(response, 422)["detail"].startswith("send the body as application/json")


def test_body_that_is_not_utf8_is_422_not_400(client: TestClient) -> None:
    response = client.patch(
        "/api/entities/light.galley_ceiling",
        content=b'{"name": "\xff\xfe"}',
        headers={"Content-Type": "application/json"},
    )
    assert error_body(response, 422)["detail"].startswith("the body is not valid JSON")


def test_body_that_is_an_array_says_it_must_be_an_object(client: TestClient) -> None:
    response = client.patch("/api/entities/light.galley_ceiling", json=[1, 2])
    assert error_body(response, 422)["detail"] == "the body must be a JSON object, not an array"


def test_query_parameter_error_names_the_parameter(client: TestClient) -> None:
    body = error_body(client.get("/api/can/sniffer/groups?limit=0"), 422)
    assert body["errors"][0]["field"] == "query.limit"
    assert "greater than or equal to 1" in body["errors"][0]["message"]


def test_route_errors_keep_their_extra_keys(client: TestClient) -> None:
    body = error_body(client.get("/api/entities?area=attic"), 422)
    assert body["errors"][0]["field"] == "query.area"
    assert "galley" in body["allowed"]
    body = error_body(client.post(COMMAND, json={"command": "fly"}), 422)
    assert body["detail"].startswith("unknown command 'fly'")
    assert "toggle" in body["allowed"]
    assert error_body(client.get("/api/entities/light.nowhere"), 404)["detail"] == (
        "no entity 'light.nowhere'"
    )


def test_unknown_route_is_404_in_the_model(client: TestClient) -> None:
    assert "no route GET /api/nowhere" in error_body(client.get("/api/nowhere"), 404)["detail"]


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.delete("/api/entities/light.galley_ceiling")
    body = error_body(response, 405)
    assert response.headers["allow"] == "GET, PATCH, OPTIONS"
    assert body["allowed"] == ["GET", "PATCH", "OPTIONS"]


def test_options_answers_204_with_the_same_allow(client: TestClient) -> None:
    response = client.options("/api/entities/light.galley_ceiling")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, PATCH, OPTIONS"
    response = client.options("/api/can/send")
    assert (response.status_code, response.headers["allow"]) == (204, "POST, OPTIONS")


def test_disabled_feature_answers_declared_503_in_the_model() -> None:
    settings = make_settings(can={"interfaces": ["errors-503"], "bustype": "virtual"})
    with TestClient(create_app(settings)) as client:  # persistence is off by default
        body = error_body(client.get("/api/persistence/backups"), 503)
        assert "persistence" in body["detail"]
        operation = client.get("/openapi.json").json()["paths"]["/api/persistence/backups"]["get"]
        assert operation["responses"]["503"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_openapi_declares_the_error_model_on_every_error_status(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    declared = schema["components"]["schemas"]["ErrorResponse"]
    assert declared["properties"]["detail"]["type"] == "string"
    assert declared["additionalProperties"] is True
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith("4") or (status == "503" and path != "/readyz"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (path, method, status)
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], (path, method)


def test_routes_of_features_declare_their_503(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, method, operation in operations(schema):
        if path.startswith(("/api/can", "/api/entities", "/api/dashboard", "/api/persistence/b")):
            assert "503" in operation["responses"], (path, method)
    assert "503" not in schema["paths"]["/healthz"]["get"]["responses"]


def test_every_feature_provider_is_marked() -> None:
    """A provider that can answer 503 (it calls feature_service) must say which feature."""
    for name, function in inspect.getmembers(dependencies, inspect.isfunction):
        if function.__module__ != dependencies.__name__ or name == "feature_service":
            continue
        if "feature_service(" in inspect.getsource(function):
            assert getattr(function, dependencies.FEATURE_ATTRIBUTE, None), name


def test_error_responses_helper() -> None:
    responses = error_responses(401, 403, s409="Locked by another client.")
    assert responses[401]["model"] is ErrorResponse
    assert responses[403]["description"].startswith("Signed in, but not allowed")
    assert responses[409]["description"] == "Locked by another client."
