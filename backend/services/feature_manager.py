"""FeatureManager: reads feature_flags.yaml, resolves dependencies, starts and stops features."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backend.core.config import ENV_PREFIX, Settings
from backend.core.state import AppState
from backend.services.feature_base import (
    Feature,
    FeatureContext,
    FeatureHealth,
    FeatureState,
    HealthStatus,
)

logger = logging.getLogger(__name__)

FEATURE_FLAGS_PATH = Path(__file__).with_name("feature_flags.yaml")

FeatureFactory = Callable[[str, FeatureContext], Feature]


class FeatureConfigError(Exception):
    """The feature definitions cannot be used (cycle, unknown dependency, bad override)."""


class FeatureNotAvailableError(Exception):
    """A feature was asked for that is not running."""

    def __init__(self, name: str, state: str, reason: str = ""):
        detail = f": {reason}" if reason else ""
        super().__init__(f"feature '{name}' is {state}{detail}")
        self.name = name
        self.state = state
        self.reason = reason


@dataclass(slots=True)
class FeatureDefinition:
    """One feature as declared in feature_flags.yaml."""

    name: str
    enabled: bool | str = True
    required: bool = False
    depends_on: list[str] = field(default_factory=list)
    description: str = ""
    factory: str | FeatureFactory | None = None


@dataclass(slots=True)
class _Slot:
    definition: FeatureDefinition
    enabled: bool = False
    state: FeatureState = FeatureState.STOPPED
    reason: str = ""
    instance: Feature | None = None


def load_feature_definitions(path: Path = FEATURE_FLAGS_PATH) -> list[FeatureDefinition]:
    """Read feature definitions from a YAML file.

    Raises:
        FeatureConfigError: when the file is not a mapping of feature entries.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise FeatureConfigError(f"{path}: expected a mapping of feature names")
    definitions = []
    for name, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise FeatureConfigError(f"{path}: feature '{name}' must be a mapping")
        unknown = set(entry) - {"enabled", "required", "depends_on", "description", "factory"}
        if unknown:
            raise FeatureConfigError(f"{path}: feature '{name}' has unknown keys {sorted(unknown)}")
        definitions.append(
            FeatureDefinition(
                name=str(name),
                enabled=entry.get("enabled", True),
                required=bool(entry.get("required", False)),
                depends_on=list(entry.get("depends_on") or []),
                description=str(entry.get("description", "")),
                factory=entry.get("factory"),
            )
        )
    return definitions


def _default_enabled(name: str, value: bool | str, settings: Settings) -> bool:
    if name == "persistence" and settings.persistence.enabled:
        return True  # COACHIQ_PERSISTENCE__ENABLED=true turns the feature on
    if name == "mqtt" and settings.mqtt.enabled:
        return True  # COACHIQ_MQTT__ENABLED=true turns the feature on
    if isinstance(value, bool):
        return value
    if value == "auto" and name == "simulator":
        return settings.can.bustype == "virtual"
    raise FeatureConfigError(f"feature '{name}': enabled must be true, false or auto")


def _not_applicable(name: str, settings: Settings) -> str:
    """Why an enabled feature has nothing to do with these settings ("" when it has)."""
    if name == "simulator" and all(c.startswith("replay:") for c in settings.can.interfaces):
        return "not applicable: no bus to simulate on (every CAN interface is a replayed log)"
    return ""


def _topological_order(definitions: dict[str, FeatureDefinition]) -> list[str]:
    for name, definition in definitions.items():
        for dep in definition.depends_on:
            if dep not in definitions:
                raise FeatureConfigError(
                    f"feature '{name}' depends on unknown feature '{dep}'"
                    f" (known: {', '.join(sorted(definitions))})"
                )
    order: list[str] = []
    marks: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: list[str]) -> None:
        mark = marks.get(name)
        if mark == 2:
            return
        if mark == 1:
            cycle = [*path[path.index(name) :], name]
            raise FeatureConfigError(f"feature dependency cycle: {' -> '.join(cycle)}")
        marks[name] = 1
        for dep in definitions[name].depends_on:
            visit(dep, [*path, name])
        marks[name] = 2
        order.append(name)

    for name in definitions:
        visit(name, [])
    return order


