"""Health, readiness, features and configuration routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from backend.core.dependencies import get_config_service, get_feature_manager
from backend.models.system import (
    ConfigSummaryResponse,
    FeatureListResponse,
    LivenessResponse,
    ReadinessResponse,
)
from backend.services.config_service import ConfigService
from backend.services.feature_manager import FeatureManager

health_router = APIRouter(tags=["health"])
router = APIRouter(prefix="/api", tags=["system"])

_ALIVE = LivenessResponse(status="ok")


@health_router.get(
    "/healthz",
    response_model=LivenessResponse,
    summary="Liveness",
    description="Answers 200 while the process runs; does no I/O.",
)
async def healthz() -> LivenessResponse:
    """Liveness probe."""
    return _ALIVE


@health_router.get(
    "/readyz",
    response_model=ReadinessResponse,
    summary="Readiness",
    description=(
        "200 when every enabled, required feature is running and healthy; 503 with the features "
        "that are not, and why. `details` carries each feature's health."
    ),
    responses={503: {"model": ReadinessResponse, "description": "Not ready"}},
)
async def readyz(
    request: Request, manager: FeatureManager = Depends(get_feature_manager)
) -> JSONResponse:
    """Readiness probe."""
    problems = manager.not_ready()
    details = {
        item["name"]: item["health"] for item in manager.status() if item["state"] != "disabled"
    }
    body = ReadinessResponse(
        status="not_ready" if problems else "ready",
        not_ready=problems,  # pyright: ignore[reportArgumentType]
        details=details,
    )
    return JSONResponse(body.model_dump(), status_code=503 if problems else 200)


@router.get(
    "/features",
    response_model=FeatureListResponse,
    summary="Features",
    description="Every feature: enabled, state, dependencies, health and the reason for its state.",
)
async def list_features(
    manager: FeatureManager = Depends(get_feature_manager),
) -> FeatureListResponse:
    """List features."""
    return FeatureListResponse.model_validate({"features": manager.status()})


@router.get(
    "/config",
    response_model=ConfigSummaryResponse,
    summary="Configuration",
    description="The active configuration by section, with secrets redacted as `***`.",
)
async def get_config(
    config_service: ConfigService = Depends(get_config_service),
) -> ConfigSummaryResponse:
    """Configuration summary."""
    return ConfigSummaryResponse(config=config_service.get_config_summary())
