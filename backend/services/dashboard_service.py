"""DashboardService: the coach at a glance (counts, alerts), a bounded activity feed, bulk actions.

It listens to the entity layer (state changes, command results) and to the CAN service (frames,
for "no CAN activity" per interface and DM_RV faults). Everything it holds is bounded: the feed
is a deque with a maximum length, alerts are keyed by condition, per-interface and per-source
tables are bounded by the configured interfaces and the 8-bit address space.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from backend.core.config import DashboardSettings
from backend.integrations.can.tasks import cancel_and_wait
from backend.services.dashboard_alerts import (
    ALERTING_TYPES,
    MOTOR_TYPES,
    Alert,
    entity_alerts,
    entity_dict,
    fault_alert,
    inactive_interface_alert,
)
from backend.services.diagnostics import Fault, FaultTable
from backend.services.feature_base import Feature, FeatureHealth, HealthStatus
from backend.services.feature_manager import FeatureNotAvailableError

logger = logging.getLogger(__name__)

DM_RV_DGN = 0x1FECA
BULK_ACTIONS: dict[str, dict[str, Any]] = {
    "on": {"command": "set", "state": "on"},
    "off": {"command": "set", "state": "off"},
}
# Types that a bulk on/off may switch; anything else in a filtered selection is left alone.
SWITCHABLE_TYPES: frozenset[str] = frozenset(
    {"light", "dc_load", "ac_load", "water_pump", "switch"}
)
MAX_BULK_TARGETS = 200


class DashboardError(Exception):
    """Base of the dashboard's errors."""


class BulkRequestError(DashboardError):
    """A bulk request that names no entities, or an unknown action."""


MOTION_ALERT = "motion:coach_moving_with_load_out"