def _import_factory(spec: str) -> FeatureFactory:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


class FeatureManager:
    """Owns the features of one application: order, lifecycle, status."""

    def __init__(
        self,
        definitions: list[FeatureDefinition],
        settings: Settings,
        app_state: AppState,
    ):
        self.settings = settings
        self.app_state = app_state
        self._definitions = {d.name: d for d in definitions}
        self._order = _topological_order(self._definitions)
        self._slots = {name: _Slot(definition=d) for name, d in self._definitions.items()}
        self._context = FeatureContext(settings=settings, app_state=app_state, feature_manager=self)
        self._resolve_enabled()

    @classmethod
    def from_yaml(
        cls, settings: Settings, app_state: AppState, path: Path = FEATURE_FLAGS_PATH
    ) -> FeatureManager:
        """Build a manager from feature_flags.yaml."""
        return cls(load_feature_definitions(path), settings, app_state)

    def _resolve_enabled(self) -> None:
        overrides = self.settings.features.overrides()
        unknown = sorted(set(overrides) - set(self._definitions))
        if unknown:
            names = ", ".join(f"{ENV_PREFIX}FEATURES__ENABLE_{n.upper()}" for n in unknown)
            raise FeatureConfigError(
                f"{names}: no such feature (known: {', '.join(sorted(self._definitions))})"
            )
        for name in self._order:
            slot = self._slots[name]
            if name in overrides:
                slot.enabled = overrides[name]
                origin = f"{ENV_PREFIX}FEATURES__ENABLE_{name.upper()}"
            else:
                slot.enabled = _default_enabled(name, slot.definition.enabled, self.settings)
                origin = "feature_flags.yaml"
                if name == "persistence":  # either one turns it on, see _default_enabled
                    origin += f" and {ENV_PREFIX}PERSISTENCE__ENABLED=false"
                if name == "mqtt":
                    origin += f" and {ENV_PREFIX}MQTT__ENABLED=false"
            if not slot.enabled:
                slot.state = FeatureState.DISABLED
                slot.reason = f"disabled by {origin}"
                if name == "simulator" and origin == "feature_flags.yaml":
                    slot.reason = (
                        f"disabled: {ENV_PREFIX}CAN__BUSTYPE is {self.settings.can.bustype!r}, "
                        "the simulator starts by itself only on the virtual bus type"
                    )
                continue
            reason = _not_applicable(name, self.settings)
            if reason:
                slot.enabled = False
                slot.state = FeatureState.DISABLED
                slot.reason = reason
                logger.info("Feature '%s' disabled: %s", name, reason)
                continue
            off = [d for d in slot.definition.depends_on if not self._slots[d].enabled]
            if off:
                slot.enabled = False
                slot.state = FeatureState.DISABLED
                slot.reason = f"dependency {', '.join(repr(d) for d in off)} is disabled"
                logger.info("Feature '%s' disabled: %s", name, slot.reason)

    @property
    def order(self) -> list[str]:
        """Feature names in start order."""
        return list(self._order)

    def is_enabled(self, name: str) -> bool:
        """True when the feature is enabled (after overrides and dependencies)."""
        slot = self._slots.get(name)
        return bool(slot and slot.enabled)

    def get_feature(self, name: str) -> Feature:
        """Return the running feature ``name``.

        Raises:
            FeatureNotAvailableError: when it is unknown or not running.
        """
        slot = self._slots.get(name)
        if slot is None:
            raise FeatureNotAvailableError(name, "unknown")
        if slot.state is not FeatureState.RUNNING or slot.instance is None:
            raise FeatureNotAvailableError(name, slot.state.value, slot.reason)
        return slot.instance

    def state(self, name: str) -> FeatureState:
        """Current state of a feature."""
        return self._slots[name].state

    async def start_all(self) -> None:
        """Start enabled features in dependency order; a failure only stops its dependents."""
        for name in self._order:
            slot = self._slots[name]
            if not slot.enabled:
                continue
            blocked = [
                d
                for d in slot.definition.depends_on
                if self._slots[d].state is not FeatureState.RUNNING
            ]
            if blocked:
                slot.state = FeatureState.STOPPED
                slot.reason = f"not started: dependency {', '.join(map(repr, blocked))} not running"
                logger.warning("Feature '%s' %s", name, slot.reason)
                continue
            await self._start_one(slot)

    async def _start_one(self, slot: _Slot) -> None:
        definition = slot.definition
        slot.state = FeatureState.STARTING
        slot.reason = ""
        try:
            factory = definition.factory
            if factory is None:
                raise FeatureConfigError(f"feature '{definition.name}' has no factory")
            if isinstance(factory, str):
                factory = _import_factory(factory)
            slot.instance = factory(definition.name, self._context)
            await slot.instance.start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            slot.state = FeatureState.FAILED
            slot.reason = f"{type(exc).__name__}: {exc}"
            logger.error("Feature '%s' failed to start: %s", definition.name, slot.reason)
            if slot.instance is not None:
                await self._safe_stop(slot)
            slot.instance = None
            return
        slot.state = FeatureState.RUNNING
        logger.info("Feature '%s' running", definition.name)

    async def _safe_stop(self, slot: _Slot) -> None:
        if slot.instance is None:
            return
        try:
            await slot.instance.stop()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Feature '%s' failed to stop cleanly", slot.definition.name)

    async def stop_all(self) -> None:
        """Stop running features in reverse start order."""
        for name in reversed(self._order):
            slot = self._slots[name]
            if slot.state in (FeatureState.RUNNING, FeatureState.STARTING):
                await self._safe_stop(slot)
                slot.state = FeatureState.STOPPED
                slot.reason = "stopped"
                slot.instance = None

    def health(self, name: str) -> FeatureHealth:
        """Health of one feature, with the reason."""
        slot = self._slots[name]
        if slot.state is FeatureState.RUNNING and slot.instance is not None:
            try:
                return slot.instance.check_health()
            except Exception as exc:
                return FeatureHealth(HealthStatus.UNHEALTHY, f"health check raised: {exc}")
        if slot.state is FeatureState.FAILED:
            return FeatureHealth(HealthStatus.UNHEALTHY, slot.reason)
        return FeatureHealth(HealthStatus.UNKNOWN, slot.reason or slot.state.value)

    def status(self) -> list[dict[str, Any]]:
        """One entry per feature for /api/features."""
        result = []
        for name in self._order:
            slot = self._slots[name]
            health = self.health(name)
            result.append(
                {
                    "name": name,
                    "description": slot.definition.description,
                    "enabled": slot.enabled,
                    "required": slot.definition.required,
                    "state": slot.state.value,
                    "depends_on": list(slot.definition.depends_on),
                    "health": {
                        "status": health.status.value,
                        "reason": health.reason,
                        "details": health.details,
                    },
                    "reason": slot.reason,
                }
            )
        return result

    def not_ready(self) -> list[dict[str, str]]:
        """Enabled, required features that are not running, unhealthy or not yet ready."""
        problems = []
        for name in self._order:
            slot = self._slots[name]
            if not (slot.enabled and slot.definition.required):
                continue
            if slot.state is not FeatureState.RUNNING:
                problems.append({"feature": name, "state": slot.state.value, "reason": slot.reason})
                continue
            health = self.health(name)
            if health.status is HealthStatus.UNHEALTHY:
                problems.append({"feature": name, "state": "unhealthy", "reason": health.reason})
                continue
            waiting = slot.instance.not_ready() if slot.instance is not None else []
            problems.extend({"feature": name, "state": "not_ready", "reason": r} for r in waiting)
        return problems
