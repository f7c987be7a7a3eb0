"""Accounts, roles, tokens, sessions and the rules that guard every route (docs/security.md).

For other parts of the server (the MQTT bridge, for one):

    from backend.security import Principal, Role, authorize_command, CommandNotAllowedError

    mqtt = Principal(name="mqtt", role=Role.OPERATOR, motion=False, kind="service")
    authorize_command(mqtt, entity, "extend", {})   # raises CommandNotAllowedError (403)

The route table is ``backend/security/policy.py`` (``ROUTE_ROLES``).
"""

from backend.security.principal import (
    ANONYMOUS,
    CommandNotAllowedError,
    NotAllowedError,
    Principal,
    Role,
    authorize_command,
)

__all__ = [
    "ANONYMOUS",
    "CommandNotAllowedError",
    "NotAllowedError",
    "Principal",
    "Role",
    "authorize_command",
]
