"""Every operation in the OpenAPI document declares the role it needs (from the route table)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from backend.security.policy import PUBLIC, ROUTE_ROLES, lookup

# The one error model of the API (backend/models/errors.py); refusals add ``role_needed``.
_REFUSAL_SCHEMA: dict[str, Any] = {"$ref": "#/components/schemas/ErrorResponse"}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`coachiq tokens create NAME --role operator`).",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "coachiq_session",
        "description": "The dashboard's session cookie (POST /api/auth/login).",
    },
}


def role_of(method: str, path: str) -> str:
    """The role the table gives ``METHOD path`` (admin for a route missing from the table)."""
    value = ROUTE_ROLES.get(f"{method} {path}")
    if value is None:
        rule = lookup(method, path)
        value = rule.role if rule is not None else "admin"
    return str(value)


def _refusal(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _REFUSAL_SCHEMA}}}


def annotate(schema: dict[str, Any]) -> dict[str, Any]:
    """Add ``x-required-role``, a role line, 401/403 responses and security to each operation."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            role = role_of(method.upper(), path)
            operation["x-required-role"] = role
            line = (
                "**Role needed:** none (public)."
                if role == PUBLIC
                else f"**Role needed:** `{role}` (see docs/security.md)."
            )
            operation["description"] = f"{operation.get('description') or ''}\n\n{line}".strip()
            if role != PUBLIC:
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", _refusal("No or invalid credentials."))
                responses.setdefault("403", _refusal(f"The caller's role is below {role}."))
                operation["security"] = [{"bearer": []}, {"session": []}]
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return schema


def declare_roles(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the generated document carries the route table's roles."""
    build = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema = build()
        if not done:
            annotate(schema)
            done = True
        return schema

    app.openapi = openapi
