"""SafetyGate: the motion rules applied to live bus state, asked before every motion command.

The gate keeps the last CHASSIS_MOBILITY_STATUS, VEHICLE_ENVIRONMENT_STATUS,
LEVELING_CONTROL_STATUS and each motion device's status signals (bounded), answers
:meth:`check` (raises :class:`MotionRefusedError` naming the reason) and raises the
"coach moving with a motion load out" alert on the edge to moving, and tells its unpark
listeners on the edge from parked to not parked (a self-run move in progress is then stopped).
``stop`` is never asked here.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from backend.core.entity_model import Entity
from backend.safety.chassis import CHASSIS_MOBILITY_STATUS, MOBILITY_MAX_GAP_S, interlock_verdict
from backend.safety.chassis import Verdict as Verdict
from backend.safety.classify import is_motion_entity, needs_parked
from backend.safety.errors import MotionRefusedError
from backend.safety.lockouts import Direction, Lockout, blocking, entity_lockouts

logger = logging.getLogger(__name__)

# Device statuses kept whole (no age limit: a device announces on change). LEVELING_CONTROL_STATUS
# is also a coach status (its operating mode locks slides out).
DEVICE_STATUS = frozenset(
    {"SLIDE_STATUS", "AWNING_STATUS", "AWNING_STATUS_2", "LEVELING_CONTROL_STATUS"}
)
COACH_STATUS = frozenset(
    {"CHASSIS_MOBILITY_STATUS", "VEHICLE_ENVIRONMENT_STATUS", "LEVELING_CONTROL_STATUS"}
)
# Coach-level statuses the gate reads whole; no entity maps them, so they are not "unmapped".
CONSUMED_DGNS = frozenset({0x1FFF4, 0x1FE87})  # CHASSIS_MOBILITY_STATUS, VEHICLE_ENVIRONMENT_STATUS
DEVICE_STATUS_LIMIT = 512  # (DGN, instance) pairs kept; the oldest goes first
COACH_STATUS_MAX_AGE = 10.0  # environment / leveling older than this is not used
ALERTS_KEPT = 50
_OUT_WORDS = {
    "extend": "extend",
    "open": "extend",
    "auto_level": "extend",
    "retract": "retract",
    "close": "retract",
    "store": "retract",
}


def direction_of(command: str, args: Mapping[str, Any]) -> Direction:
    """``extend`` (going out) or ``retract`` (coming in) for a motion command."""
    if command == "set" and "lid" in args:
        return "extend" if args["lid"] == "open" else "retract"
    return "retract" if _OUT_WORDS.get(command) == "retract" else "extend"


def load_out(entity: Entity) -> str | None:
    """Why a travel load is not fully retracted (slide out, awning out, jacks down, step out),
    or None when it is. Jacks are down as LEVELING_JACK_STATUS reports them ("Jack is Extended.
    Coach is not safe to move."); a step is out at a STEP_STATUS position above 0 %."""
    state = entity.state
    if entity.entity_type == "leveling":
        down = [
            key[len("jack_") :].replace("_", " ")
            for key, value in state.items()
            if key.startswith("jack_") and value == "extended"
        ]
        if down:
            return f"{entity.name}: jacks down ({', '.join(down)})"
    if entity.entity_type == "step":
        position = state.get("position")
        if isinstance(position, int | float) and position > 0:
            return f"{entity.name}: step out ({position:g} %)"
    position = state.get("position")
    motion = state.get("motion")
    if isinstance(position, int | float) and position > 0:
        return f"{entity.name} out ({position:g} %)"
    if motion not in (None, "stopped"):
        return f"{entity.name} {motion}"
    return None


class SafetyGate:
    """Interlock, lockouts and the moving alert over the bus state."""

    def __init__(
        self,
        entities: Callable[[], Iterable[Entity]],
        *,
        mobility_absent: bool | Callable[[], bool] = False,
        max_speed_kph: float = 0.5,
        grace: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._entities = entities
        self._absent = mobility_absent
        self.max_speed_kph = max_speed_kph
        self.max_gap = MOBILITY_MAX_GAP_S + grace
        self._clock = clock
        self._wall = wall_clock
        self._coach: dict[str, tuple[float, dict[str, Any]]] = {}
        self._devices: OrderedDict[tuple[str, int | None], dict[str, Any]] = OrderedDict()
        self._moving = False
        self._alert: dict[str, Any] | None = None
        self.alerts: deque[dict[str, Any]] = deque(maxlen=ALERTS_KEPT)
        self._alert_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._parked: bool | None = None
        self._unpark_listeners: list[Callable[[str], None]] = []
        self.stats = {"refused": 0, "alerts": 0, "device_status_dropped": 0}

    @property
    def mobility_absent(self) -> bool:
        """True when the coach mapping says the chassis does not report (no interlock)."""
        absent = self._absent
        return absent() if callable(absent) else absent

    # --- input ------------------------------------------------------------------------------

    def ingest(self, name: str | None, instance: int | None, signals: Mapping[str, Any]) -> None:
        """Take one decoded status (called for every received frame; cheap for the rest)."""
        if name in COACH_STATUS:
            self._coach[name] = (self._clock(), dict(signals))
            if name == "CHASSIS_MOBILITY_STATUS":
                self._check_moving()
        if name in DEVICE_STATUS:
            key = (name, instance)
            self._devices.pop(key, None)
            self._devices[key] = dict(signals)
            if len(self._devices) > DEVICE_STATUS_LIMIT:
                self._devices.popitem(last=False)
                self.stats["device_status_dropped"] += 1

    def add_alert_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback(alert)`` when a motion alert is raised or cleared; unsubscriber."""
        self._alert_listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._alert_listeners.remove(callback)

        return unsubscribe

    def add_unpark_listener(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(reason)`` when a CHASSIS_MOBILITY_STATUS ends "parked"; unsubscriber.

        Held moves end by themselves (their run asks the gate at every repeat); a device whose
        firmware runs a whole move (``self_run``) has no lease, so its owner is told here.
        """
        self._unpark_listeners.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._unpark_listeners.remove(callback)

        return unsubscribe

    # --- rules ------------------------------------------------------------------------------

    def verdict(self) -> Verdict:
        """Parked or why not, from the last CHASSIS_MOBILITY_STATUS and its age."""
        last = self._coach.get("CHASSIS_MOBILITY_STATUS")
        age = self._clock() - last[0] if last else None
        return interlock_verdict(
            last[1] if last else None,
            age,
            absent=self.mobility_absent,
            max_gap=self.max_gap,
            max_speed_kph=self.max_speed_kph,
        )

    def mobility_age(self) -> float | None:
        """Seconds since the last CHASSIS_MOBILITY_STATUS, None when none was received."""
        last = self._coach.get("CHASSIS_MOBILITY_STATUS")
        return None if last is None else self._clock() - last[0]

    def _recent(self, name: str) -> dict[str, Any] | None:
        last = self._coach.get(name)
        if last is None:
            return None
        if name != "CHASSIS_MOBILITY_STATUS" and self._clock() - last[0] > COACH_STATUS_MAX_AGE:
            return None
        return last[1]

    def lockouts(self, entity: Entity) -> list[Lockout]:
        """Lockouts the entity's device (and the coach) announce for it."""
        statuses: dict[str, Mapping[str, Any]] = {}
        keys = {(b.dgn_name, b.instance) for b in entity.bindings}
        if entity.entity_type == "awning":
            keys.add(("AWNING_STATUS_2", entity.instance))
        for key in keys:
            signals = self._devices.get(key)
            if signals is not None:
                statuses[key[0]] = signals
        return entity_lockouts(
            entity.entity_type,
            statuses,
            chassis=self._recent("CHASSIS_MOBILITY_STATUS"),
            environment=self._recent("VEHICLE_ENVIRONMENT_STATUS"),
            leveling=self._recent("LEVELING_CONTROL_STATUS"),
        )

    def check(self, entity: Entity, command: str, args: Mapping[str, Any]) -> None:
        """Refuse a motion command the interlock or a lockout forbids.

        Raises:
            MotionRefusedError: naming the reason (409).
        """
        if needs_parked(entity):
            verdict = self.verdict()
            if not verdict.parked:
                self.stats["refused"] += 1
                raise MotionRefusedError(
                    f"{command} refused for {entity.entity_id}: {verdict.reason}",
                    entity_id=entity.entity_id,
                    refusal=verdict.reason,
                    interlock="chassis",
                )
        direction = direction_of(command, args)
        locks = blocking(self.lockouts(entity), direction)
        if locks:
            self.stats["refused"] += 1
            reasons = "; ".join(f"{lock.reason} [{lock.source}]" for lock in locks)
            raise MotionRefusedError(
                f"{command} refused for {entity.entity_id}: the device announced a lockout: "
                f"{reasons}",
                entity_id=entity.entity_id,
                refusal=reasons,
                lockouts=[lock.to_dict() for lock in locks],
            )

    # --- the moving alert -------------------------------------------------------------------

    def _check_moving(self) -> None:
        verdict = self.verdict()
        if self._parked and not verdict.parked:
            for callback in tuple(self._unpark_listeners):
                try:
                    callback(verdict.reason)
                except Exception:
                    logger.exception("unpark listener %r failed", callback)
        self._parked = verdict.parked
        moving = verdict.moving
        if moving and not self._moving:
            out = [
                text
                for e in self._entities()
                if needs_parked(e) and (text := load_out(e)) is not None
            ]
            if out:
                self._raise_alert(out)
        elif self._alert is not None and self.verdict().parked:
            cleared = dict(self._alert, active=False, cleared_at=self._wall())
            self._alert = None
            self._notify(cleared)
        self._moving = moving

    def _raise_alert(self, out: list[str]) -> None:
        reason = self.verdict().reason
        alert = {
            "type": "motion_alert",
            "id": "coach_moving_with_load_out",
            "severity": "critical",
            "active": True,
            "message": f"Coach moving ({reason}) with {', '.join(out)}",
            "loads": out,
            "raised_at": self._wall(),
        }
        self._alert = alert
        self.alerts.append(alert)
        self.stats["alerts"] += 1
        logger.critical("%s", alert["message"])
        self._notify(alert)

    def _notify(self, alert: dict[str, Any]) -> None:
        for callback in tuple(self._alert_listeners):
            try:
                callback(alert)
            except Exception:
                logger.exception("motion alert listener %r failed", callback)

    @property
    def active_alert(self) -> dict[str, Any] | None:
        """The moving-with-load-out alert while it is active."""
        return self._alert

    # --- view -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Interlock state, lockouts in force per motion entity, the alert (GET /api/safety)."""
        verdict = self.verdict()
        age = self.mobility_age()
        chassis = self._recent("CHASSIS_MOBILITY_STATUS")
        lockouts = {}
        for entity in self._entities():
            if is_motion_entity(entity):
                locks = self.lockouts(entity)
                if locks:
                    lockouts[entity.entity_id] = [lock.to_dict() for lock in locks]
        return {
            "interlock": {
                **verdict.to_dict(),
                "mobility_status": "absent" if self.mobility_absent else "present",
                "mobility_status_age_s": None if age is None else round(age, 3),
                "max_gap_s": self.max_gap,
                "chassis": chassis,
                "dgn": f"{CHASSIS_MOBILITY_STATUS:05X}",
            },
            "lockouts": lockouts,
            "alert": self._alert,
            "recent_alerts": list(self.alerts),
            "stats": dict(self.stats),
        }
