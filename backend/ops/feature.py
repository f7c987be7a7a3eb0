"""The ``metrics`` feature: one MetricsService per application, fed by the running features."""

from __future__ import annotations

from backend.ops.metrics import MetricsService
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus
from backend.services.feature_manager import FeatureNotAvailableError


class MetricsFeature(Feature):
    """Serves ``/metrics``; listed last in feature_flags.yaml so the features it reads start first.

    It depends only on ``can`` (so that turning persistence, WebSocket or MQTT off does not turn
    metrics off); the others are read at scrape time when they run.
    """

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "Metrics")
        self._service: MetricsService | None = None

    async def start(self) -> None:
        """Build the registry and observe command confirmations when entities run."""
        self._service = MetricsService(self.context.feature_manager)
        try:
            entities = self.context.feature_manager.get_feature("entities")
        except FeatureNotAvailableError:
            return
        self._service.watch_commands(entities.service)  # pyright: ignore[reportAttributeAccessIssue]

    async def stop(self) -> None:
        """Stop observing. Safe to call twice."""
        if self._service is not None:
            self._service.close()

    @property
    def service(self) -> MetricsService:
        """The running MetricsService."""
        if self._service is None:
            raise RuntimeError("the metrics feature is not started")
        return self._service

    def check_health(self) -> FeatureHealth:
        """Healthy once started."""
        if self._service is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        return FeatureHealth(HealthStatus.HEALTHY)
