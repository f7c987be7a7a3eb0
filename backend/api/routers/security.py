"""Security routes: login, first-run setup, logout (``/api/auth``); accounts, tokens and the
audit for admins (``/api/security``). Roles are in ``backend/security/policy.py``."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from backend.core.dependencies import get_principal, get_security_service
from backend.models.errors import error_responses
from backend.models.security import (
    AuditList,
    AuthStatus,
    LoginRequest,
    LogoutResponse,
    Preferences,
    PreferencesUpdate,
    SetupRequest,
    TokenCreate,
    TokenCreated,
    TokenList,
    UserChange,
    UserCreate,
    UserList,
    UserView,
)
from backend.security.accounts import AccountError
from backend.security.guard import client_of, problem
from backend.security.principal import Principal
from backend.security.service import SESSION_COOKIE, SecurityService

auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
router = APIRouter(prefix="/api/security", tags=["security"])

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong name or password, or a wrong setup code."},
    429: {"description": "Too many failed tries from this address; `Retry-After` says when."},
}


def _account_error(exc: AccountError) -> JSONResponse:
    return JSONResponse(
        problem(exc.status_code, exc.message, exc.field), status_code=exc.status_code
    )


def _throttled(security: SecurityService, client: str) -> JSONResponse | None:
    wait = security.limiter.throttled(client)
    if wait <= 0:
        return None
    message = f"too many failed tries from {client}; try again in {wait:.0f} s"
    return JSONResponse(
        problem(429, message, "password", retry_after=round(wait, 1)),
        status_code=429,
        headers={"Retry-After": str(max(1, round(wait)))},
    )


def _set_cookie(response: Response, request: Request, session_id: str, max_age: float) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(max_age),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@auth_router.get("/status", response_model=AuthStatus, summary="Authentication status")
async def auth_status(
    principal: Principal | None = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> dict[str, Any]:
    """Whether credentials are required, whether first-run setup is pending, who the caller is."""
    return security.status(principal)


@auth_router.post(
    "/login", response_model=AuthStatus, responses=_AUTH_ERRORS, summary="Log in (session cookie)"
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """Check name and password; sets an HttpOnly, SameSite=Strict session cookie."""
    client = client_of(request.scope) or "unknown"
    refused = _throttled(security, client)
    if refused is not None:
        security.audit.record(
            "login_failed", principal=f"user:{body.name}", client=client, result="429"
        )
        return refused
    principal = await asyncio.to_thread(security.accounts.verify, body.name, body.password)
    if principal is None:
        security.limiter.failed(client)
        security.audit.record(
            "login_failed", principal=f"user:{body.name}", client=client, result="401"
        )
        message = "wrong name or password"
        return JSONResponse(problem(401, message, "password"), status_code=401)
    security.limiter.succeeded(client)
    session = security.accounts.open_session(principal.name, client)
    _set_cookie(response, request, session.session_id, security.accounts.session_max_age)
    security.audit.record("login", principal=principal.label, client=client, result="ok")
    return security.status(principal)


@auth_router.post(
    "/setup",
    response_model=AuthStatus,
    responses={**_AUTH_ERRORS, 409: {"description": "An account exists already."}},
    summary="First run: create the owner's account",
)
async def setup(
    body: SetupRequest,
    request: Request,
    response: Response,
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """With the setup code printed in the server's log, create the first admin (with the motion
    grant) and log in."""
    client = client_of(request.scope) or "unknown"
    if not security.setup_required or security.setup_code is None:
        message = "setup is done (an account exists) or authentication is off"
        return JSONResponse(problem(409, message, "code"), status_code=409)
    refused = _throttled(security, client)
    if refused is not None:
        return refused
    if not hmac.compare_digest(body.code.strip(), security.setup_code):
        security.limiter.failed(client)
        security.audit.record("setup_failed", principal=None, client=client, result="401")
        message = "wrong setup code; it is in the server's log (one line at start)"
        return JSONResponse(problem(401, message, "code"), status_code=401)
    code, security.setup_code = security.setup_code, None  # one setup at a time
    try:
        await asyncio.to_thread(
            security.accounts.add_user, body.name, body.password, "admin", motion=True
        )
    except AccountError as exc:
        security.setup_code = code
        return _account_error(exc)
    security.limiter.succeeded(client)
    principal = security.accounts.user_principal(body.name)
    assert principal is not None
    session = security.accounts.open_session(body.name, client)
    _set_cookie(response, request, session.session_id, security.accounts.session_max_age)
    security.audit.record(
        "user_added", principal=principal.label, client=client, result="ok",
        target=f"user:{body.name}", detail="first-run setup: admin with motion",
    )  # fmt: skip
    return security.status(principal)


@auth_router.post("/logout", response_model=LogoutResponse, summary="Log out")
async def logout(
    request: Request,
    response: Response,
    security: SecurityService = Depends(get_security_service),
) -> dict[str, Any]:
    """End this browser session and clear its cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    user = security.accounts.close_session(session_id) if session_id else None
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    if user is not None:
        security.audit.record(
            "logout", principal=f"user:{user}", client=client_of(request.scope), result="ok"
        )
    return {"sessions_ended": 1 if user else 0}


