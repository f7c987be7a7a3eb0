"""Alert rules of the dashboard: pure functions from an entity (or a fault) to alerts.

An alert has a stable ``alert_id`` so that the same condition is raised once and cleared once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from backend.core.config import DashboardSettings

# Entity types driven by a motor: never part of a bulk action (a lost connection mid-run must
# not leave several motors running at once).
MOTOR_TYPES: frozenset[str] = frozenset(
    {"awning", "slide", "window_shade", "shade", "roof_fan", "vent", "vent_lid", "motor"}
)
TANK_TYPES: tuple[str, ...] = ("black", "gray", "fresh", "lpg")
_TANK_ALIASES: dict[str, str] = {
    "grey": "gray",
    "waste": "gray",
    "galley": "gray",
    "water": "fresh",
    "potable": "fresh",
    "propane": "lpg",
    "lp": "lpg",
    "gas": "lpg",
    "sewage": "black",
}


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition a person cares about."""

    alert_id: str
    kind: str
    severity: str
    message: str
    entity_id: str | None = None
    value: float | None = None
    threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


def entity_dict(entity: Any) -> dict[str, Any]:
    """The JSON form of an entity, whatever the entity layer hands out."""
    if isinstance(entity, dict):
        return entity
    for method in ("to_dict", "as_dict", "model_dump"):
        fn = getattr(entity, method, None)
        if callable(fn):
            result = fn()
            if isinstance(result, dict):
                return result
    if dataclasses.is_dataclass(entity) and not isinstance(entity, type):
        data = {f.name: getattr(entity, f.name) for f in dataclasses.fields(entity)}
    else:
        data = dict(getattr(entity, "__dict__", {}))
    if "type" not in data and "entity_type" in data:
        data["type"] = data["entity_type"]
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):  # {"value": 12.9, "unit": "V"}
        return _number(value.get("value"))
    return None


def first_number(state: dict[str, Any], *keys: str) -> float | None:
    """The first of ``keys`` in ``state`` holding a number."""
    for key in keys:
        number = _number(state.get(key))
        if number is not None:
            return number
    return None


def tank_kind(entity: dict[str, Any]) -> str | None:
    """black, gray, fresh or lpg for a tank entity, from its fields or, failing that, its name."""
    state = entity.get("state") or {}
    capabilities = entity.get("capabilities")
    attributes = entity.get("attributes")
    candidates: list[Any] = [
        attributes.get("kind") if isinstance(attributes, dict) else None,
        state.get("kind") if isinstance(state, dict) else None,
        state.get("tank_type") if isinstance(state, dict) else None,
        entity.get("tank_type"),
        entity.get("subtype"),
        entity.get("device_class"),
        capabilities.get("tank_type") if isinstance(capabilities, dict) else None,
    ]
    for candidate in candidates:
        if isinstance(candidate, str):
            kind = _normalise_tank(candidate)
            if kind:
                return kind
    text = f"{entity.get('entity_id', '')} {entity.get('name', '')}".lower()
    for word in text.replace("_", " ").replace(".", " ").split():
        kind = _normalise_tank(word)
        if kind:
            return kind
    return None


def _normalise_tank(text: str) -> str | None:
    text = text.strip().lower()
    if text in TANK_TYPES:
        return text
    return _TANK_ALIASES.get(text)


def _label(entity: dict[str, Any]) -> str:
    return str(entity.get("name") or entity.get("entity_id") or "entity")


def entity_alerts(
    entity: dict[str, Any], settings: DashboardSettings, *, include_unavailable: bool = True
) -> list[Alert]:
    """Alerts an entity raises now: unavailable, tank level, battery low."""
    entity_id = str(entity.get("entity_id", ""))
    name = _label(entity)
    if entity.get("available") is False:
        if not include_unavailable:
            return []
        return [
            Alert(
                f"unavailable:{entity_id}",
                "unavailable",
                "warning",
                f"{name} is not reporting",
                entity_id,
            )
        ]
    state = entity.get("state") or {}
    if not isinstance(state, dict):
        return []
    etype = str(entity.get("type", ""))
    alerts: list[Alert] = []
    if etype == "tank":
        alerts.extend(_tank_alerts(entity, state, settings))
    elif etype in ("battery", "dc_source"):
        alerts.extend(_battery_alerts(entity, state, settings))
    return alerts


