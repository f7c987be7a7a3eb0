"""``coachiq users`` and ``coachiq tokens``: accounts and API tokens, headless.

Both change the security store in ``COACHIQ_PERSISTENCE__DATA_DIR`` (``security.json``, mode 0600);
a running server sees the change at its next request. Changes are written to the security audit
with the principal ``cli:<user>``.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from backend.core.config import ConfigError, Settings, load_settings
from backend.security.accounts import AccountError, Accounts
from backend.security.audit import AUDIT_FILE, AuditLog
from backend.security.principal import ROLE_NAMES
from backend.security.service import data_dir_of
from backend.security.store import SecurityStore, StoreError

users_app = typer.Typer(
    help="Accounts: add, list, remove, set-role, set-password.", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)

_ROLE_HELP = f"One of {', '.join(ROLE_NAMES)}."


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            typer.echo(f"configuration error: {line}", err=True)
        raise typer.Exit(2) from None


def _accounts() -> tuple[Accounts, AuditLog]:
    settings = _settings()
    data_dir = data_dir_of(settings)
    accounts = Accounts(
        SecurityStore(data_dir), min_password_length=settings.security.min_password_length
    )
    return accounts, AuditLog(10, data_dir / AUDIT_FILE)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise _fail("--password-stdin: no password on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _fail("no terminal to ask for the password; use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise _fail("the two passwords differ")
    return first


def _call[T](accounts: Accounts, fn: Callable[[Accounts], T]) -> T:
    """``fn(accounts)``; a refused change or an unreadable store is one line and exit 1."""
    try:
        return fn(accounts)
    except AccountError as exc:
        raise _fail(exc.message) from None
    except StoreError as exc:
        raise _fail(str(exc)) from None


def _read[T](fn: Callable[[Accounts], T]) -> T:
    """Read the store (nothing is audited)."""
    accounts, _ = _accounts()
    return _call(accounts, fn)


def _run[T](action: str, target: str, detail: str | None, fn: Callable[[Accounts], T]) -> T:
    """Change the store and write the change to the security audit."""
    accounts, audit = _accounts()
    result = _call(accounts, fn)
    audit.record(
        action, principal=_actor(), client="cli", result="ok", target=target, detail=detail
    )
    return result


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Account name.")],
    role: Annotated[str, typer.Option(help=_ROLE_HELP)] = "viewer",
    motion: Annotated[bool, typer.Option(help="Allow moving slides, awnings, leveling.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add an account."""
    password = _read_password(password_stdin)
    _run(
        "user_added",
        f"user:{name}",
        f"role {role}, motion {motion}",
        lambda a: a.add_user(name, password, role, motion=motion),
    )
    typer.echo(f"account {name} added (role {role}{', motion' if motion else ''})")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List accounts."""
    users = _read(lambda a: a.users())
    if as_json:
        typer.echo(json.dumps(users, indent=2))
        return
    if not users:
        typer.echo("no accounts")
    for user in users:
        grant = " motion" if user["motion"] else ""
        typer.echo(f"{user['name']}\t{user['role']}{grant}\t{user['sessions']} sessions")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="Account name.")]) -> None:
    """Remove an account and end its sessions."""
    _run("user_removed", f"user:{name}", None, lambda a: a.remove_user(name))
    typer.echo(f"account {name} removed")


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="Account name.")],
    role: Annotated[str, typer.Argument(help=_ROLE_HELP)],
    motion: Annotated[
        bool | None, typer.Option("--motion/--no-motion", help="Give or take the motion grant.")
    ] = None,
) -> None:
    """Change an account's role (and motion grant)."""
    view = _run(
        "role_set",
        f"user:{name}",
        f"role {role}, motion {motion}",
        lambda a: a.set_role(name, role, motion=motion),
    )
    typer.echo(f"account {name}: role {view['role']}{', motion' if view['motion'] else ''}")


@users_app.command("set-password")
def users_set_password(
    name: Annotated[str, typer.Argument(help="Account name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a new password (ends the account's sessions)."""
    password = _read_password(password_stdin)
    _run("password_set", f"user:{name}", None, lambda a: a.set_password(name, password))
    typer.echo(f"password of {name} set; its sessions were ended")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Token name (what uses it: ha, node-red...).")],
    role: Annotated[str, typer.Option(help=_ROLE_HELP)] = "viewer",
    motion: Annotated[bool, typer.Option(help="Allow moving slides, awnings, leveling.")] = False,
) -> None:
    """Create an API token and print it once (send it as Authorization: Bearer <token>)."""
    result = _run(
        "token_created",
        f"token:{name}",
        f"role {role}, motion {motion}",
        lambda a: a.create_token(name, role, motion=motion, created_by=_actor()),
    )
    typer.echo(result[0])
    typer.echo(
        f"token {name} created (role {role}{', motion' if motion else ''}); it is shown only "
        "now: keep it",
        err=True,
    )


@tokens_app.command("list")
def tokens_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List API tokens with their last use."""
    tokens = _read(lambda a: a.tokens())
    if as_json:
        typer.echo(json.dumps(tokens, indent=2))
        return
    if not tokens:
        typer.echo("no tokens")
    for token in tokens:
        used = token["last_used_at"]
        last = (
            "never used" if used is None else f"last used {used:.0f} from {token['last_used_from']}"
        )
        grant = " motion" if token["motion"] else ""
        typer.echo(f"{token['id']}\t{token['name']}\t{token['role']}{grant}\t{last}")


@tokens_app.command("revoke")
def tokens_revoke(key: Annotated[str, typer.Argument(help="Token id or name.")]) -> None:
    """Revoke an API token; it stops working at once."""
    _run("token_revoked", f"token:{key}", None, lambda a: a.revoke_token(key))
    typer.echo(f"token {key} revoked")


def register(app: typer.Typer) -> None:
    """Add ``users`` and ``tokens`` to the ``coachiq`` command."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
