"""``GET /metrics``: Prometheus text exposition of the server's figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from backend.core.dependencies import get_metrics_service

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "Every figure in the Prometheus text format, each name prefixed `coachiq_` "
        "(docs/metrics.md). 503 when the metrics feature is not running."
    ),
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics"}},
)
async def metrics(service: Any = Depends(get_metrics_service)) -> Response:
    """Render the metrics on the event loop (the collector reads live services)."""
    return Response(service.render(), media_type=CONTENT_TYPE_LATEST)
