"""Which routers the application serves."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from backend.api.routers import security, system
from backend.core.optional_modules import present_modules

logger = logging.getLogger(__name__)

# Routers of features, as "module:attribute"; each is included when its module exists.
FEATURE_ROUTERS: tuple[str, ...] = (
    "backend.api.routers.can:router",
    "backend.api.routers.entities:router",
    "backend.api.routers.commands:router",
    "backend.api.routers.mapping:router",
    "backend.api.routers.safety:router",
    "backend.api.routers.simulator:router",
    "backend.api.routers.persistence:router",
    "backend.websocket.routes:router",
    "backend.api.routers.dashboard:router",
    "backend.api.routers.diagnostics:router",
    "backend.api.routers.metrics:router",
)


def configure_routers(app: FastAPI) -> None:
    """Include every router in ``app``."""
    app.include_router(system.health_router)
    app.include_router(system.router)
    app.include_router(security.auth_router)
    app.include_router(security.router)
    security.configure_app(app)
    attributes: dict[str, str] = {}
    for spec in FEATURE_ROUTERS:
        module_name, _, attribute = spec.partition(":")
        attributes[module_name] = attribute
    for module in present_modules(tuple(attributes)):
        app.include_router(getattr(module, attributes[module.__name__]))
        configure = getattr(module, "configure_app", None)
        if configure is not None:  # e.g. settings values in the module's OpenAPI text
            configure(app)
