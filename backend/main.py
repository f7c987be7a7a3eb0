"""Application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from backend import __version__
from backend.api.errors import install_error_handlers
from backend.api.router_config import configure_routers
from backend.core.config import Settings, load_settings
from backend.core.state import AppState
from backend.security.guard import SecurityMiddleware
from backend.security.openapi import declare_roles
from backend.security.service import SecurityService
from backend.services.config_service import ConfigService
from backend.services.feature_manager import FeatureDefinition, FeatureManager
from backend.web import mount_web

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "CoachIQ turns an RV's RV-C CAN bus into a live, controllable model of the coach. "
    "Entities, CAN statistics and the sniffer are under `/api`; live streams under `/ws`."
)


def create_app(
    settings: Settings | None = None,
    feature_definitions: list[FeatureDefinition] | None = None,
) -> FastAPI:
    """Build an independent application (nothing is shared between apps).

    Args:
        settings: the settings; loaded from ``.env`` and the environment when omitted.
        feature_definitions: features to run instead of those in feature_flags.yaml (tests).
    """
    settings = settings or load_settings()
    app_state = AppState(settings=settings)
    if feature_definitions is None:
        feature_manager = FeatureManager.from_yaml(settings, app_state)
    else:
        feature_manager = FeatureManager(feature_definitions, settings, app_state)

    security = SecurityService(settings)
    app_state.security = security

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        security.start()
        await feature_manager.start_all()
        try:
            yield
        finally:
            await feature_manager.stop_all()

    app = FastAPIOffline(
        title=settings.app_name,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.app_state = app_state
    app.state.feature_manager = feature_manager
    app.state.config_service = ConfigService(settings)
    app.state.security = security
    app.add_middleware(SecurityMiddleware, security=security)

    install_error_handlers(app)
    configure_routers(app)
    mount_web(app)
    declare_roles(app)
    return app
