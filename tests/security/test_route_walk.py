"""Every route of the app against the route table: 401 without credentials (except the public
ones), and each role gets exactly what the table allows (403 naming the role otherwise)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.testclient import WebSocketDenialResponse

from backend.security.policy import PUBLIC, ROUTE_ROLES, lookup
from backend.security.principal import Role
from tests.security.conftest import bearer, token_for

TABLE_FILE = "backend/security/policy.py"


def app_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves (WS for WebSockets)."""
    routes: list[tuple[str, str]] = []
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        original = context.original_route
        path = context.path_format or context.path or ""
        if isinstance(original, Mount):
            routes.append(("GET", path.removesuffix("/{path}") + "/{path:path}"))
        elif context.methods is None:
            routes.append(("WS", path))
        else:
            routes.extend((m, path) for m in sorted(context.methods) if m != "HEAD")
    return routes


def concrete(path: str) -> str:
    """A request path for a template: every parameter filled in."""
    return re.sub(r"\{[^}]+\}", "x", path).replace("/static/x", "/static/index.html")


def test_every_route_is_in_the_table(secure_client: TestClient) -> None:
    missing = [f"{m} {p}" for m, p in app_routes(secure_client) if f"{m} {p}" not in ROUTE_ROLES]
    assert not missing, (
        "these routes are served but missing from ROUTE_ROLES in "
        f"{TABLE_FILE}; add each with the role it needs (and a line in docs/security.md): "
        + ", ".join(missing)
    )
    served = {f"{m} {p}" for m, p in app_routes(secure_client)}
    stale = sorted(set(ROUTE_ROLES) - served)
    assert not stale, f"ROUTE_ROLES in {TABLE_FILE} lists routes the app does not serve: {stale}"


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    url = concrete(path)
    if method == "WS":
        try:
            with client.websocket_connect(url, headers=headers):
                return 101
        except WebSocketDenialResponse as denial:
            return denial.status_code
    return client.request(method, url, headers=headers).status_code


def test_without_credentials_every_route_but_the_public_ones_is_401(
    secure_client: TestClient,
) -> None:
    wrong = []
    for method, path in app_routes(secure_client):
        status = _call(secure_client, method, path, {})
        public = ROUTE_ROLES[f"{method} {path}"] == PUBLIC
        if public == (status == 401):
            wrong.append(f"{method} {path}: {status} ({'public' if public else 'protected'})")
    assert not wrong, wrong


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_each_role_gets_exactly_what_the_table_allows(
    secure_client: TestClient, role: Role
) -> None:
    headers = bearer(token_for(secure_client, f"walk-{role.value}", role.value))
    wrong = []
    for method, path in app_routes(secure_client):
        if (method, path) == ("DELETE", "/api/security/tokens/{token}"):
            continue  # revoking "x" is harmless, but keep the walk's own token alive
        needed = ROUTE_ROLES[f"{method} {path}"]
        status = _call(secure_client, method, path, headers)
        allowed = needed == PUBLIC or role.includes(Role(needed))
        if allowed and status in (401, 403):
            wrong.append(f"{method} {path}: {status}, but {role.value} may")
        if not allowed and status != 403:
            wrong.append(f"{method} {path}: {status}, but {role.value} may not (needs {needed})")
    assert not wrong, wrong


def test_a_forbidden_answer_names_the_role_needed(secure_client: TestClient) -> None:
    viewer = bearer(token_for(secure_client, "v", "viewer"))
    response = secure_client.get("/api/security/users", headers=viewer)
    assert response.status_code == 403
    assert response.json()["role_needed"] == "admin"
    assert "role admin needed" in response.json()["detail"]


def test_openapi_declares_each_operations_role(secure_client: TestClient) -> None:
    admin = bearer(token_for(secure_client, "a", "admin"))
    schema = secure_client.get("/openapi.json", headers=admin).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            rule = lookup(method.upper(), path)
            assert rule is not None, f"{method.upper()} {path} not in the table"
            assert operation["x-required-role"] == rule.role, (method, path)
            if rule.role != PUBLIC:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
    assert schema["paths"]["/api/can/send"]["post"]["x-required-role"] == "admin"
