"""WebSocket endpoints: ``/ws/entities`` and ``/ws/can-sniffer``."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from backend.core.dependencies import get_feature_manager
from backend.security.guard import SUBPROTOCOL_KEY
from backend.services.feature_manager import FeatureNotAvailableError
from backend.websocket.manager import WebSocketManager

router = APIRouter(tags=["websocket"])

# 1013: "try again later", the close code for a server that cannot serve the stream now.
_UNAVAILABLE = 1013


async def _manager_or_close(websocket: WebSocket) -> WebSocketManager | None:
    """The running WebSocketManager, or None after closing the socket with the reason."""
    try:
        feature = get_feature_manager(websocket).get_feature("websocket")
    except FeatureNotAvailableError as exc:
        await websocket.close(code=_UNAVAILABLE, reason=str(exc)[:120])
        return None
    manager = getattr(feature, "service", None)
    if not isinstance(manager, WebSocketManager):
        await websocket.close(code=_UNAVAILABLE, reason="websocket feature has no manager")
        return None
    if not manager.admit():
        # Accepted first so that the client sees the close code and the reason, not a bare 403.
        limit = manager.settings.max_clients
        await websocket.accept()
        await websocket.close(
            code=_UNAVAILABLE, reason=f"too many clients (COACHIQ_WEBSOCKET__MAX_CLIENTS={limit})"
        )
        return None
    return manager


@router.websocket("/ws/entities")
async def entities_stream(websocket: WebSocket) -> None:
    """Entity snapshot, then updates and command results; accepts subscribe, command, ping."""
    manager = await _manager_or_close(websocket)
    if manager is None:
        return
    await websocket.accept(subprotocol=websocket.scope.get(SUBPROTOCOL_KEY))
    await manager.serve_entities(websocket)


@router.websocket("/ws/can-sniffer")
async def sniffer_stream(websocket: WebSocket) -> None:
    """Decoded frames (rx and tx) as they pass, filtered and rate-capped; accepts filter, ping."""
    manager = await _manager_or_close(websocket)
    if manager is None:
        return
    await websocket.accept(subprotocol=websocket.scope.get(SUBPROTOCOL_KEY))
    await manager.serve_sniffer(websocket)
