"""``GET /api/commands/{command_id}``: what became of a command accepted with 202."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from backend.api.errors import problem
from backend.core.dependencies import get_entity_service
from backend.models.entities import CommandRecordResponse
from backend.models.errors import error_responses
from backend.services.entity_service import EntityService

router = APIRouter(prefix="/api/commands", tags=["entities"])


@router.get(
    "/{command_id}",
    response_model=CommandRecordResponse,
    responses=error_responses(s404="No such command: unknown, or older than the commands kept."),
    summary="One command",
    description=(
        "The state of a command accepted by `POST /api/entities/{entity_id}/command` (`pending`, "
        "`confirmed`, `timed_out` or `failed`), its detail and timestamps. The newest "
        "`COACHIQ_ENTITIES__COMMAND_LOG_SIZE` commands are kept; older ones answer 404."
    ),
)
async def get_command(command_id: str, service: EntityService = Depends(get_entity_service)) -> Any:
    """One recent command by its id."""
    record = service.commands.get(command_id)
    if record is None:
        log = service.commands
        return problem(
            404,
            f"no command {command_id!r}: unknown, or older than the {log.limit} commands kept "
            f"({log.evicted} evicted so far)",
            field="path.command_id",
        )
    return record