class DashboardService:
    """Summary, alerts, activity feed and bulk actions over the entity and CAN layers.

    Args:
        settings: thresholds and the feed size.
        entity_manager: the EntityManager (``get_all_entities``, ``add_change_listener``).
        entity_service: the EntityService (``execute_command``, ``add_command_listener``).
        can_service: the CANService (``add_listener``), optional.
        interfaces: physical interfaces to watch for activity.
        clock: wall clock (seconds since the epoch), replaceable in tests.
        monotonic: monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        settings: DashboardSettings,
        *,
        entity_manager: Any,
        entity_service: Any = None,
        can_service: Any = None,
        interfaces: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self._entities = entity_manager
        self._entity_service = entity_service
        self._can = can_service
        self._clock = clock
        self._monotonic = monotonic
        self._started = monotonic()
        self.started_at = clock()
        self._activity: deque[dict[str, Any]] = deque(maxlen=settings.activity_size)
        self._seq = itertools.count(1)
        self._alerts: dict[str, Alert] = {}
        self._available: dict[str, bool] = {}
        self._interfaces: dict[str, float | None] = {
            name: None for name in interfaces if not name.startswith("replay:")
        }
        self._rx_counts: Counter[str] = Counter()
        self.faults = FaultTable(settings.max_faults, settings.fault_expiry_seconds)
        self._fault_listeners: list[Callable[[dict[str, Any]], Any]] = []
        self._unsubscribers: list[Callable[[], Any]] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped_listener_errors = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the entity and CAN layers and start the periodic check."""
        self._started = self._monotonic()
        self.started_at = self._clock()
        for entity in self._all_entities():
            if entity.get("last_updated"):
                self._available[str(entity.get("entity_id"))] = entity.get("available") is not False
        self._subscribe(self._entities, "add_change_listener", self._on_entity_change)
        self._subscribe(self._entity_service, "add_command_listener", self._on_command)
        self._subscribe(self._can, "add_listener", self._on_frame)
        gate = getattr(self._entity_service, "gate", None)
        self._subscribe(gate, "add_alert_listener", self._on_motion_alert)
        self.reconcile()
        self._task = asyncio.create_task(self._periodic(), name="dashboard-periodic")

    async def stop(self) -> None:
        """Unsubscribe and stop the periodic check; safe to call twice."""
        for unsubscribe in self._unsubscribers:
            with contextlib.suppress(Exception):
                unsubscribe()
        self._unsubscribers.clear()
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def _subscribe(self, source: Any, method: str, callback: Callable[..., Any]) -> None:
        subscribe = getattr(source, method, None) if source is not None else None
        if subscribe is None:
            return
        unsubscribe = subscribe(callback)
        if callable(unsubscribe):
            self._unsubscribers.append(unsubscribe)
        else:
            remove = getattr(source, method.replace("add_", "remove_"), None)
            if callable(remove):
                self._unsubscribers.append(lambda: remove(callback))

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.reconcile()
            except Exception:  # a bug here must not end the dashboard's checks
                logger.exception("Dashboard periodic check failed")

    # --- listeners ---------------------------------------------------------------------------

    def _on_entity_change(self, *args: Any, **kwargs: Any) -> None:
        """Entity changed: update its availability and alerts (signature-tolerant)."""
        try:
            if len(args) == 1 and not kwargs and self._unchanged(args[0]):
                return
            entity = self._changed_entity(args, kwargs)
            if entity is not None:
                self._update_entity(entity)
        except Exception:
            self.dropped_listener_errors += 1
            logger.exception("Dashboard could not handle an entity change")

    def _unchanged(self, change: Any) -> bool:
        """True when a change record cannot alter the dashboard: the entity was and stays
        available, its type raises no alert of its own (only tanks and batteries do) and it holds
        none. Most changes on a busy bus (lights, power readings) are such, and
        :meth:`_update_entity` would do nothing for them after building the entity's dict."""
        entity_id = getattr(change, "entity_id", None)
        if (
            not isinstance(entity_id, str)
            or getattr(change, "available", None) is not True
            or getattr(change, "entity_type", None) in ALERTING_TYPES
            or self._available.get(entity_id) is not True
        ):
            return False
        return not any(alert.entity_id == entity_id for alert in self._alerts.values())

    def _changed_entity(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict | None:
        """The full entity a change is about (a change record may carry only part of it)."""
        values = [*args, *kwargs.values()]
        for value in values:
            if isinstance(value, str):
                return self._lookup(value)
            if isinstance(value, int | float | bool) or value is None:
                continue
            entity_id = getattr(value, "entity_id", None)
            if isinstance(entity_id, str):  # a change record (EntityChange): no dict of it
                return self._lookup(entity_id) or entity_dict(value)
            data = entity_dict(value)
            if "entity_id" in data:
                return self._lookup(str(data["entity_id"])) or data
        return None

    def _lookup(self, entity_id: str) -> dict[str, Any] | None:
        get = getattr(self._entities, "get_entity", None)
        if get is None:
            return None
        entity = get(entity_id)
        return entity_dict(entity) if entity is not None else None

    def _on_command(self, *args: Any, **kwargs: Any) -> None:
        """A command was sent or resolved: record it in the feed."""
        try:
            for value in [*args, *kwargs.values()]:
                data = value if isinstance(value, dict) else entity_dict(value)
                if data:
                    self._record_command(data)
                    return
        except Exception:
            self.dropped_listener_errors += 1
            logger.exception("Dashboard could not record a command event")

    def _record_command(self, data: dict[str, Any]) -> None:
        status = str(data.get("status") or data.get("result") or "sent")
        entity_id = data.get("entity_id")
        entity = self._lookup(str(entity_id)) if entity_id else None
        label = (entity or {}).get("name") or entity_id
        command = data.get("command")
        if isinstance(command, dict):
            command_text = _command_text(command)
        else:
            command_text = str(command or "command")
        if status in ("pending", "sent", "accepted"):
            kind, severity = "command", "info"
            message = f"{command_text} sent to {label}"
        else:
            kind = "command_result"
            severity = "info" if status in ("confirmed", "success", "succeeded") else "warning"
            message = f"{label}: {command_text} {status.replace('_', ' ')}"
        self._add(
            kind,
            message,
            severity=severity,
            entity_id=entity_id,
            command_id=data.get("command_id"),
            status=status,
        )

    def _on_frame(self, event: Any) -> None:
        """A CAN frame passed (hot path: a few dict operations only)."""
        try:  # a FrameEvent (per frame: plain attribute reads)
            direction, interface, decoded = event.direction, event.interface, event.decoded
        except AttributeError:
            direction = getattr(event, "direction", "rx")
            interface = getattr(event, "interface", None)
            decoded = getattr(event, "decoded", None)
        if direction != "rx":
            return
        if interface is not None:
            self._interfaces[interface] = self._monotonic()
            self._rx_counts[interface] += 1
        if decoded is None or getattr(decoded, "dgn", None) != DM_RV_DGN:
            return
        signals = getattr(decoded, "signals", None) or {}
        source = int(getattr(decoded, "source", getattr(event, "arbitration_id", 0) & 0xFF))
        raised, cleared = self.faults.observe(source, signals, self._clock(), self._monotonic())
        self._fault_changes(raised, cleared)

    # --- diagnostics -------------------------------------------------------------------------

    def add_fault_listener(self, callback: Callable[[dict[str, Any]], Any]) -> Callable[[], None]:
        """Call ``callback(message)`` when a DM_RV fault is raised or cleared."""
        self._fault_listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._fault_listeners:
                self._fault_listeners.remove(callback)

        return unsubscribe

    def _fault_changes(self, raised: list[Fault], cleared: list[Fault]) -> None:
        for fault, active in [(f, True) for f in raised] + [(f, False) for f in cleared]:
            message = self._fault_message(fault, active)
            record = message["fault"]
            if active:
                self._raise(fault_alert(record))
            else:
                self._clear(f"fault:{record['fault_id']}")
            for listener in list(self._fault_listeners):
                try:
                    listener(message)
                except Exception:  # a subscriber's bug must not stop the others
                    self.dropped_listener_errors += 1
                    logger.exception("Fault listener failed")

    def _fault_message(
        self, fault: Fault, active: bool, entities: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The ``diagnostic_fault`` message of a fault; ``lamps_seen``: lit in any report."""
        return {
            "type": "diagnostic_fault",
            "active": active,
            "fault": self._fault_record(fault, entities),
            "lamps_seen": {"red": fault.red_lamp_seen, "yellow": fault.yellow_lamp_seen},
        }

    def active_fault_messages(self) -> list[dict[str, Any]]:
        """A ``diagnostic_fault`` message (``active`` true) for every fault active now."""
        entities = self._all_entities()
        return [self._fault_message(f, True, entities) for f in self.faults.faults()]

    def _fault_record(self, fault: Fault, entities: list[dict[str, Any]] | None = None) -> dict:
        record = fault.as_dict()
        if entities is None:
            entities = self._all_entities()
        record["entities"] = [
            {"entity_id": e.get("entity_id"), "name": e.get("name")}
            for e in entities
            if (e.get("device") or {}).get("source_address", e.get("source_address"))
            == fault.source
        ]
        return record

    def diagnostics(self) -> dict[str, Any]:
        """The active faults of every device (with the entities at their source address)."""
        entities = self._all_entities()
        faults = [self._fault_record(f, entities) for f in self.faults.faults()]
        return {
            "generated_at": self._clock(),
            "faults": faults,
            "count": len(faults),
            "max_faults": self.faults.max_faults,
            "dropped": self.faults.dropped,
            "expiry_seconds": self.faults.expiry_seconds,
        }

    # --- alerts ------------------------------------------------------------------------------

    def _update_entity(self, entity: dict[str, Any]) -> None:
        entity_id = str(entity.get("entity_id"))
        available = entity.get("available") is not False
        # An entity that has not reported yet is "starting", not "lost", for a grace period.
        starting = not entity.get("last_updated") and (
            self._monotonic() - self._started < self.settings.startup_grace_seconds
        )
        if starting and not available:
            return
        previous = self._available.get(entity_id)
        self._available[entity_id] = available
        if previous is not None and previous != available:
            name = entity.get("name") or entity_id
            if available:
                self._add("available", f"{name} is reporting again", entity_id=entity_id)
            else:
                self._add(
                    "unavailable", f"{name} stopped reporting", "warning", entity_id=entity_id
                )
        wanted = {a.alert_id: a for a in entity_alerts(entity, self.settings)}
        prefix_ids = [
            alert_id
            for alert_id, alert in self._alerts.items()
            if alert.entity_id == entity_id and alert_id not in wanted
        ]
        for alert_id in prefix_ids:
            self._clear(alert_id)
        for alert in wanted.values():
            self._raise(alert)

    def _on_motion_alert(self, alert: dict[str, Any]) -> None:
        """The coach moves with a motion load out (critical), or that alert cleared."""
        if alert.get("active"):
            self._raise(Alert(MOTION_ALERT, "motion", "critical", str(alert.get("message"))))
        else:
            self._clear(MOTION_ALERT)

    def _raise(self, alert: Alert) -> None:
        current = self._alerts.get(alert.alert_id)
        self._alerts[alert.alert_id] = alert
        if current is None and alert.kind != "unavailable":
            self._add(
                "alert_raised",
                alert.message,
                alert.severity,
                entity_id=alert.entity_id,
                alert_id=alert.alert_id,
            )

    def _clear(self, alert_id: str) -> None:
        alert = self._alerts.pop(alert_id, None)
        if alert is not None and alert.kind != "unavailable":
            self._add(
                "alert_cleared",
                f"Cleared: {alert.message}",
                entity_id=alert.entity_id,
                alert_id=alert.alert_id,
            )

    def reconcile(self) -> None:
        """Re-evaluate every alert: entities, CAN activity, faults (runs every second)."""
        seen: set[str] = set()
        for entity in self._all_entities():
            seen.add(str(entity.get("entity_id")))
            self._update_entity(entity)
        for alert_id, alert in list(self._alerts.items()):
            if alert.entity_id is not None and alert.entity_id not in seen:
                self._clear(alert_id)
        for known in list(self._available):
            if known not in seen:
                del self._available[known]
        now = self._monotonic()
        limit = self.settings.can_inactivity_seconds
        for interface, last in self._interfaces.items():
            reference = last if last is not None else self._started
            if now - reference > limit:
                idle = None if last is None else now - last
                self._raise(inactive_interface_alert(interface, idle))
            else:
                self._clear(f"can_inactive:{interface}")
        self._fault_changes([], self.faults.expire(now))

    def _all_entities(self) -> list[dict[str, Any]]:
        get_all = getattr(self._entities, "get_all_entities", None)
        if get_all is None:
            return []
        entities = get_all()
        if isinstance(entities, dict):
            entities = entities.values()
        return [entity_dict(e) for e in entities]

    # --- feed --------------------------------------------------------------------------------

    def _add(
        self, kind: str, message: str, severity: str = "info", **details: Any
    ) -> dict[str, Any]:
        entry = {
            "id": next(self._seq),
            "timestamp": self._clock(),
            "kind": kind,
            "severity": severity,
            "message": message,
            **{k: v for k, v in details.items() if v is not None},
        }
        self._activity.append(entry)
        return entry

    def activity(self, limit: int = 50, after: int | None = None) -> list[dict[str, Any]]:
        """Newest first, at most ``limit`` entries, only those with ``id > after`` when given."""
        result: list[dict[str, Any]] = []
        for entry in reversed(self._activity):
            if after is not None and entry["id"] <= after:
                break
            result.append(entry)
            if len(result) >= limit:
                break
        return result

    # --- summary -----------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts by type and area, entity availability, active alerts, interface activity."""
        entities = self._all_entities()
        by_type = Counter(str(e.get("type") or "unknown") for e in entities)
        by_area = Counter(str(e.get("area") or "unassigned") for e in entities)
        available = sum(1 for e in entities if e.get("available") is not False)
        alerts = sorted(
            self._alerts.values(), key=lambda a: (a.severity != "critical", a.kind, a.alert_id)
        )
        now = self._monotonic()
        interfaces = [
            {
                "name": name,
                "rx_frames": self._rx_counts.get(name, 0),
                "idle_seconds": None if last is None else round(now - last, 1),
                "active": last is not None and now - last <= self.settings.can_inactivity_seconds,
            }
            for name, last in self._interfaces.items()
        ]
        return {
            "generated_at": self._clock(),
            "entities": {
                "total": len(entities),
                "available": available,
                "unavailable": len(entities) - available,
            },
            "by_type": dict(sorted(by_type.items())),
            "by_area": dict(sorted(by_area.items())),
            "alerts": [a.as_dict() for a in alerts],
            "alert_counts": dict(Counter(a.severity for a in alerts)),
            "interfaces": interfaces,
        }

    # --- bulk --------------------------------------------------------------------------------

    async def bulk(
        self,
        action: str,
        *,
        entity_ids: list[str] | None = None,
        entity_type: str | None = None,
        area: str | None = None,
        client: str | None = None,
    ) -> list[dict[str, Any]]:
        """Apply ``action`` to many entities; one result per entity, motor loads always skipped.

        Args:
            action: ``on`` or ``off``.
            entity_ids: the entities, or None to select by ``entity_type`` and ``area``.
            entity_type: select entities of this type.
            area: select entities in this area.
            client: who asks (the client's address), recorded in the command audit.

        Raises:
            BulkRequestError: unknown action, or neither ids nor a type/area filter given.
        """
        command = BULK_ACTIONS.get(action)
        if command is None:
            raise BulkRequestError(
                f"unknown action '{action}'; allowed: {', '.join(sorted(BULK_ACTIONS))}"
            )
        if not entity_ids and entity_type is None and area is None:
            raise BulkRequestError("give entity_ids, or a type and/or an area to select entities")
        entities = {str(e.get("entity_id")): e for e in self._all_entities()}
        results: list[dict[str, Any]] = []
        targets: list[dict[str, Any]] = []
        if entity_ids:
            for entity_id in dict.fromkeys(entity_ids):
                entity = entities.get(entity_id)
                if entity is None:
                    results.append(_result(entity_id, "error", "no such entity", 404))
                else:
                    targets.append(entity)
        else:
            targets = [
                e
                for e in entities.values()
                if (entity_type is None or e.get("type") == entity_type)
                and (area is None or e.get("area") == area)
            ]
        if len(targets) > MAX_BULK_TARGETS:
            raise BulkRequestError(
                f"{len(targets)} entities selected; at most {MAX_BULK_TARGETS} per bulk action"
            )
        for entity in targets:
            results.append(
                await self._bulk_one(entity, command, explicit=bool(entity_ids), client=client)
            )
        self._add(
            "bulk",
            f"Bulk '{action}': {sum(r['status'] == 'accepted' for r in results)} accepted, "
            f"{sum(r['status'] == 'skipped' for r in results)} skipped, "
            f"{sum(r['status'] == 'error' for r in results)} failed",
        )
        return [r for r in results if r["status"] != "ignored"]

    async def _bulk_one(
        self, entity: dict[str, Any], command: dict[str, Any], *, explicit: bool, client: str | None
    ) -> dict[str, Any]:
        entity_id = str(entity.get("entity_id"))
        etype = str(entity.get("type", ""))
        if etype in MOTOR_TYPES or _is_motor(entity):
            return _result(entity_id, "skipped", "motor loads are never part of a bulk action")
        if etype not in SWITCHABLE_TYPES:
            status = "skipped" if explicit else "ignored"
            return _result(entity_id, status, f"type '{etype}' has no on/off")
        if self._entity_service is None:
            return _result(entity_id, "error", "entity control is not running", 503)
        try:
            answer = self._entity_service.execute_command(entity_id, dict(command), client=client)
            if inspect.isawaitable(answer):
                answer = await answer
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # each entity answers for itself; one failure never stops others
            return _result(entity_id, "error", str(exc) or type(exc).__name__, _http_status(exc))
        data = answer if isinstance(answer, dict) else entity_dict(answer)
        return {
            "entity_id": entity_id,
            "status": "accepted",
            "command_id": data.get("command_id"),
            "detail": None,
            "http_status": 202,
        }

    # --- health ------------------------------------------------------------------------------

    def health(self) -> FeatureHealth:
        """Healthy while the periodic check runs."""
        if self._task is None or self._task.done():
            return FeatureHealth(HealthStatus.UNHEALTHY, "periodic check is not running")
        return FeatureHealth(
            HealthStatus.HEALTHY,
            details={"alerts": len(self._alerts), "activity": len(self._activity)},
        )


def _command_text(command: dict[str, Any]) -> str:
    name = str(command.get("command", "command"))
    extras = [f"{k}={v}" for k, v in command.items() if k not in ("command", "entity_id", "type")]
    return f"{name} ({', '.join(extras)})" if extras else name


def _is_motor(entity: dict[str, Any]) -> bool:
    capabilities = entity.get("capabilities")
    if isinstance(capabilities, dict):
        return bool(capabilities.get("motor"))
    if isinstance(capabilities, list | tuple | set | frozenset):
        return "motor" in capabilities
    return False


def _http_status(exc: Exception) -> int:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else 500


def _result(
    entity_id: str, status: str, detail: str | None, http_status: int | None = None
) -> dict[str, Any]:
    return {
        "entity_id": entity_id,
        "status": status,
        "command_id": None,
        "detail": detail,
        "http_status": http_status,
    }


class DashboardFeature(Feature):
    """Feature ``dashboard``: owns the DashboardService (depends on entities and can)."""

    service: DashboardService

    async def start(self) -> None:
        """Build the service over the running entity and CAN features and start it."""
        entities = self.context.dependency("entities")
        can = self.context.dependency("can")
        self.service = DashboardService(
            self.settings.dashboard,
            entity_manager=getattr(entities, "entity_manager", None),
            entity_service=getattr(entities, "service", None),
            can_service=getattr(can, "service", None),
            interfaces=_physical_interfaces(can, self.settings.can.interfaces),
        )
        await self.service.start()
        manager = self.context.feature_manager
        try:  # record DM_RV faults in the history when persistence runs (it starts before us)
            persistence = getattr(manager.get_feature("persistence"), "service", None)
        except FeatureNotAvailableError:
            persistence = None
        if persistence is not None:
            persistence.attach_diagnostics(self.service)
        try:  # push DM_RV faults on the WebSocket when it runs (it may start before us)
            websocket = manager.get_feature("websocket")
        except FeatureNotAvailableError:
            return
        on_diagnostic = getattr(getattr(websocket, "service", None), "on_diagnostic", None)
        if on_diagnostic is not None:
            self.service.add_fault_listener(on_diagnostic)

    async def stop(self) -> None:
        """Stop the service (safe twice)."""
        service = getattr(self, "service", None)
        if service is not None:
            await service.stop()

    def check_health(self) -> FeatureHealth:
        """The service's health."""
        return self.service.health()


def _physical_interfaces(can_feature: Any, configured: list[str]) -> list[str]:
    interface_service = getattr(can_feature, "interface_service", None)
    names = getattr(interface_service, "names", None)
    if callable(names):
        names = names()
    if isinstance(names, list | tuple) and names:
        return [str(n) for n in names]
    return list(configured)
