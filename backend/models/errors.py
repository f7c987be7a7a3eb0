"""The one error model of the API: every 4xx (and 503) answer has this shape.

``detail`` is one sentence a person can read; ``errors`` names each field that is wrong and why;
a route may add keys of its own (``allowed``: what would have been accepted; ``retry_after``...).
Declare it on a route with :func:`error_responses`::

    @router.post("/x", responses=error_responses(404, 409))

The application declares 422 on every operation that takes input and 503 on every operation of an
optional feature by itself (``backend.api.errors.finish_openapi``); routes declare the rest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One thing wrong with the request."""

    field: str = Field(
        ...,
        description="Where: a body field (`brightness`, `entity_ids.0`), `body` for the body as a "
        "whole, or `query.NAME` / `path.NAME` / `header.NAME` for a parameter.",
        examples=["brightness"],
    )
    message: str = Field(
        ..., description="What is wrong and what is allowed.", examples=["must be 0 to 100"]
    )


class ErrorResponse(BaseModel):
    """An error: a readable ``detail``, the fields at fault, and extra keys some routes add."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "detail": "brightness: must be 0 to 100",
                    "errors": [{"field": "brightness", "message": "must be 0 to 100"}],
                },
                {
                    "detail": "unknown area 'attic'; areas: living, galley",
                    "errors": [{"field": "query.area", "message": "unknown area 'attic'"}],
                    "allowed": ["living", "galley"],
                },
            ]
        },
    )

    detail: str = Field(..., description="What went wrong, in words.")
    errors: list[FieldError] = Field(
        default_factory=list, description="Each field at fault (empty when none is)."
    )
    allowed: list[str] | str | None = Field(
        None,
        description="Routes that refuse a value say what they accept: the names, or a range in "
        "words.",
    )


# What each status means across the API (a route may give a more precise description).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be read.",
    401: "Not signed in: no valid session or token.",
    403: "Signed in, but not allowed to do this.",
    404: "No such resource.",
    405: "The path does not accept this method; `Allow` lists those it does.",
    409: "The request conflicts with the current state (the device is unavailable, ...).",
    413: "The request body is too large.",
    415: "The body is not in a media type the route accepts.",
    422: "The request is not valid: `errors` names each field and what is allowed.",
    423: "The resource is locked.",
    429: "Too many requests; retry later.",
    503: "The feature this route needs is not running, or cannot do it now; `detail` says why.",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry declaring ``ErrorResponse`` for each status code.

    Args:
        *codes: status codes answered with the error model, each with its usual description.
        **descriptions: ``s409="..."`` gives a status its own description (and declares it).
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS.get(code, "Error")}
    for key, text in descriptions.items():
        code = int(key.removeprefix("s"))
        out[code] = {"model": ErrorResponse, "description": text}
    return out
