"""The ``simulator`` feature: the simulated coach on the server's own bus channels."""

from __future__ import annotations

from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus
from backend.services.simulator.engine import SimulatedCoach
from backend.services.simulator.setup import build_coach


class SimulatorFeature(Feature):
    """Runs a simulated coach: its own buses on the configured channels, as separate RV-C nodes.

    The server is never bypassed: the coach talks to it only through the bus.
    """

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "Coach simulator")
        self.coach: SimulatedCoach | None = None

    async def start(self) -> None:
        """Open the simulator's buses and start the coach."""
        self.coach = build_coach(self.settings)
        await self.coach.start()

    async def stop(self) -> None:
        """Stop the coach and close its buses. Safe to call twice."""
        coach, self.coach = self.coach, None
        if coach is not None:
            await coach.stop()

    def check_health(self) -> FeatureHealth:
        """Healthy while the coach runs; the counters as details."""
        coach = self.coach
        if coach is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        details = {
            "devices": len(coach.models),
            "nodes": len(coach.nodes),
            **dict(coach.stats),
        }
        if coach.stats.get("send_errors"):
            return FeatureHealth(HealthStatus.DEGRADED, "some frames could not be sent", details)
        return FeatureHealth(HealthStatus.HEALTHY, "", details)
