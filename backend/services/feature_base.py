"""The Feature base class: one unit of the server with a start/stop lifecycle and health."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.core.config import Settings
    from backend.core.state import AppState
    from backend.services.feature_manager import FeatureManager


class FeatureState(StrEnum):
    """Lifecycle state of a feature."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    DISABLED = "disabled"


class HealthStatus(StrEnum):
    """Health verdict a feature reports about itself."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FeatureHealth:
    """A health verdict with the reason a person can act on."""

    status: HealthStatus
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FeatureContext:
    """What a feature may reach: the settings, the app state and its dependencies' features."""

    settings: Settings
    app_state: AppState
    feature_manager: FeatureManager

    def dependency(self, name: str) -> Feature:
        """Return the running feature ``name`` (a feature may only ask for its dependencies)."""
        return self.feature_manager.get_feature(name)


class Feature:
    """Base class of every feature; subclasses override ``start``, ``stop`` and ``check_health``.

    A feature owns what it starts: background tasks, buses, connections. ``stop`` must be safe to
    call twice and must not swallow ``asyncio.CancelledError``.
    """

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        self.name = name
        self.friendly_name = friendly_name or name.replace("_", " ").title()
        self.context = context

    @property
    def settings(self) -> Settings:
        """The application's settings."""
        return self.context.settings

    async def start(self) -> None:
        """Acquire resources and start background work. Raise to fail the feature."""

    async def stop(self) -> None:
        """Release everything ``start`` acquired. Safe to call twice."""

    def check_health(self) -> FeatureHealth:
        """Report health while running; the default is healthy."""
        return FeatureHealth(HealthStatus.HEALTHY)

    def not_ready(self) -> list[str]:
        """What keeps a running feature from being ready (one reason each); none by default."""
        return []