def _tank_alerts(
    entity: dict[str, Any], state: dict[str, Any], settings: DashboardSettings
) -> list[Alert]:
    level = first_number(state, "level", "level_percent", "relative_level", "percent")
    kind = tank_kind(entity)
    if level is None or kind is None:
        return []
    entity_id = str(entity.get("entity_id", ""))
    name = _label(entity)
    if kind in ("black", "gray"):
        limit = settings.black_tank_high if kind == "black" else settings.gray_tank_high
        if level > limit:
            return [
                Alert(
                    f"tank_high:{entity_id}",
                    "tank_high",
                    "warning",
                    f"{name} is {level:.0f} % full (above {limit:.0f} %)",
                    entity_id,
                    level,
                    limit,
                )
            ]
    else:
        limit = settings.fresh_tank_low if kind == "fresh" else settings.lpg_tank_low
        if level < limit:
            return [
                Alert(
                    f"tank_low:{entity_id}",
                    "tank_low",
                    "warning",
                    f"{name} is down to {level:.0f} % (below {limit:.0f} %)",
                    entity_id,
                    level,
                    limit,
                )
            ]
    return []


def _battery_alerts(
    entity: dict[str, Any], state: dict[str, Any], settings: DashboardSettings
) -> list[Alert]:
    entity_id = str(entity.get("entity_id", ""))
    name = _label(entity)
    soc = first_number(state, "state_of_charge", "soc", "charge_percent")
    if soc is not None and soc < settings.battery_low_soc:
        return [
            Alert(
                f"battery_low:{entity_id}",
                "battery_low",
                "critical",
                f"{name} is at {soc:.0f} % (below {settings.battery_low_soc:.0f} %)",
                entity_id,
                soc,
                settings.battery_low_soc,
            )
        ]
    voltage = first_number(state, "voltage", "dc_voltage")
    if voltage is not None and 0 < voltage < settings.battery_low_voltage:
        return [
            Alert(
                f"battery_low:{entity_id}",
                "battery_low",
                "critical",
                f"{name} is at {voltage:.2f} V (below {settings.battery_low_voltage:.1f} V)",
                entity_id,
                voltage,
                settings.battery_low_voltage,
            )
        ]
    return []


def _lamp_on(value: Any) -> bool:
    return value in ("on", 1, True)


def dm_rv_fault(signals: dict[str, Any]) -> bool:
    """True when a DM_RV message reports an active fault (its red or yellow lamp is on)."""
    return _lamp_on(signals.get("red_lamp_status")) or _lamp_on(signals.get("yellow_lamp_status"))


def fault_alert(source: int, signals: dict[str, Any]) -> Alert:
    """The alert for an active DM_RV fault from ``source``."""
    red = _lamp_on(signals.get("red_lamp_status"))
    spn = _spn(signals)
    fmi = signals.get("fmi")
    if spn is None:
        detail = ""
    elif isinstance(fmi, str):  # the decoder names the failure mode (spec table 3.2.5)
        detail = f" (SPN {spn}: {fmi.replace('_', ' ')})"
    else:
        detail = f" (SPN {spn}, FMI {fmi})"
    return Alert(
        f"fault:{source}",
        "fault",
        "critical" if red else "warning",
        f"Device at address {source} reports a fault{detail}",
    )


def _spn(signals: dict[str, Any]) -> int | None:
    parts = [signals.get("spn_msb"), signals.get("spn_isb"), signals.get("spn_lsb")]
    if not all(isinstance(p, int) for p in parts):
        return None
    msb, isb, lsb = (int(p) for p in parts)  # pyright: ignore[reportArgumentType]
    return (msb << 11) | (isb << 3) | lsb


def inactive_interface_alert(interface: str, idle_seconds: float | None) -> Alert:
    """The alert for an interface that has received nothing for a while (or ever)."""
    if idle_seconds is None:
        message = f"No CAN activity on {interface} since start"
    else:
        message = f"No CAN activity on {interface} for {idle_seconds:.0f} s"
    return Alert(f"can_inactive:{interface}", "can_inactive", "warning", message)
