"""SecurityService: the auth mode, credentials -> Principal, first-run setup, Host and Origin rules.

One per application (``app.state.security``), built by ``create_app`` and started by its
lifespan before any feature, so no request is served before the policy is in force. It is not a
feature: a feature can be switched off, the security policy cannot.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backend.core.config import ENV_PREFIX, Settings
from backend.security.accounts import Accounts
from backend.security.audit import AUDIT_FILE, AuditLog
from backend.security.principal import (
    ANONYMOUS,
    CommandNotAllowedError,
    Principal,
    Role,
    authorize_command,
)
from backend.security.ratelimit import LoginLimiter
from backend.security.store import SecurityStore

logger = logging.getLogger(__name__)

SESSION_COOKIE = "coachiq_session"
WS_PROTOCOL = "coachiq"
WS_TOKEN_PREFIX = "coachiq.bearer."
TOKEN_USE_AUDIT_INTERVAL = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Stands in for a caller the middleware did not identify (cannot happen on a non-public route).
_NOBODY = Principal("nobody", Role.VIEWER, False, "anonymous")


def is_loopback(host: str) -> bool:
    """True when binding ``host`` reaches only this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def data_dir_of(settings: Settings) -> Path:
    """The data directory (the configured one, else /var/lib/coachiq in production)."""
    return settings.data_dir()


