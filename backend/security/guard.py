"""The security middleware: Host, Origin (CSRF), body size, credentials, the route table.

Every HTTP request and WebSocket handshake passes here, in this order:

1. ``Host`` must be a name the server answers to (DNS rebinding), except for the health probes;
2. a WebSocket handshake, and any request that is not GET/HEAD/OPTIONS, must come from the
   server's own origin or one in ``COACHIQ_SECURITY__ALLOWED_ORIGINS`` (whatever auth says);
3. a body larger than ``COACHIQ_SECURITY__MAX_BODY_BYTES`` is answered 413;
4. the credentials give a :class:`Principal` (``scope["coachiq.principal"]``);
5. the route's role in :data:`backend.security.policy.ROUTE_ROLES` is enforced: 401 without
   credentials, 403 naming the role needed. A WebSocket is refused at the handshake (HTTP 401/403
   when the server supports denial responses, else close 1008).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from backend.security.policy import PUBLIC, lookup
from backend.security.principal import Principal, Role
from backend.security.service import WS_PROTOCOL, SecurityService

logger = logging.getLogger(__name__)

PRINCIPAL_KEY = "coachiq.principal"
SUBPROTOCOL_KEY = "coachiq.subprotocol"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOST_EXEMPT = frozenset({"/healthz", "/readyz"})
POLICY_VIOLATION = 1008


def principal_of(scope: Scope) -> Principal | None:
    """The principal the middleware found for this request (None on public routes without one)."""
    return scope.get(PRINCIPAL_KEY)


def client_of(scope: Scope) -> str | None:
    """The client's address."""
    client = scope.get("client")
    return str(client[0]) if client else None


def problem(status: int, message: str, field: str, **extra: Any) -> dict[str, Any]:
    """The error body of every refusal here: ``detail``, ``errors[]`` and extra keys."""
    return {"detail": message, "errors": [{"field": field, "message": message}], **extra}


class SecurityMiddleware:
    """Pure ASGI middleware enforcing the security rules of one application."""

    def __init__(self, app: ASGIApp, security: SecurityService):
        self.app = app
        self.security = security
        self._unlisted_logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        security = self.security
        stats = security.stats
        websocket = scope["type"] == "websocket"
        method = "WS" if websocket else scope["method"]
        path = scope["path"]
        headers = Headers(scope=scope)
        client = client_of(scope)

        if path not in HOST_EXEMPT:
            why = security.host_problem(headers.get("host"), scope.get("server"))
            if why:
                stats["bad_host"] += 1
                await self._refuse(scope, receive, send, 400, why, "host")
                return
        if websocket or method not in SAFE_METHODS:
            why = security.origin_problem(
                headers.get("origin"),
                headers.get("host"),
                headers.get("sec-fetch-site"),
                scope.get("scheme", "http"),
            )
            if why:
                stats["bad_origin"] += 1
                security.audit.record(
                    "refused_origin", principal=None, client=client, result="403",
                    target=f"{method} {path}", detail=headers.get("origin"),
                )  # fmt: skip
                await self._refuse(scope, receive, send, 403, why, "origin")
                return

        cookies = cookie_parser(headers.get("cookie", ""))
        principal, why_not = security.authenticate(headers, cookies, client)
        scope[PRINCIPAL_KEY] = principal
        if websocket and _protocol_offered(headers):
            scope[SUBPROTOCOL_KEY] = WS_PROTOCOL

        rule = lookup(method, path)
        if rule is None:
            needed: Role | None = Role.ADMIN
            key = f"{method} {path}"
            if key not in self._unlisted_logged and len(self._unlisted_logged) < 256:
                self._unlisted_logged.add(key)
                logger.warning("%s is not in the security route table: admins only", key)
        else:
            needed = None if rule.role == PUBLIC else Role(rule.role)
        if needed is not None and principal is None:
            stats["unauthenticated"] += 1
            await self._refuse(
                scope, receive, send, 401, why_not or "credentials required", "authorization",
                role_needed=needed.value, setup_required=security.setup_required,
            )  # fmt: skip
            return
        if needed is not None and principal is not None and not principal.may(needed):
            stats["forbidden"] += 1
            message = (
                f"{principal.label} ({principal.role.value}) may not {method} {path}: "
                f"role {needed.value} needed"
            )
            security.audit.record(
                "forbidden", principal=principal.label, client=client, result="403",
                target=f"{method} {path}", detail=f"role {needed.value} needed",
            )  # fmt: skip
            await self._refuse(
                scope, receive, send, 403, message, "authorization", role_needed=needed.value
            )
            return

        if websocket:
            await self.app(scope, receive, send)
            return
        await self._limited(scope, receive, send, headers)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        limit = self.security.config.max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer 413 now and tell the app the client went away; whatever the app
                    # sends afterwards is dropped.
                    refused = True
                    await self._too_large(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self.security.stats["too_large"] += 1
        message = f"request body larger than {limit} bytes (COACHIQ_SECURITY__MAX_BODY_BYTES)"
        await JSONResponse(problem(413, message, "body", limit=limit), status_code=413)(
            scope, receive, send
        )

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        field: str,
        **extra: Any,
    ) -> None:
        body = problem(status, message, field, **extra)
        headers = {"WWW-Authenticate": 'Bearer realm="coachiq"'} if status == 401 else None
        response = JSONResponse(body, status_code=status, headers=headers)
        if scope["type"] == "http":
            await response(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        if "websocket.http.response" in scope.get("extensions", {}):
            await websocket.send_denial_response(response)
        else:
            await websocket.close(code=POLICY_VIOLATION, reason=message[:120])


def _protocol_offered(headers: Headers) -> bool:
    """True when the client offered the ``coachiq`` subprotocol (to be echoed on accept)."""
    raw = headers.get("sec-websocket-protocol") or ""
    return WS_PROTOCOL in [p.strip() for p in raw.split(",")]