@auth_router.post(
    "/logout-all",
    response_model=LogoutResponse,
    summary="Log out everywhere",
    responses=error_responses(s409="The caller is a token (or auth is off), not an account."),
)
async def logout_all(
    request: Request,
    response: Response,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """End every session of the calling account (all browsers and phones)."""
    if principal.kind != "user":
        message = "log out everywhere is for accounts (this is a token or auth is off)"
        return JSONResponse(problem(409, message, "authorization"), status_code=409)
    ended = security.accounts.close_all_sessions(principal.name)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    security.audit.record(
        "logout_all", principal=principal.label, client=client_of(request.scope), result="ok",
        detail=f"{ended} sessions",
    )  # fmt: skip
    return {"sessions_ended": ended}


# --- the caller's own account ----------------------------------------------------------------

_NOT_AN_ACCOUNT = error_responses(
    s409="The caller is an API token, or authentication is off: preferences are per account "
    "(the dashboard then keeps its choice in the browser)."
)


def _account_of(principal: Principal) -> JSONResponse | None:
    if principal.kind == "user":
        return None
    message = (
        f"preferences are kept per account; the caller is {principal.label} "
        "(an API token, or authentication is off)"
    )
    return JSONResponse(problem(409, message, "authorization"), status_code=409)


def _preferences(security: SecurityService, request: Request, name: str) -> dict[str, Any]:
    default = request.app.state.settings.units.system
    return {**security.accounts.preferences(name), "default_units": default}


@router.get(
    "/me/preferences",
    response_model=Preferences,
    responses=_NOT_AN_ACCOUNT,
    summary="My preferences",
)
async def my_preferences(
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """The logged-in account's display units (null when it has not chosen) and the default."""
    refused = _account_of(principal)
    if refused is not None:
        return refused
    try:
        return _preferences(security, request, principal.name)
    except AccountError as exc:
        return _account_error(exc)


@router.put(
    "/me/preferences",
    response_model=Preferences,
    responses=_NOT_AN_ACCOUNT,
    summary="Change my preferences",
)
async def change_my_preferences(
    body: PreferencesUpdate,
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """Store the logged-in account's display units; the dashboard applies them after login."""
    refused = _account_of(principal)
    if refused is not None:
        return refused
    try:
        await asyncio.to_thread(security.accounts.set_preferences, principal.name, units=body.units)
        return _preferences(security, request, principal.name)
    except AccountError as exc:
        return _account_error(exc)


# --- accounts (admin) -----------------------------------------------------------------------


def _changed(
    security: SecurityService, request: Request, principal: Principal, event: str, target: str,
    detail: str | None = None,
) -> None:  # fmt: skip
    security.audit.record(
        event, principal=principal.label, client=client_of(request.scope), result="ok",
        target=target, detail=detail,
    )  # fmt: skip


@router.get("/users", response_model=UserList, summary="Accounts")
async def list_users(security: SecurityService = Depends(get_security_service)) -> dict[str, Any]:
    """Every account with its role, motion grant and open sessions."""
    return {"users": security.accounts.users()}


@router.post(
    "/users",
    response_model=UserView,
    status_code=201,
    summary="Add an account",
    responses=error_responses(s409="An account of that name exists."),
)
async def add_user(
    body: UserCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """Create an account (422 for a bad name, a short password or an unknown role)."""
    try:
        await asyncio.to_thread(
            security.accounts.add_user, body.name, body.password, body.role, motion=body.motion
        )
    except AccountError as exc:
        return _account_error(exc)
    _changed(security, request, principal, "user_added", f"user:{body.name}",
             f"role {body.role}, motion {body.motion}")  # fmt: skip
    return next(u for u in security.accounts.users() if u["name"] == body.name)


@router.patch(
    "/users/{name}",
    response_model=UserView,
    summary="Change an account",
    responses=error_responses(s404="No such account.", s409="The last admin must stay admin."),
)
async def change_user(
    name: str,
    body: UserChange,
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """Change the role, the motion grant or the password (a new password ends its sessions)."""
    accounts = security.accounts
    try:
        if body.password is not None:
            await asyncio.to_thread(accounts.set_password, name, body.password)
            _changed(security, request, principal, "password_set", f"user:{name}")
        if body.role is not None or body.motion is not None:
            current = accounts.user_principal(name)
            role = body.role or (current.role.value if current else "viewer")
            accounts.set_role(name, role, motion=body.motion)
            _changed(security, request, principal, "role_set", f"user:{name}",
                     f"role {role}, motion {body.motion}")  # fmt: skip
        view = next((u for u in accounts.users() if u["name"] == name), None)
        if view is None:
            raise AccountError(f"name: no account {name!r}", status_code=404)
    except AccountError as exc:
        return _account_error(exc)
    return view


@router.delete(
    "/users/{name}",
    status_code=204,
    summary="Remove an account",
    responses=error_responses(s404="No such account.", s409="The last admin cannot go."),
)
async def remove_user(
    name: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Response:
    """Delete an account and end its sessions (the last admin cannot be removed)."""
    try:
        security.accounts.remove_user(name)
    except AccountError as exc:
        return _account_error(exc)
    _changed(security, request, principal, "user_removed", f"user:{name}")
    return Response(status_code=204)


# --- tokens (admin) -------------------------------------------------------------------------


@router.get("/tokens", response_model=TokenList, summary="API tokens")
async def list_tokens(security: SecurityService = Depends(get_security_service)) -> dict[str, Any]:
    """Every API token with its role, motion grant and last use (never the secret)."""
    return {"tokens": security.accounts.tokens()}


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    summary="Create a token",
    responses=error_responses(s409="A token of that name exists, or there are 200 already."),
)
async def create_token(
    body: TokenCreate,
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Any:
    """Create a token; the secret is in ``token`` this once (only its hash is kept)."""
    try:
        secret, view = security.accounts.create_token(
            body.name, body.role, motion=body.motion, created_by=principal.label
        )
    except AccountError as exc:
        return _account_error(exc)
    _changed(security, request, principal, "token_created", f"token:{body.name}",
             f"role {body.role}, motion {body.motion}")  # fmt: skip
    return {**view, "token": secret}


@router.delete(
    "/tokens/{token}",
    status_code=204,
    summary="Revoke a token",
    responses=error_responses(s404="No token with that id or name."),
)
async def revoke_token(
    token: str,
    request: Request,
    principal: Principal = Depends(get_principal),
    security: SecurityService = Depends(get_security_service),
) -> Response:
    """Revoke a token by id or name; it stops working at once."""
    try:
        view = security.accounts.revoke_token(token)
    except AccountError as exc:
        return _account_error(exc)
    _changed(security, request, principal, "token_revoked", f"token:{view['name']}")
    return Response(status_code=204)


@router.get("/audit", response_model=AuditList, summary="Security audit")
async def audit(
    limit: int = Query(100, ge=1, le=10000, description="Newest N entries."),
    event: str | None = Query(None, max_length=64, description="Only this event kind."),
    principal: str | None = Query(None, max_length=80, description="Only this principal."),
    security: SecurityService = Depends(get_security_service),
) -> dict[str, Any]:
    """Logins (and failures), account and token changes, token use, commands and refusals, with
    the principal, the client address and the result; newest first."""
    entries = security.audit.entries(limit=limit, event=event, principal=principal)
    return {"entries": entries, "dropped": security.audit.dropped}


# Request bodies whose password must meet COACHIQ_SECURITY__MIN_PASSWORD_LENGTH.
_NEW_PASSWORD_MODELS = ("SetupRequest", "UserCreate", "UserChange")


def configure_app(app: FastAPI) -> None:
    """State this app's shortest password in the OpenAPI (the routers are shared by apps)."""
    shortest = app.state.settings.security.min_password_length
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = build().get("components", {}).get("schemas", {})
            for name in _NEW_PASSWORD_MODELS:
                password = schemas.get(name, {}).get("properties", {}).get("password", {})
                for branch in [password, *password.get("anyOf", [])]:
                    if branch.get("type") == "string":
                        branch["minLength"] = shortest
        return app.openapi_schema or build()

    app.openapi = openapi
