"""Dependency providers: every service is reached through these, read from ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from backend.core.state import AppState
from backend.services.config_service import ConfigService
from backend.services.feature_manager import FeatureManager, FeatureNotAvailableError

FEATURE_ATTRIBUTE = "__coachiq_feature__"
_F = TypeVar("_F", bound=Callable[..., Any])


def requires_feature(feature: str) -> Callable[[_F], _F]:
    """Mark a provider that answers 503 when ``feature`` is not running (its routes declare it)."""

    def mark(function: _F) -> _F:
        setattr(function, FEATURE_ATTRIBUTE, feature)
        return function

    return mark


def get_feature_manager(connection: HTTPConnection) -> FeatureManager:
    """The application's FeatureManager."""
    return connection.app.state.feature_manager


def get_app_state(connection: HTTPConnection) -> AppState:
    """The application's AppState."""
    return connection.app.state.app_state


def get_config_service(connection: HTTPConnection) -> ConfigService:
    """The application's ConfigService."""
    return connection.app.state.config_service


def feature_service(connection: HTTPConnection, feature: str, attribute: str = "service") -> Any:
    """An attribute of a running feature (its ``service`` by default), else HTTP 503 with why."""
    manager = get_feature_manager(connection)
    try:
        return getattr(manager.get_feature(feature), attribute)
    except FeatureNotAvailableError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None


@requires_feature("rvc")
def get_rvc_service(connection: HTTPConnection) -> Any:
    """The RVCService (feature ``rvc``)."""
    return feature_service(connection, "rvc")


@requires_feature("can")
def get_can_service(connection: HTTPConnection) -> Any:
    """The CANService (feature ``can``)."""
    return feature_service(connection, "can")


@requires_feature("can")
def get_can_interface_service(connection: HTTPConnection) -> Any:
    """The CANInterfaceService (feature ``can``, attribute ``interface_service``)."""
    return feature_service(connection, "can", "interface_service")


@requires_feature("entities")
def get_entity_service(connection: HTTPConnection) -> Any:
    """The EntityService (feature ``entities``)."""
    return feature_service(connection, "entities")


@requires_feature("entities")
def get_entity_manager(connection: HTTPConnection) -> Any:
    """The EntityManager (feature ``entities``, attribute ``entity_manager``)."""
    return feature_service(connection, "entities", "entity_manager")


@requires_feature("websocket")
def get_websocket_manager(connection: HTTPConnection) -> Any:
    """The WebSocketManager (feature ``websocket``)."""
    return feature_service(connection, "websocket")


@requires_feature("persistence")
def get_persistence_service(connection: HTTPConnection) -> Any:
    """The PersistenceService (feature ``persistence``)."""
    return feature_service(connection, "persistence")


@requires_feature("persistence")
def get_database_manager(connection: HTTPConnection) -> Any:
    """The DatabaseManager (feature ``persistence``, attribute ``database_manager``)."""
    return feature_service(connection, "persistence", "database_manager")


@requires_feature("dashboard")
def get_dashboard_service(connection: HTTPConnection) -> Any:
    """The DashboardService (feature ``dashboard``)."""
    return feature_service(connection, "dashboard")


def get_security_service(connection: HTTPConnection) -> Any:
    """The application's SecurityService (accounts, tokens, sessions, audit)."""
    return connection.app.state.security


def get_principal(connection: HTTPConnection) -> Any:
    """Who is calling (a ``backend.security.Principal``; None only on public routes)."""
    return connection.scope.get("coachiq.principal")


@requires_feature("metrics")
def get_metrics_service(connection: HTTPConnection) -> Any:
    """The MetricsService (feature ``metrics``)."""
    return feature_service(connection, "metrics")


@requires_feature("entities")
def get_mapping_service(connection: HTTPConnection) -> Any:
    """The MappingService (feature ``entities``, attribute ``mapping_service``)."""
    return feature_service(connection, "entities", "mapping_service")


@requires_feature("entities")
def get_device_identifier(connection: HTTPConnection) -> Any:
    """The DeviceIdentifier (feature ``entities``, attribute ``identifier``)."""
    return feature_service(connection, "entities", "identifier")
