"""Dependency providers: every service is reached through these, read from ``app.state``."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from backend.core.state import AppState
from backend.services.config_service import ConfigService
from backend.services.feature_manager import FeatureManager, FeatureNotAvailableError


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


def get_rvc_service(connection: HTTPConnection) -> Any:
    """The RVCService (feature ``rvc``)."""
    return feature_service(connection, "rvc")


def get_can_service(connection: HTTPConnection) -> Any:
    """The CANService (feature ``can``)."""
    return feature_service(connection, "can")


def get_can_interface_service(connection: HTTPConnection) -> Any:
    """The CANInterfaceService (feature ``can``, attribute ``interface_service``)."""
    return feature_service(connection, "can", "interface_service")


def get_entity_service(connection: HTTPConnection) -> Any:
    """The EntityService (feature ``entities``)."""
    return feature_service(connection, "entities")


def get_entity_manager(connection: HTTPConnection) -> Any:
    """The EntityManager (feature ``entities``, attribute ``entity_manager``)."""
    return feature_service(connection, "entities", "entity_manager")


def get_websocket_manager(connection: HTTPConnection) -> Any:
    """The WebSocketManager (feature ``websocket``)."""
    return feature_service(connection, "websocket")


def get_persistence_service(connection: HTTPConnection) -> Any:
    """The PersistenceService (feature ``persistence``)."""
    return feature_service(connection, "persistence")


def get_database_manager(connection: HTTPConnection) -> Any:
    """The DatabaseManager (feature ``persistence``, attribute ``database_manager``)."""
    return feature_service(connection, "persistence", "database_manager")


def get_dashboard_service(connection: HTTPConnection) -> Any:
    """The DashboardService (feature ``dashboard``)."""
    return feature_service(connection, "dashboard")