def _split_host(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (IPv6 in brackets) -> (lowercase host, port)."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = value.partition(":")
    return host.rstrip("."), int(port) if port.isdigit() else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class AuthMode:
    """Whether credentials are required, and why."""

    setting: str
    active: bool
    reason: str
    warning: str | None = None


def resolve_mode(setting: str, host: str) -> AuthMode:
    """Decide whether authentication is active for ``setting`` on bind address ``host``."""
    loopback = is_loopback(host)
    if setting == "required":
        return AuthMode(setting, True, f"{ENV_PREFIX}SECURITY__AUTH=required")
    if setting == "off":
        warning = None
        if not loopback:
            warning = (
                f"authentication is OFF ({ENV_PREFIX}SECURITY__AUTH=off) while listening on "
                f"{host}: anyone on the network can move slides and awnings"
            )
        return AuthMode(setting, False, f"{ENV_PREFIX}SECURITY__AUTH=off", warning)
    if loopback:
        return AuthMode(setting, False, f"auto: listening on loopback ({host}) only")
    return AuthMode(setting, True, f"auto: listening on {host}, not loopback")


class SecurityService:
    """Authentication state and rules of one application."""

    def __init__(self, settings: Settings, *, host: str | None = None):
        self.settings = settings
        self.config = settings.security
        self.host = host or settings.server.host
        self.mode = resolve_mode(self.config.auth, self.host)
        self.data_dir = data_dir_of(settings)
        self.accounts = Accounts(
            SecurityStore(self.data_dir),
            min_password_length=self.config.min_password_length,
            session_idle=self.config.session_idle_timeout,
            session_max_age=self.config.session_max_age,
        )
        self.limiter = LoginLimiter()
        audit_path = self.data_dir / AUDIT_FILE if self.mode.active else None
        self.audit = AuditLog(self.config.audit_size, audit_path)
        self.setup_code: str | None = None
        self._token_audited: dict[str, float] = {}
        self._hosts = self._allowed_hosts()
        self.stats = dict.fromkeys(
            ("unauthenticated", "forbidden", "bad_host", "bad_origin", "too_large"), 0
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Log the mode; print the one-time setup code when auth is on and no account exists."""
        if self.mode.warning:
            logger.warning("SECURITY WARNING: %s", self.mode.warning)
        logger.info(
            "Authentication %s (%s)", "required" if self.mode.active else "off", self.mode.reason
        )
        if self.mode.active:
            self.accounts.store.data()  # a store that cannot be read stops start-up here
            if self.accounts.store.path.exists():
                self.accounts.expire_sessions()
            if not self.accounts.has_users():
                self.setup_code = secrets.token_urlsafe(9)
                logger.warning(
                    "No account yet. Open the dashboard and enter the setup code %s "
                    "(or run: coachiq users add NAME --role admin --password-stdin)",
                    self.setup_code,
                )

    @property
    def setup_required(self) -> bool:
        """True while authentication is active and no account exists."""
        return self.mode.active and not self.accounts.has_users()

    # --- credentials ----------------------------------------------------------------------------

    def authenticate(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], client: str | None
    ) -> tuple[Principal | None, str | None]:
        """The principal the request's credentials name, or None and why not.

        With authentication off every request acts as the anonymous admin. Credentials are, in
        order: ``Authorization: Bearer``, a ``coachiq.bearer.<token>`` WebSocket subprotocol, the
        session cookie.
        """
        if not self.mode.active:
            return ANONYMOUS, None
        token = _bearer(headers.get("authorization"))
        if token is None:
            for protocol in _protocols(headers):
                if protocol.startswith(WS_TOKEN_PREFIX):
                    token = protocol[len(WS_TOKEN_PREFIX) :]
        if token is not None:
            principal = self.accounts.token_principal(token, client)
            if principal is None:
                return None, "the API token is not valid (revoked or mistyped)"
            self._audit_token_use(principal, client)
            return principal, None
        session = cookies.get(SESSION_COOKIE)
        if session:
            principal = self.accounts.session_principal(session)
            if principal is None:
                return None, "the session has expired or was logged out; log in again"
            return principal, None
        if self.setup_required:
            return None, (
                "no account exists yet: open the dashboard and enter the setup code from the "
                "server's log, or run `coachiq users add NAME --role admin --password-stdin`"
            )
        return None, "log in, or send an API token as Authorization: Bearer <token>"

    def _audit_token_use(self, principal: Principal, client: str | None) -> None:
        key = f"{principal.name}|{client}"
        now = time.monotonic()
        if now - self._token_audited.get(key, -1e9) < TOKEN_USE_AUDIT_INTERVAL:
            return
        if len(self._token_audited) > 1024:
            self._token_audited.clear()
        self._token_audited[key] = now
        self.audit.record("token_use", principal=principal.label, client=client, result="ok")

    # --- Host and Origin ------------------------------------------------------------------------

    def _allowed_hosts(self) -> frozenset[str] | None:
        extra = [h.lower() for h in self.config.allowed_hosts]
        if "*" in extra:
            return None
        names = {"localhost", *extra}
        machine = socket.gethostname().lower()
        if machine:
            names.update({machine, f"{machine}.local"})
        bind = self.host.strip("[]").lower()
        if bind not in ("0.0.0.0", "::", ""):
            names.add(bind)
        return frozenset(names)

    def host_problem(self, host_header: str | None, server: Any) -> str | None:
        """Why the Host header is not a name this server answers to (DNS rebinding), or None.

        IP literals pass (a rebinding page's Host is the attacker's name, never an address), and
        so does the name the connection arrived on (``scope["server"]``).
        """
        if self._hosts is None or not host_header:
            return None
        host, _ = _split_host(host_header)
        if host in self._hosts or _is_ip(host) or host.endswith(".localhost"):
            return None
        if server and str(server[0]).lower() == host:
            return None
        return (
            f"Host {host!r} is not a name this server answers to; add it to "
            f"{ENV_PREFIX}SECURITY__ALLOWED_HOSTS"
        )

    def origin_problem(
        self, origin: str | None, host_header: str | None, fetch_site: str | None, scheme: str
    ) -> str | None:
        """Why a browser request from ``origin`` may not change state or open a stream, or None."""
        if origin is None:
            if fetch_site == "cross-site":
                return "cross-site request refused (Sec-Fetch-Site: cross-site)"
            return None
        origin = origin.strip().lower()
        if origin in self.config.allowed_origins:
            return None
        if host_header and origin != "null":
            parts = urlsplit(origin)
            own_scheme = "https" if scheme in ("https", "wss") else "http"
            o_host, o_port = _split_host(parts.netloc)
            h_host, h_port = _split_host(host_header)
            o_port = o_port or _DEFAULT_PORTS.get(parts.scheme)
            h_port = h_port or _DEFAULT_PORTS.get(own_scheme)
            if (o_host, o_port) == (h_host, h_port):
                return None
        return (
            f"Origin {origin} is not this server's own; add it to "
            f"{ENV_PREFIX}SECURITY__ALLOWED_ORIGINS to allow it"
        )

    # --- commands -------------------------------------------------------------------------------

    def command_client(self, principal: Principal | None, client: str | None) -> str | None:
        """The command audit's ``client``: the address, plus ``as kind:name`` when auth is on."""
        if principal is None or principal.kind == "anonymous":
            return client
        return f"{client or 'unknown'} as {principal.label}"

    def authorize(
        self,
        principal: Principal | None,
        entity: Any,
        command: Mapping[str, Any],
        client: str | None,
    ) -> None:
        """:func:`authorize_command` for an edge (REST, WebSocket), auditing a refusal.

        Raises:
            CommandNotAllowedError: 403 naming the role (and grant) needed.
        """
        name = str(command.get("command", ""))
        args = {k: v for k, v in command.items() if k != "command"}
        try:
            authorize_command(principal or _NOBODY, entity, name, args)
        except CommandNotAllowedError as exc:
            self.audit.record(
                "command", principal=(principal or _NOBODY).label, client=client, result="403",
                target=entity.entity_id, detail=exc.message,
            )  # fmt: skip
            raise

    def record_command(
        self,
        principal: Principal | None,
        client: str | None,
        entity_id: str,
        command: Mapping[str, Any],
        result: str,
    ) -> None:
        """Audit a command that reached the entity service (accepted with its id, or refused)."""
        self.audit.record(
            "command", principal=(principal or _NOBODY).label, client=client, result=result,
            target=entity_id, detail=json.dumps(dict(command), default=str)[:300],
        )  # fmt: skip

    def status(self, principal: Principal | None) -> dict[str, Any]:
        """What the dashboard needs to know before it shows anything."""
        return {
            "auth": self.mode.setting,
            "active": self.mode.active,
            "reason": self.mode.reason,
            "warning": self.mode.warning,
            "setup_required": self.setup_required,
            "principal": None
            if principal is None
            else {
                "name": principal.name,
                "role": principal.role.value,
                "motion": principal.motion,
                "kind": principal.kind,
            },
        }


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _protocols(headers: Mapping[str, str]) -> list[str]:
    raw = headers.get("sec-websocket-protocol") or ""
    return [p.strip() for p in raw.split(",") if p.strip()]
