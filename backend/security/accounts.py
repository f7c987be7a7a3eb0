"""Accounts, API tokens and browser sessions over the :class:`SecurityStore`.

Passwords are hashed with pwdlib's recommended argon2id. API tokens and session ids are random
(256 bits) and stored only as SHA-256 digests: the secret is shown once and cannot be read back.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pwdlib import PasswordHash

from backend.security.principal import ROLE_NAMES, Principal, Role
from backend.security.store import SecurityStore

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
NAME_RULE = "1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit"
TOKEN_PREFIX = "ciq_"
MAX_PASSWORD_LENGTH = 1024
MAX_SESSIONS_PER_USER = 20
MAX_TOKENS = 200
UNIT_SYSTEMS = ("metric", "us")
# Session and token last use are written to the file at most this often (not on every request).
TOUCH_INTERVAL = 60.0


class AccountError(Exception):
    """A request about accounts or tokens that cannot be done; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str = "name", status_code: int = 422):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status_code = status_code


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` when it is a valid account or token name, else raise AccountError."""
    if not NAME_PATTERN.match(name or ""):
        raise AccountError(f"{what}: {name!r} is not allowed; use {NAME_RULE}", field=what)
    return name


def check_role(role: str) -> Role:
    """The Role named ``role``, else AccountError listing the roles."""
    try:
        return Role(role)
    except ValueError:
        raise AccountError(
            f"role: {role!r} is not a role; roles: {', '.join(ROLE_NAMES)}", field="role"
        ) from None


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie value (shown once) and its expiry."""

    session_id: str
    user: str
    expires_at: float


class Accounts:
    """Users, tokens and sessions; every change is written to the store at once."""

    def __init__(
        self,
        store: SecurityStore,
        *,
        min_password_length: int = 8,
        session_idle: float = 7 * 86400,
        session_max_age: float = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.min_password_length = min_password_length
        self.session_idle = session_idle
        self.session_max_age = session_max_age
        self._clock = clock
        self._hasher = PasswordHash.recommended()
        # In-memory last use, flushed to the file every TOUCH_INTERVAL (keyed by digest / id).
        self._touched: dict[str, float] = {}

    # --- users ----------------------------------------------------------------------------------

    def has_users(self) -> bool:
        """True once at least one account exists."""
        return bool(self.store.data()["users"])

    def users(self) -> list[dict[str, Any]]:
        """Every account without its hash, sorted by name."""
        out = []
        for name, user in sorted(self.store.data()["users"].items()):
            out.append(
                {
                    "name": name,
                    "role": user["role"],
                    "motion": bool(user.get("motion")),
                    "created_at": user.get("created_at"),
                    "updated_at": user.get("updated_at"),
                    "sessions": self._session_count(name),
                }
            )
        return out

    def _session_count(self, name: str) -> int:
        return sum(1 for s in self.store.data()["sessions"].values() if s["user"] == name)

    def check_password(self, password: str) -> str:
        """Return ``password`` when it meets the length rules, else raise AccountError."""
        if len(password) < self.min_password_length:
            raise AccountError(
                f"password: at least {self.min_password_length} characters are required",
                field="password",
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise AccountError(
                f"password: at most {MAX_PASSWORD_LENGTH} characters", field="password"
            )
        return password

    def hash_password(self, password: str) -> str:
        """The argon2id hash of a password that meets the rules (slow: ~0.1 s)."""
        return self._hasher.hash(self.check_password(password))

    def add_user(self, name: str, password: str, role: str, *, motion: bool = False) -> None:
        """Create an account (422 when the name is taken or a value is not allowed)."""
        check_name(name)
        role_value = check_role(role).value
        hashed = self.hash_password(password)
        now = self._clock()

        def change(data: dict[str, Any]) -> None:
            if name in data["users"]:
                raise AccountError(f"name: account {name!r} already exists", status_code=409)
            data["users"][name] = {
                "password_hash": hashed,
                "role": role_value,
                "motion": motion,
                "created_at": now,
                "updated_at": now,
            }

        self.store.update(change)

    def _existing(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        user = data["users"].get(name)
        if user is None:
            raise AccountError(f"name: no account {name!r}", status_code=404)
        return user

    def _admins_left(self, data: dict[str, Any], without: str) -> int:
        return sum(1 for n, u in data["users"].items() if u["role"] == "admin" and n != without)

    def remove_user(self, name: str) -> None:
        """Delete an account and its sessions; the last admin cannot be removed."""

        def change(data: dict[str, Any]) -> None:
            user = self._existing(data, name)
            if user["role"] == "admin" and self._admins_left(data, name) == 0:
                raise AccountError(
                    f"name: {name!r} is the last admin; add another admin first", status_code=409
                )
            del data["users"][name]
            _drop_sessions(data, name)

        self.store.update(change)

    def set_role(self, name: str, role: str, *, motion: bool | None = None) -> dict[str, Any]:
        """Change an account's role (and motion grant when given); returns the account view."""
        role_value = check_role(role).value

        def change(data: dict[str, Any]) -> None:
            user = self._existing(data, name)
            if (
                user["role"] == "admin"
                and role_value != "admin"
                and self._admins_left(data, name) == 0
            ):
                raise AccountError(
                    f"role: {name!r} is the last admin and must stay admin", status_code=409
                )
            user["role"] = role_value
            if motion is not None:
                user["motion"] = motion
            user["updated_at"] = self._clock()

        self.store.update(change)
        return next(u for u in self.users() if u["name"] == name)

    def set_password(self, name: str, password: str) -> None:
        """Set a new password and end the account's sessions."""
        hashed = self.hash_password(password)

        def change(data: dict[str, Any]) -> None:
            user = self._existing(data, name)
            user["password_hash"] = hashed
            user["updated_at"] = self._clock()
            _drop_sessions(data, name)

        self.store.update(change)

    def preferences(self, name: str) -> dict[str, Any]:
        """The account's stored preferences (``units``: ``metric``, ``us`` or None when unset)."""
        user = self._existing(self.store.data(), name)
        stored = user.get("preferences") or {}
        units = stored.get("units")
        return {"units": units if units in UNIT_SYSTEMS else None}

    def set_preferences(self, name: str, *, units: str) -> dict[str, Any]:
        """Store the account's display units (``metric`` or ``us``); returns the preferences."""
        if units not in UNIT_SYSTEMS:
            raise AccountError(
                f"units: {units!r} is not allowed; use 'metric' or 'us'", field="units"
            )

        def change(data: dict[str, Any]) -> None:
            user = self._existing(data, name)
            user.setdefault("preferences", {})["units"] = units
            user["updated_at"] = self._clock()

        self.store.update(change)
        return self.preferences(name)

    def verify(self, name: str, password: str) -> Principal | None:
        """The account's principal when the password is right, else None (slow: ~0.1 s)."""
        user = self.store.data()["users"].get(name)
        if user is None or len(password) > MAX_PASSWORD_LENGTH:
            # Same work for an unknown name, so timing does not tell which names exist.
            self._hasher.verify(password[:MAX_PASSWORD_LENGTH], _dummy_hash())
            return None
        if not self._hasher.verify(password, user["password_hash"]):
            return None
        return self.user_principal(name)

    def user_principal(self, name: str) -> Principal | None:
        """The principal of an existing account, else None."""
        user = self.store.data()["users"].get(name)
        if user is None:
            return None
        return Principal(name, Role(user["role"]), bool(user.get("motion")), "user")

    # --- sessions -------------------------------------------------------------------------------

    def open_session(self, name: str, client: str | None) -> NewSession:
        """Open a browser session for ``name``; the oldest beyond the per-user cap is dropped."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()

        def change(data: dict[str, Any]) -> None:
            self._existing(data, name)
            _expire_sessions(data, now, self.session_idle, self.session_max_age)
            mine = sorted(
                (s["created_at"], key) for key, s in data["sessions"].items() if s["user"] == name
            )
            for _, key in mine[: max(0, len(mine) - MAX_SESSIONS_PER_USER + 1)]:
                del data["sessions"][key]
            data["sessions"][_digest(session_id)] = {
                "user": name,
                "created_at": now,
                "last_seen": now,
                "client": client,
            }

        self.store.update(change)
        return NewSession(session_id, name, now + self.session_max_age)

    def session_principal(self, session_id: str) -> Principal | None:
        """The principal of a live session (idle and absolute expiry checked), else None."""
        key = _digest(session_id)
        session = self.store.data()["sessions"].get(key)
        if session is None:
            return None
        now = self._clock()
        last = max(session["last_seen"], self._touched.get(key, 0.0))
        if now - last > self.session_idle or now - session["created_at"] > self.session_max_age:
            return None
        principal = self.user_principal(session["user"])
        if principal is not None:
            self._touch("sessions", key, "last_seen", now, last_written=session["last_seen"])
        return principal

    def session_expiry(self, session_id: str) -> float | None:
        """When the session ends at the latest (its absolute expiry), or None."""
        session = self.store.data()["sessions"].get(_digest(session_id))
        return None if session is None else session["created_at"] + self.session_max_age

    def close_session(self, session_id: str) -> str | None:
        """End one session; returns its user (None when there was none)."""
        key = _digest(session_id)
        if key not in self.store.data()["sessions"]:
            return None
        return self.store.update(lambda data: (data["sessions"].pop(key, None) or {}).get("user"))

    def close_all_sessions(self, name: str) -> int:
        """End every session of ``name`` ("log out everywhere"); returns how many."""
        return self.store.update(lambda data: _drop_sessions(data, name))

    # --- tokens ---------------------------------------------------------------------------------

    def create_token(
        self, name: str, role: str, *, motion: bool = False, created_by: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Create an API token; returns the secret (shown once) and its listing entry."""
        check_name(name)
        role_value = check_role(role).value
        token_id = secrets.token_hex(6)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = self._clock()

        def change(data: dict[str, Any]) -> None:
            if any(t["name"] == name for t in data["tokens"].values()):
                raise AccountError(f"name: a token named {name!r} already exists", status_code=409)
            if len(data["tokens"]) >= MAX_TOKENS:
                raise AccountError(
                    f"at most {MAX_TOKENS} tokens; revoke one first", status_code=409
                )
            data["tokens"][token_id] = {
                "name": name,
                "digest": _digest(secret),
                "role": role_value,
                "motion": motion,
                "created_at": now,
                "created_by": created_by,
                "last_used_at": None,
                "last_used_from": None,
            }

        self.store.update(change)
        return secret, self.token_view(token_id)

    def token_view(self, token_id: str) -> dict[str, Any]:
        """The listing entry of one token (never its secret or digest)."""
        token = self.store.data()["tokens"][token_id]
        return {
            "id": token_id,
            "name": token["name"],
            "role": token["role"],
            "motion": bool(token.get("motion")),
            "created_at": token["created_at"],
            "created_by": token.get("created_by"),
            "last_used_at": max(token.get("last_used_at") or 0.0, self._touched.get(token_id, 0.0))
            or None,
            "last_used_from": token.get("last_used_from"),
        }

    def tokens(self) -> list[dict[str, Any]]:
        """Every token with its last use, newest first."""
        views = [self.token_view(tid) for tid in self.store.data()["tokens"]]
        return sorted(views, key=lambda v: v["created_at"], reverse=True)

    def revoke_token(self, key: str) -> dict[str, Any]:
        """Delete a token by id or name; returns its listing entry."""
        data = self.store.data()
        token_id = key if key in data["tokens"] else None
        if token_id is None:
            token_id = next((i for i, t in data["tokens"].items() if t["name"] == key), None)
        if token_id is None:
            raise AccountError(
                f"token: no token with id or name {key!r}", field="token", status_code=404
            )
        view = self.token_view(token_id)
        self.store.update(lambda d: d["tokens"].pop(token_id, None))
        return view

    def token_principal(self, secret: str, client: str | None = None) -> Principal | None:
        """The principal of a valid token, else None; records its last use."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        token_id = secret[len(TOKEN_PREFIX) :].partition("_")[0]
        token = self.store.data()["tokens"].get(token_id)
        if token is None or not hmac.compare_digest(token["digest"], _digest(secret)):
            return None
        now = self._clock()
        self._touch(
            "tokens",
            token_id,
            "last_used_at",
            now,
            last_written=token.get("last_used_at") or 0.0,
            extra={"last_used_from": client},
        )
        return Principal(token["name"], Role(token["role"]), bool(token.get("motion")), "token")

    # --- helpers --------------------------------------------------------------------------------

    def _touch(
        self,
        table: str,
        key: str,
        field: str,
        now: float,
        *,
        last_written: float,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._touched[key] = now
        if now - last_written < TOUCH_INTERVAL:
            return

        def change(data: dict[str, Any]) -> None:
            entry = data[table].get(key)
            if entry is not None:
                entry[field] = now
                entry.update(extra or {})

        self.store.update(change)
        self._touched.pop(key, None)

    def expire_sessions(self) -> int:
        """Drop expired sessions from the store; returns how many."""
        now = self._clock()
        return self.store.update(
            lambda data: _expire_sessions(data, now, self.session_idle, self.session_max_age)
        )


def _drop_sessions(data: dict[str, Any], name: str) -> int:
    keys = [k for k, s in data["sessions"].items() if s["user"] == name]
    for key in keys:
        del data["sessions"][key]
    return len(keys)


def _expire_sessions(data: dict[str, Any], now: float, idle: float, max_age: float) -> int:
    keys = [
        k
        for k, s in data["sessions"].items()
        if now - s["last_seen"] > idle or now - s["created_at"] > max_age
    ]
    for key in keys:
        del data["sessions"][key]
    return len(keys)


@functools.cache
def _dummy_hash() -> str:
    """A valid argon2id hash of a random string: checking it costs what a real check costs."""
    return PasswordHash.recommended().hash(secrets.token_hex(16))
