"""API models of the security routes: login, setup, accounts, tokens, audit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from backend.security.accounts import NAME_PATTERN, NAME_RULE

RoleName = Literal["viewer", "operator", "admin"]
_NAME = Field(
    ...,
    min_length=1,
    max_length=64,
    description=f"Account or token name: {NAME_RULE}.",
    json_schema_extra={"pattern": NAME_PATTERN.pattern},
)
_PASSWORD = Field(..., min_length=1, max_length=1024, description="The password.")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginRequest(_Strict):
    """Name and password."""

    name: str = _NAME
    password: str = _PASSWORD


class SetupRequest(_Strict):
    """First run: the setup code from the server's log, and the owner's account."""

    code: str = Field(..., min_length=1, max_length=128, description="The one-time setup code.")
    name: str = _NAME
    password: str = _PASSWORD


class PrincipalView(BaseModel):
    """Who the caller is."""

    name: str
    role: RoleName
    motion: bool
    kind: str


class AuthStatus(BaseModel):
    """Whether credentials are required, whether setup is pending, and who the caller is."""

    auth: str = Field(..., description="The setting: auto, required or off.")
    active: bool = Field(..., description="Credentials are required.")
    reason: str
    warning: str | None = Field(None, description="Set when auth is off on a non-loopback address.")
    setup_required: bool = Field(..., description="No account exists yet.")
    principal: PrincipalView | None = None


class LogoutResponse(BaseModel):
    """How many sessions were ended."""

    sessions_ended: int


class UserView(BaseModel):
    """An account (never its password)."""

    name: str
    role: RoleName
    motion: bool
    created_at: float | None = None
    updated_at: float | None = None
    sessions: int = 0


class UserCreate(_Strict):
    """A new account."""

    name: str = _NAME
    password: str = _PASSWORD
    role: RoleName
    motion: StrictBool = Field(False, description="May move slides, awnings, leveling, steps.")


class UserChange(_Strict):
    """A change to an account: role, motion grant and/or password (ends its sessions)."""

    role: RoleName | None = None
    motion: StrictBool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)


class UserList(BaseModel):
    """Every account."""

    users: list[UserView]


class TokenCreate(_Strict):
    """A new API token."""

    name: str = _NAME
    role: RoleName
    motion: StrictBool = Field(False, description="May move slides, awnings, leveling, steps.")


class TokenView(BaseModel):
    """An API token (never its secret)."""

    id: str
    name: str
    role: RoleName
    motion: bool
    created_at: float
    created_by: str | None = None
    last_used_at: float | None = None
    last_used_from: str | None = None


class TokenCreated(TokenView):
    """A token just created: ``token`` is shown this once."""

    token: str = Field(..., description="Send as Authorization: Bearer <token>. Shown once.")


class TokenList(BaseModel):
    """Every API token, newest first."""

    tokens: list[TokenView]


class AuditEntryView(BaseModel):
    """One audited event."""

    id: int
    time: float
    event: str = Field(..., examples=["login", "login_failed", "command", "token_created"])
    principal: str | None = Field(None, examples=["user:anna", "token:t1"])
    client: str | None = None
    result: str
    target: str | None = None
    detail: str | None = None


class AuditList(BaseModel):
    """Audit entries, newest first."""

    entries: list[AuditEntryView]
    dropped: int = Field(..., description="Entries pushed out of the in-memory ring.")


UnitSystem = Literal["metric", "us"]


class Preferences(BaseModel):
    """The calling account's preferences, and the server's default they override."""

    units: UnitSystem | None = Field(
        ..., description="The account's display units; null when it has not chosen."
    )
    default_units: UnitSystem = Field(
        ..., description="COACHIQ_UNITS__SYSTEM: what the dashboard uses when nobody chose."
    )


class PreferencesUpdate(_Strict):
    """A change of the calling account's preferences."""

    units: UnitSystem = Field(
        ...,
        description="metric (°C, L, kPa, km/h) or us (°F, gal, psi, mph). Only the dashboard "
        "converts; the API stays SI.",
    )
