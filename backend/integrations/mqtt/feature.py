"""The ``mqtt`` feature: runs the MQTT bridge over the running ``entities`` feature."""

from __future__ import annotations

import importlib.metadata
import socket
from typing import Any

from backend.integrations.mqtt.bridge import BridgeState, MQTTBridge
from backend.integrations.mqtt.topics import slug
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus


def default_coach_id(coach: dict[str, Any]) -> str:
    """The mapping's coach name as ``[a-zA-Z0-9_-]``, else the host name."""
    name = str(coach.get("name") or "").strip()
    return slug(name.lower()) if name else slug(socket.gethostname().split(".")[0].lower())


def _version() -> str:
    try:
        return importlib.metadata.version("coachiq")
    except importlib.metadata.PackageNotFoundError:
        return ""


class MQTTFeature(Feature):
    """Owns the MQTTBridge: started after ``entities``, stopped before it."""

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "MQTT bridge")
        self._bridge: MQTTBridge | None = None

    async def start(self) -> None:
        """Build the bridge over the entity manager and service and start its supervisor."""
        entities = self.context.dependency("entities")
        manager = entities.entity_manager  # pyright: ignore[reportAttributeAccessIssue]
        service = entities.service  # pyright: ignore[reportAttributeAccessIssue]
        settings = self.settings.mqtt
        coach = dict(manager.coach)
        security = self.context.app_state.security
        self._bridge = MQTTBridge(
            settings,
            manager,
            service,
            coach_id=settings.coach_id or default_coach_id(coach),
            coach_name=str(coach.get("name") or "Coach"),
            version=_version(),
            audit=getattr(security, "record_command", None),
        )
        await self._bridge.start()

    async def stop(self) -> None:
        """Publish offline and stop the bridge. Safe to call twice."""
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            await bridge.stop()

    @property
    def service(self) -> MQTTBridge:
        """The running MQTTBridge."""
        if self._bridge is None:
            raise RuntimeError("the mqtt feature is not started")
        return self._bridge

    def check_health(self) -> FeatureHealth:
        """Healthy while connected; degraded (with the last error) while it reconnects."""
        if self._bridge is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        details = self._bridge.status()
        if self._bridge.state is BridgeState.CONNECTED:
            return FeatureHealth(HealthStatus.HEALTHY, "", details)
        reason = f"not connected to {details['broker']}"
        if details["last_error"]:
            reason += f": {details['last_error']}"
        return FeatureHealth(HealthStatus.DEGRADED, reason, details)
