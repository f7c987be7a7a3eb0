"""Every error the API answers, in the one error model (``backend.models.errors``).

Installed by ``create_app``: request validation (422 in words, malformed JSON included), any
``HTTPException`` (its ``detail`` kept, extra keys merged), 405 with an ``Allow`` that lists every
method of the path, OPTIONS answered 204 with the same ``Allow``; and the OpenAPI finishing pass
that declares the model on every error status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from backend.core.dependencies import FEATURE_ATTRIBUTE
from backend.models.errors import ERROR_DESCRIPTIONS, ErrorResponse, FieldError

ERROR_REF = "#/components/schemas/ErrorResponse"
# FastAPI's own 422 schemas, replaced by ErrorResponse in the OpenAPI.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_PARSE_FAILED = "There was an error parsing the body"  # FastAPI's 400 text for an unreadable body


def problem(
    status_code: int,
    detail: str,
    *,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An error answer in the error model.

    Args:
        status_code: the HTTP status.
        detail: what went wrong, in words.
        field: the one field at fault (its message is ``detail``), when ``errors`` is not given.
        errors: every field at fault.
        headers: response headers (``Allow``, ``WWW-Authenticate``, ``Retry-After``).
        **extra: route-specific keys such as ``allowed``.
    """
    if errors is None:
        errors = [FieldError(field=field, message=detail)] if field else []
    body = ErrorResponse(detail=detail, errors=errors, **extra)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status_code, headers=headers
    )


# --- request validation -----------------------------------------------------------------------


def _position(document: Any, offset: Any) -> str:
    if not isinstance(document, str) or not isinstance(offset, int):
        return ""
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    return f": line {line}, column {column}"


