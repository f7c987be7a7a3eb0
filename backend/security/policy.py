"""The one table of route -> role, and how a request finds its entry.

Every route the application serves has exactly one line in :data:`ROUTE_ROLES`, keyed
``"METHOD /path/template"`` (``WS`` for WebSocket routes, ``GET /static/{path:path}`` for a mount).
The value is the least role that may call it, or :data:`PUBLIC` for the few routes that answer
without credentials (health probes, login and setup, the static dashboard). A route that is not
in the table is refused to everyone but admins (and the route-walk test in
``tests/security/test_route_walk.py`` names it). Per-entity rules (Stop for viewers, the motion
grant) are in :func:`backend.security.principal.authorize_command`.

Adding a route: add its line here with the role it needs, and a line in docs/security.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from starlette.routing import compile_path

from backend.security.principal import Role

PUBLIC: Final = "public"

# fmt: off
ROUTE_ROLES: Final[dict[str, str]] = {
    # health probes, the dashboard's files and the API documentation pages (their data is not)
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /": PUBLIC,
    "GET /favicon.ico": PUBLIC,
    "GET /static/{path:path}": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /static-offline-docs/{path:path}": PUBLIC,
    "GET /openapi.json": Role.VIEWER,
    # login, first-run setup, the caller's own session
    "GET /api/auth/status": PUBLIC,
    "POST /api/auth/login": PUBLIC,
    "POST /api/auth/setup": PUBLIC,
    "POST /api/auth/logout": PUBLIC,
    "POST /api/auth/logout-all": Role.VIEWER,
    "GET /api/security/me/preferences": Role.VIEWER,
    "PUT /api/security/me/preferences": Role.VIEWER,
    # accounts, tokens and the audit (admin)
    "GET /api/security/users": Role.ADMIN,
    "POST /api/security/users": Role.ADMIN,
    "PATCH /api/security/users/{name}": Role.ADMIN,
    "DELETE /api/security/users/{name}": Role.ADMIN,
    "GET /api/security/tokens": Role.ADMIN,
    "POST /api/security/tokens": Role.ADMIN,
    "DELETE /api/security/tokens/{token}": Role.ADMIN,
    "GET /api/security/audit": Role.ADMIN,
    # the server
    "GET /api/features": Role.VIEWER,
    "GET /api/config": Role.VIEWER,
    "GET /metrics": Role.VIEWER,
    # entities: commands are checked per entity and command (Stop: viewer; motion: the grant)
    "GET /api/entities": Role.VIEWER,
    "GET /api/entities/metadata": Role.VIEWER,
    "GET /api/entities/unmapped": Role.VIEWER,
    "GET /api/entities/unknown-dgns": Role.VIEWER,
    "GET /api/entities/{entity_id}": Role.VIEWER,
    "GET /api/entities/{entity_id}/history": Role.VIEWER,
    "POST /api/entities/{entity_id}/command": Role.VIEWER,
    "PATCH /api/entities/{entity_id}": Role.ADMIN,
    "GET /api/commands/{command_id}": Role.VIEWER,
    # the coach mapping and its discovery wizard (admin: they change what the coach is)
    "GET /api/mapping": Role.ADMIN,
    "GET /api/mapping/devices": Role.ADMIN,
    "POST /api/mapping/reload": Role.ADMIN,
    "POST /api/mapping/entities": Role.ADMIN,
    "DELETE /api/mapping/entities/{entity_id}": Role.ADMIN,
    "POST /api/mapping/undo": Role.ADMIN,
    "POST /api/mapping/identify": Role.ADMIN,
    "GET /api/mapping/export": Role.ADMIN,
    "POST /api/mapping/preview": Role.ADMIN,
    "POST /api/mapping/import": Role.ADMIN,
    # motion safety: the state for everyone who sees the coach; Stop all is never above viewer
    "GET /api/safety": Role.VIEWER,
    "POST /api/safety/stop-all": Role.VIEWER,
    # the simulated coach (only while the simulator runs)
    "GET /api/simulator/chassis": Role.VIEWER,
    "POST /api/simulator/chassis": Role.OPERATOR,
    "POST /api/simulator/devices/{entity_id}/override": Role.OPERATOR,
    # CAN
    "GET /api/can/status": Role.VIEWER,
    "GET /api/can/interfaces": Role.VIEWER,
    "GET /api/can/statistics": Role.VIEWER,
    "GET /api/can/sniffer": Role.VIEWER,
    "GET /api/can/sniffer/groups": Role.VIEWER,
    "POST /api/can/send": Role.ADMIN,
    # dashboard
    "GET /api/dashboard/summary": Role.VIEWER,
    "GET /api/dashboard/activity": Role.VIEWER,
    "GET /api/diagnostics": Role.VIEWER,
    "GET /api/diagnostics/history": Role.VIEWER,
    "POST /api/dashboard/bulk": Role.OPERATOR,
    # persistence
    "GET /api/persistence/status": Role.VIEWER,
    "GET /api/persistence/backups": Role.ADMIN,
    "POST /api/persistence/backup": Role.ADMIN,
    "GET /api/persistence/audit": Role.ADMIN,
    # live streams (commands on /ws/entities are checked per entity like the REST command)
    "WS /ws/entities": Role.VIEWER,
    "WS /ws/can-sniffer": Role.VIEWER,
}
# fmt: on


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One table entry, compiled."""

    key: str
    method: str
    template: str
    role: str
    regex: re.Pattern[str]
    literal: bool


def required_role(rule_role: str) -> Role | None:
    """The Role of a table value (None for PUBLIC)."""
    return None if rule_role == PUBLIC else Role(rule_role)


@cache
def _compiled(table: tuple[tuple[str, str], ...]) -> tuple[RouteRule, ...]:
    rules = []
    for key, role in table:
        method, _, template = key.partition(" ")
        regex, _, _ = compile_path(template)
        rules.append(RouteRule(key, method, template, str(role), regex, "{" not in template))
    # Literal paths win over templates (/api/entities/metadata before /api/entities/{id}).
    rules.sort(key=lambda r: (not r.literal, r.template.count("{")))
    return tuple(rules)


def rules(table: dict[str, str] | None = None) -> tuple[RouteRule, ...]:
    """The compiled rules of ``table`` (ROUTE_ROLES by default), most specific first."""
    source = ROUTE_ROLES if table is None else table
    return _compiled(tuple((k, str(v)) for k, v in source.items()))


def lookup(method: str, path: str, table: dict[str, str] | None = None) -> RouteRule | None:
    """The rule for a request (HEAD is GET; ``WS`` for WebSockets), or None when unlisted."""
    if method == "HEAD":
        method = "GET"
    for rule in rules(table):
        if rule.method == method and rule.regex.match(path):
            return rule
    return None
