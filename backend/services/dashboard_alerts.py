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


# Entity types whose state can raise an alert (any entity can be "unavailable").
ALERTING_TYPES: frozenset[str] = frozenset({"tank", "battery", "dc_source", "leveling"})


def entity_alerts(
    entity: dict[str, Any], settings: DashboardSettings, *, include_unavailable: bool = True
) -> list[Alert]:
    """Alerts an entity raises now: unavailable, tank level, battery low, low air pressure."""
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
    if etype not in ALERTING_TYPES:
        return alerts
    if etype == "tank":
        alerts.extend(_tank_alerts(entity, state, settings))
    elif etype in ("battery", "dc_source"):
        alerts.extend(_battery_alerts(entity, state, settings))
    elif etype == "leveling":
        alerts.extend(_air_alerts(entity, state))
    return alerts


def _air_alerts(entity: dict[str, Any], state: dict[str, Any]) -> list[Alert]:
    """Low air pressure that an air leveling system reports (LEVELING_AIR_STATUS): a warning,
    as the spec makes it (no lockout)."""
    low = state.get("low_air_pressure")
    where = [str(bag).replace("_", " ") for bag in low] if isinstance(low, list) else []
    if state.get("system_air_pressure_low") is True:
        where.append("system")
    if not where:
        return []
    entity_id = str(entity.get("entity_id", ""))
    return [
        Alert(
            f"low_air_pressure:{entity_id}",
            "low_air_pressure",
            "warning",
            f"{_label(entity)}: low air pressure ({', '.join(where)})",
            entity_id,
        )
    ]


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


def fault_alert(fault: dict[str, Any]) -> Alert:
    """The alert for one active DM_RV fault (a record of ``DashboardService.diagnostics``)."""
    names = ", ".join(str(e.get("name") or e.get("entity_id")) for e in fault.get("entities", []))
    where = f"Device at address {fault['source']}" + (f" ({names})" if names else "")
    spn = f"SPN {fault['spn']}" + (f" {fault['spn_name']}" if fault.get("spn_name") else "")
    if fault.get("instance") is not None:
        spn += f" (instance {fault['instance']})"
    return Alert(
        f"fault:{fault['fault_id']}",
        "fault",
        fault["severity"],
        f"{where} reports a fault: {spn}, FMI {fault['fmi']} {fault['fmi_meaning']}",
    )


def inactive_interface_alert(interface: str, idle_seconds: float | None) -> Alert:
    """The alert for an interface that has received nothing for a while (or ever)."""
    if idle_seconds is None:
        message = f"No CAN activity on {interface} since start"
    else:
        message = f"No CAN activity on {interface} for {idle_seconds:.0f} s"
    return Alert(f"can_inactive:{interface}", "can_inactive", "warning", message)
