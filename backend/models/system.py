"""API models for health, readiness, features and configuration."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class LivenessResponse(BaseModel):
    """The process is alive."""

    status: str = Field("ok", examples=["ok"])


class NotReadyItem(BaseModel):
    """A required feature that is not ready, and why."""

    feature: str
    state: str
    reason: str


class ReadinessResponse(BaseModel):
    """Readiness: every enabled, required feature runs."""

    status: str = Field(..., examples=["ready", "not_ready"])
    not_ready: list[NotReadyItem] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class FeatureHealthModel(BaseModel):
    """Health of a feature."""

    status: str = Field(..., examples=["healthy"])
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class FeatureStatusModel(BaseModel):
    """One feature as the FeatureManager sees it."""

    name: str
    description: str
    enabled: bool
    required: bool
    state: str = Field(..., examples=["running"])
    depends_on: list[str]
    health: FeatureHealthModel
    reason: str


class FeatureListResponse(BaseModel):
    """All features in start order."""

    features: list[FeatureStatusModel]


class ConfigSummaryResponse(BaseModel):
    """The active settings, secrets redacted."""

    config: dict[str, Any]