def _field(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "body"
    if loc[0] == "body":
        rest = [str(part) for part in loc[1:]]
        return ".".join(rest) if rest else "body"
    return ".".join(str(part) for part in loc)


def _message(error: dict[str, Any], document: Any) -> tuple[str, str]:
    """(field, message) of one pydantic/FastAPI error, in words."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "json_invalid":
        reason = str(error.get("ctx", {}).get("error", "")).strip()
        where = _position(document, loc[1] if len(loc) > 1 else None)
        text = f"the body is not valid JSON{where}"
        return "body", f"{text} ({reason[:1].lower()}{reason[1:]})" if reason else text
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    if loc == ("body",):
        value = error.get("input")
        if kind == "missing":
            return "body", "a JSON body is required"
        if isinstance(value, bytes | bytearray):
            return "body", "send the body as application/json (Content-Type: application/json)"
        if kind in ("model_attributes_type", "dict_type"):
            return "body", f"the body must be a JSON object, not {_json_kind(value)}"
    return _field(loc), message


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else "that"


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    """422 naming each field at fault (malformed or missing JSON bodies in words)."""
    errors: list[FieldError] = []
    for error in exc.errors():
        field, message = _message(dict(error), exc.body)
        if not any(e.field == field and e.message == message for e in errors):
            errors.append(FieldError(field=field, message=message))
    detail = "; ".join(
        e.message if e.field == "body" else f"{e.field}: {e.message}" for e in errors
    )
    return problem(422, detail or "the request is not valid", errors=errors)


# --- HTTP exceptions, 405 and OPTIONS ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One HTTP route as served: its full path, methods and dependency tree."""

    path: str
    methods: frozenset[str]
    dependant: Dependant | None
    regex: re.Pattern[str]


def route_table(app: FastAPI) -> list[RouteInfo]:
    """Every HTTP route of ``app`` with its full path (routers included with a prefix too)."""
    try:  # FastAPI >= 0.16x keeps included routers lazily; iter_route_contexts flattens them
        from fastapi.routing import iter_route_contexts

        contexts: list[Any] = list(iter_route_contexts(app.router.routes))
    except ImportError:  # pragma: no cover - older FastAPI lists every route in app.routes
        contexts = list(app.router.routes)
    table: list[RouteInfo] = []
    for context in contexts:
        path = getattr(context, "path_format", None) or getattr(context, "path", None)
        methods = getattr(context, "methods", None)
        if not path or not methods:
            continue
        original = getattr(context, "original_route", context)
        dependant = getattr(original, "dependant", None)
        table.append(RouteInfo(path, frozenset(methods), dependant, compile_path(path)[0]))
    return table


def path_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of ``path``'s most specific route template, sorted (HEAD: none serves it).

    ``/api/entities/metadata`` is its own route (GET), not ``/api/entities/{entity_id}``.
    """
    matching = [route for route in route_table(app) if route.regex.match(path)]
    if not matching:
        return []
    fewest = min(route.path.count("{") for route in matching)
    methods: set[str] = set()
    for route in matching:
        if route.path.count("{") == fewest:
            methods |= route.methods
    methods.discard("HEAD")
    return sorted(methods)


def http_problem(app: FastAPI, request: Request, exc: StarletteHTTPException) -> Response:
    """Any HTTPException in the error model; 405/OPTIONS with the path's full ``Allow``."""
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = path_methods(app, request.url.path)
        allow = ", ".join([*allowed, "OPTIONS"])
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        headers["Allow"] = allow
        return problem(
            405,
            f"{request.url.path} does not accept {request.method}; it accepts {allow}",
            headers=headers,
            allowed=[*allowed, "OPTIONS"],
        )
    if exc.status_code == 400 and (
        isinstance(exc.__cause__, UnicodeDecodeError) or exc.detail == _PARSE_FAILED
    ):
        message = "the body is not valid JSON: it is not UTF-8 text"
        return problem(422, message, field="body")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}; the API is described at /docs"
        return problem(404, message, headers=headers)
    detail = exc.detail
    if isinstance(detail, dict):
        extra = {k: v for k, v in detail.items() if k not in ("detail", "errors")}
        errors = [FieldError.model_validate(e) for e in detail.get("errors", [])]
        text = str(detail.get("detail", ERROR_DESCRIPTIONS.get(exc.status_code, "error")))
        return problem(exc.status_code, text, errors=errors, headers=headers, **extra)
    return problem(exc.status_code, str(detail), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer request validation and HTTP errors in the error model; finish the OpenAPI."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return http_problem(app, request, exc)

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            finish_openapi(app, build())  # build() caches the schema in app.openapi_schema
        return app.openapi_schema or build()

    app.openapi = openapi


# --- OpenAPI ----------------------------------------------------------------------------------


def route_features(dependant: Dependant | None) -> list[str]:
    """The features a route's dependencies need (each answers 503 when it is not running)."""
    found: list[str] = []
    if dependant is None:
        return found

    def walk(dependant: Dependant) -> None:
        feature = getattr(dependant.call, FEATURE_ATTRIBUTE, None)
        if feature and feature not in found:
            found.append(feature)
        for sub in dependant.dependencies:
            walk(sub)

    walk(dependant)
    return found


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ERROR_REF}}}


def finish_openapi(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Declare ErrorResponse on every error status of every operation, in place.

    FastAPI's HTTPValidationError is replaced by ErrorResponse; a status declared without a body
    gets ErrorResponse; an operation whose dependencies need a feature declares its 503.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorResponse", ErrorResponse.model_json_schema(ref_template=_REF))
    for name, model in ErrorResponse.model_json_schema(ref_template=_REF).get("$defs", {}).items():
        components.setdefault(name, model)
    components["ErrorResponse"].pop("$defs", None)
    features = {
        (method.lower(), route.path): route_features(route.dependant)
        for route in route_table(app)
        for method in route.methods
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            needed = features.get((method, path), [])
            if needed and "503" not in responses:
                names = ", ".join(f"`{n}`" for n in needed)
                responses["503"] = {
                    "description": f"The feature {names} is not running (disabled, starting or "
                    "failed); `detail` says why."
                }
            for status, response in responses.items():
                _finish_response(status, response)
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    return schema


_REF = "#/components/schemas/{model}"


def _finish_response(status: str, response: dict[str, Any]) -> None:
    if not (status.startswith("4") or status == "503"):
        return
    content = response.get("content")
    if content is None:
        response["content"] = _error_content()
        return
    text = json.dumps(content)
    if any(name in text for name in _FASTAPI_VALIDATION_SCHEMAS):
        response["content"] = _error_content()
        if status == "422":
            response["description"] = ERROR_DESCRIPTIONS[422]
