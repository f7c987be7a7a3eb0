"""Who is asking (a :class:`Principal`) and what a role may command (:func:`authorize_command`).

The MQTT bridge, the REST API, the WebSocket and the dashboard's bulk actions all ask
:func:`authorize_command` before a command reaches ``EntityService.execute_command``; the rule is
written once here:

* ``stop`` on a motion entity (and stop-all) needs only ``viewer``: Stop is never gated;
* any other command needs ``operator``;
* a command that moves something (``backend.safety.classify``) also needs the ``motion`` grant,
  whatever the role (an admin grants it explicitly, to an account or a token).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from backend.safety.classify import is_motion_command, is_motion_entity, is_stop_command


class Role(StrEnum):
    """What a principal may do; each role includes the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for operator, 2 for admin."""
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """True when this role may do what ``other`` may."""
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
ROLE_NAMES: tuple[str, ...] = tuple(role.value for role in Role)

PrincipalKind = Literal["user", "token", "service", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``kind`` is ``user`` (a dashboard session), ``token`` (an API token), ``service`` (an internal
    bridge such as MQTT, built by its owner: ``Principal(name="mqtt", role=Role.OPERATOR,
    motion=False, kind="service")``) or ``anonymous`` (authentication is off).
    """

    name: str
    role: Role
    motion: bool = False
    kind: PrincipalKind = "service"

    @property
    def label(self) -> str:
        """``kind:name`` as written in the audit (``user:anna``, ``token:t1``)."""
        return f"{self.kind}:{self.name}"

    def may(self, role: Role) -> bool:
        """True when the principal's role includes ``role``."""
        return self.role.includes(role)


ANONYMOUS = Principal(name="anonymous", role=Role.ADMIN, motion=True, kind="anonymous")


class NotAllowedError(Exception):
    """The principal's role or grants do not allow this (HTTP 403, names what is needed)."""

    status_code = 403

    def __init__(self, message: str, *, role_needed: Role, motion_needed: bool = False):
        super().__init__(message)
        self.message = message
        self.role_needed = role_needed
        self.motion_needed = motion_needed
        self.details: dict[str, Any] = {"role_needed": role_needed.value}
        if motion_needed:
            self.details["motion_needed"] = True

    def to_dict(self) -> dict[str, Any]:
        """The 403 body: ``detail``, ``errors`` and what is needed."""
        body: dict[str, Any] = {
            "detail": self.message,
            "errors": [{"field": "authorization", "message": self.message}],
            "role_needed": self.role_needed.value,
        }
        if self.motion_needed:
            body["motion_needed"] = True
        return body


class CommandNotAllowedError(NotAllowedError):
    """A command the principal may not send."""


def command_role(entity: Any, command: str, args: Mapping[str, Any] | None = None) -> Role:
    """The least role that may send ``command`` to ``entity`` (motion grant aside)."""
    if is_stop_command(entity, command):
        return Role.VIEWER
    return Role.OPERATOR


def needs_motion(entity: Any, command: str, args: Mapping[str, Any] | None = None) -> bool:
    """True when ``command`` moves something and so needs the ``motion`` grant."""
    return is_motion_command(entity, command, args or {})


def authorize_command(
    principal: Principal, entity: Any, command: str, args: Mapping[str, Any] | None = None
) -> None:
    """Allow ``command`` on ``entity`` for ``principal`` or raise.

    Args:
        principal: who sends it.
        entity: the target (an ``Entity`` of the entity manager).
        command: the command name (``set``, ``extend``, ``stop``...).
        args: the command's arguments (a roof fan's command moves only when it carries ``lid``).

    Raises:
        CommandNotAllowedError: 403; ``role_needed`` and ``motion_needed`` say what is missing.
    """
    needed = command_role(entity, command, args)
    if not principal.may(needed):
        raise CommandNotAllowedError(
            f"{principal.label} ({principal.role.value}) may not send {command!r} to "
            f"{entity.entity_id}: role {needed.value} needed",
            role_needed=needed,
        )
    if needs_motion(entity, command, args) and not principal.motion:
        raise CommandNotAllowedError(
            f"{principal.label} may not move {entity.entity_id} ({command!r}): it is a motion "
            "device and needs the motion grant (given by an admin to the account or token)",
            role_needed=needed,
            motion_needed=True,
        )


def is_motion(entity: Any) -> bool:
    """True when the entity is a motion device (re-exported for callers of this module)."""
    return is_motion_entity(entity)
