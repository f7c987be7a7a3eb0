"""``GET /metrics``: Prometheus text exposition of the server's figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from backend.core.dependencies import get_metrics_service

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "Every figure in the Prometheus text format, each name prefixed `coachiq_` "
        "(docs/metrics.md); OpenMetrics when the `Accept` header asks for it. 503 when the "
        "metrics feature is not running."
    ),
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Metrics"}},
)
async def metrics(request: Request, service: Any = Depends(get_metrics_service)) -> Response:
    """Render the metrics on the event loop (the collector reads live services)."""
    body, content_type = service.render(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type})
