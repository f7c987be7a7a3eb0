"""Simulated coach routes under ``/api/simulator`` (answer 404 unless the simulator runs)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from backend.core.dependencies import get_feature_manager
from backend.models.errors import error_responses
from backend.services.feature_manager import FeatureNotAvailableError

router = APIRouter(prefix="/api/simulator", tags=["simulator"])


class ChassisUpdate(BaseModel):
    """The simulated chassis: park brake and vehicle speed (CHASSIS_MOBILITY_STATUS)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    park_brake: Literal["set", "released"] | None = Field(
        None, description="set (coach immobilised) or released (free to roll)."
    )
    speed_kph: float | None = Field(None, ge=0, le=250, description="Vehicle speed, 0-250 km/h.")


class DeviceOverride(BaseModel):
    """A person holding a simulated slide or awning's local switch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    active: bool = Field(..., description="true: the device answers NAK 8 to remote moves.")


def _coach(request: Request) -> Any:
    try:
        coach = getattr(get_feature_manager(request).get_feature("simulator"), "coach", None)
    except FeatureNotAvailableError:
        coach = None
    if coach is None:
        raise HTTPException(
            404, "the simulated coach is not running (COACHIQ_FEATURES__ENABLE_SIMULATOR)"
        )
    return coach


@router.get(
    "/chassis",
    summary="The simulated chassis",
    responses=error_responses(s404="The simulator is not running, or the chassis does not report."),
)
async def chassis(request: Request) -> dict[str, Any]:
    """Park brake, speed, ignition and gear the simulated chassis reports."""
    model = _coach(request).chassis()
    if model is None:
        raise HTTPException(404, "this coach's mapping says its chassis does not report")
    return model.state()


@router.post(
    "/chassis",
    summary="Set the simulated chassis",
    responses=error_responses(s404="The simulator is not running, or the chassis does not report."),
)
async def set_chassis(request: Request, body: ChassisUpdate = Body(...)) -> dict[str, Any]:
    """Set the park brake and/or the speed; CHASSIS_MOBILITY_STATUS goes out at once."""
    coach = _coach(request)
    try:
        return coach.set_chassis(park_brake=body.park_brake, speed_kph=body.speed_kph)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post(
    "/devices/{entity_id}/override",
    summary="Hold a device's local switch",
    responses=error_responses(
        s404="The simulator is not running, or no simulated slide or awning has that id (only "
        "they have a local switch).",
    ),
)
async def override(
    entity_id: str, request: Request, body: DeviceOverride = Body(...)
) -> dict[str, Any]:
    """While active, the simulated slide or awning answers NAK 8 (overridden by user)."""
    coach = _coach(request)
    try:
        model = coach.model(entity_id)
    except KeyError:
        raise HTTPException(404, f"no simulated device '{entity_id}'") from None
    if not hasattr(model, "override"):
        raise HTTPException(
            404, f"{entity_id} has no local switch to hold (only slides and awnings have one)"
        )
    model.override = body.active
    return {"entity_id": entity_id, "override": model.override}
