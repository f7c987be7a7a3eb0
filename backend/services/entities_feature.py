"""EntitiesFeature: the ``entities`` feature: the coach mapping, the EntityManager fed from the
bus, the EntityService and the motion SafetyGate it asks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from backend.core.coach_mapping import empty_mapping, load_coach_mapping, unmapped_reason
from backend.core.entity_manager import EntityManager
from backend.core.mapping_identify import DeviceIdentifier
from backend.core.mapping_service import MappingService
from backend.integrations.can.frame_event import FrameEvent
from backend.integrations.rvc.decoder import DecodedMessage
from backend.integrations.rvc.loader import load_config_data
from backend.integrations.rvc.spec import RVCSpec
from backend.safety.acks import ACKNOWLEDGMENT
from backend.safety.gate import CONSUMED_DGNS, SafetyGate
from backend.services.entity_service import EntityService
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus

logger = logging.getLogger(__name__)


class EntitiesFeature(Feature):
    """The ``entities`` feature: loads the coach mapping, feeds the EntityManager from the bus
    and owns the EntityService and the availability task."""

    def __init__(self, name: str, context: FeatureContext, friendly_name: str | None = None):
        super().__init__(name, context, friendly_name or "Coach model")
        self._manager: EntityManager | None = None
        self._service: EntityService | None = None
        self._mapping_service: MappingService | None = None
        self._identifier: DeviceIdentifier | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._gate: SafetyGate | None = None

    async def start(self) -> None:
        """Load the mapping (a bad one fails the feature with file:line lines), subscribe."""
        settings = self.settings
        rvc = self.context.dependency("rvc").service  # pyright: ignore[reportAttributeAccessIssue]
        can_service = self.context.dependency("can").service  # pyright: ignore[reportAttributeAccessIssue]
        entities = settings.entities
        simulated = self.context.feature_manager.is_enabled("simulator")
        reason = unmapped_reason(settings, simulated=simulated)
        spec = _spec_of(rvc, settings.rvc.spec_path)
        if reason:
            logger.warning("Coach model is empty: %s", reason)
            mapping = empty_mapping(reason)
        else:
            mapping = load_coach_mapping(settings, spec)
        self._manager = EntityManager(
            mapping,
            history_count=entities.history_count,
            history_max_age=entities.history_max_age,
            unmapped_limit=entities.unmapped_limit,
            unknown_dgn_limit=entities.unknown_dgn_limit,
            consumed_dgns=CONSUMED_DGNS,
        )
        manager = self._manager
        self._gate = SafetyGate(
            manager.get_all_entities,
            mobility_absent=lambda: manager.chassis.get("mobility_status") == "absent",
            max_speed_kph=settings.safety.parked_max_speed_kph,
            grace=entities.availability_grace,
        )
        self._service = EntityService(
            manager,
            rvc.encode,
            can_service.send_can_message,
            entities,
            source_address=can_service.source_address,
            safety=settings.safety,
            gate=self._gate,
        )
        self._mapping_service = MappingService(settings, spec, self._manager, simulated=simulated)
        self._identifier = DeviceIdentifier(
            self._manager,
            spec,
            rvc.encode,
            can_service.send_can_message,
            source_address=can_service.source_address,
            guard=self._identify_refusal,
        )
        self._unsubscribe = can_service.add_listener(self._on_frame)
        self._task = asyncio.create_task(self._check_availability(), name="entities-availability")
        logger.info("Coach mapping %s: %d entities", mapping.path, len(mapping.entities))

    def _identify_refusal(self) -> str | None:
        """Why the wizard may not switch an unmapped output now (the coach is not parked)."""
        if self._gate is None:
            return "motion safety is not running"
        verdict = self._gate.verdict()
        return None if verdict.parked else verdict.reason

    def _on_frame(self, event: FrameEvent) -> None:
        message = event.decoded
        if event.direction != "rx" or not isinstance(message, DecodedMessage):
            return
        assert self._manager is not None and self._service is not None
        self._manager.ingest(message, event.timestamp)
        if self._gate is not None:
            self._gate.ingest(message.name, message.instance, message.signals)
        if message.dgn == ACKNOWLEDGMENT:
            self._service.on_acknowledgment(message)

    async def _check_availability(self) -> None:
        interval = self.settings.entities.availability_check_interval
        while True:
            await asyncio.sleep(interval)
            if self._manager is not None:
                self._manager.check_availability()

    async def stop(self) -> None:
        """Unsubscribe, stop the availability task and the service. Safe to call twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._identifier is not None:
            await self._identifier.close()
        if self._service is not None:
            await self._service.close()

    @property
    def service(self) -> EntityService:
        """The running EntityService."""
        if self._service is None:
            raise RuntimeError("the entities feature is not started")
        return self._service

    @property
    def mapping_service(self) -> MappingService:
        """The running MappingService (reload, edit, undo)."""
        if self._mapping_service is None:
            raise RuntimeError("the entities feature is not started")
        return self._mapping_service

    @property
    def identifier(self) -> DeviceIdentifier:
        """The running DeviceIdentifier (the wizard's "identify")."""
        if self._identifier is None:
            raise RuntimeError("the entities feature is not started")
        return self._identifier

    @property
    def gate(self) -> SafetyGate:
        """The motion SafetyGate."""
        if self._gate is None:
            raise RuntimeError("the entities feature is not started")
        return self._gate

    @property
    def entity_manager(self) -> EntityManager:
        """The running EntityManager."""
        if self._manager is None:
            raise RuntimeError("the entities feature is not started")
        return self._manager

    def check_health(self) -> FeatureHealth:
        """Healthy with counts; degraded when no entity is available after a minute."""
        if self._manager is None:
            return FeatureHealth(HealthStatus.UNKNOWN, "not started")
        entities = self._manager.get_all_entities()
        available = sum(1 for e in entities if e.available)
        details: dict[str, Any] = {
            "entities": len(entities),
            "available": available,
            **self._manager.stats,
        }
        if self._service is not None:
            log = self._service.commands
            details["commands_kept"], details["commands_evicted"] = len(log), log.evicted
        if entities and not available and self.context.app_state.uptime_seconds > 60:
            return FeatureHealth(HealthStatus.DEGRADED, "no entity has reported", details)
        return FeatureHealth(HealthStatus.HEALTHY, "", details)


def _spec_of(rvc: Any, spec_path: Any) -> RVCSpec:
    """The RVCService's loaded specification (its ``spec`` or ``config.spec``)."""
    spec = getattr(rvc, "spec", None)
    if isinstance(spec, RVCSpec):
        return spec
    config = getattr(rvc, "config", None)
    if config is not None and isinstance(getattr(config, "spec", None), RVCSpec):
        return config.spec
    return load_config_data(spec_path).spec
