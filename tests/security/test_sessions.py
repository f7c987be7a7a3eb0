"""First-run setup, login, sessions (cookie, expiry, logout everywhere), throttling, the store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from backend.main import create_app
from backend.security.accounts import Accounts
from backend.security.store import SecurityStore
from tests.security.conftest import PASSWORD, secure_settings


def _setup(client: TestClient, name: str = "owner") -> None:
    code = client.app.state.security.setup_code  # type: ignore[attr-defined]
    assert code, "a setup code is printed while no account exists"
    response = client.post(
        "/api/auth/setup", json={"code": code, "name": name, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text


def test_setup_needs_the_printed_code_then_logs_the_owner_in(
    secure_client: TestClient, caplog
) -> None:
    wrong = secure_client.post(
        "/api/auth/setup", json={"code": "nope", "name": "owner", "password": PASSWORD}
    )
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["field"] == "code"
    _setup(secure_client)
    cookie = secure_client.cookies.get("coachiq_session")
    assert cookie
    me = secure_client.get("/api/auth/status").json()
    assert me["principal"] == {"name": "owner", "role": "admin", "motion": True, "kind": "user"}
    assert secure_client.get("/api/security/users").status_code == 200
    again = secure_client.post(
        "/api/auth/setup", json={"code": "x", "name": "second", "password": PASSWORD}
    )
    assert again.status_code == 409


def test_the_setup_code_is_one_line_in_the_log(tmp_path: Path, caplog) -> None:
    caplog.set_level("WARNING", logger="backend.security.service")
    with TestClient(create_app(secure_settings(tmp_path))) as client:
        code = client.app.state.security.setup_code  # type: ignore[attr-defined]
    lines = [r.getMessage() for r in caplog.records if code in r.getMessage()]
    assert len(lines) == 1 and "setup code" in lines[0]


def test_session_cookie_is_httponly_and_strict_and_logout_ends_it(
    secure_client: TestClient,
) -> None:
    _setup(secure_client)
    secure_client.cookies.clear()
    response = secure_client.post("/api/auth/login", json={"name": "owner", "password": PASSWORD})
    assert response.status_code == 200
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/" in header
    assert secure_client.get("/api/entities").status_code == 200
    session = secure_client.cookies.get("coachiq_session")
    assert secure_client.post("/api/auth/logout").json() == {"sessions_ended": 1}
    secure_client.cookies.set("coachiq_session", session or "")
    gone = secure_client.get("/api/entities")
    assert gone.status_code == 401 and "logged out" in gone.json()["detail"]


def test_log_out_everywhere_ends_every_session_of_the_account(tmp_path: Path) -> None:
    app = create_app(secure_settings(tmp_path))
    with TestClient(app) as phone, TestClient(app) as laptop:
        _setup(phone)
        login = laptop.post("/api/auth/login", json={"name": "owner", "password": PASSWORD})
        assert login.status_code == 200
        assert laptop.get("/api/entities").status_code == 200
        assert phone.post("/api/auth/logout-all").json() == {"sessions_ended": 2}
        assert laptop.get("/api/entities").status_code == 401


def test_idle_and_absolute_expiry(tmp_path: Path) -> None:
    now = [1000.0]
    accounts = Accounts(
        SecurityStore(tmp_path), session_idle=60, session_max_age=300, clock=lambda: now[0]
    )
    accounts.add_user("anna", PASSWORD, "viewer")
    session = accounts.open_session("anna", "10.0.0.2")
    now[0] += 59
    assert accounts.session_principal(session.session_id) is not None
    now[0] += 61  # 61 s unused
    assert accounts.session_principal(session.session_id) is None
    other = accounts.open_session("anna", "10.0.0.2")
    for _ in range(6):  # used every 50 s, still ends at 300 s
        now[0] += 50
    assert accounts.session_principal(other.session_id) is None


def test_wrong_passwords_are_throttled_with_growing_delay_and_counted(
    secure_client: TestClient,
) -> None:
    _setup(secure_client)
    secure_client.cookies.clear()
    codes = [
        secure_client.post("/api/auth/login", json={"name": "owner", "password": "wrong-one"})
        for _ in range(7)
    ]
    assert [c.status_code for c in codes[:5]] == [401] * 5
    assert codes[6].status_code == 429
    assert int(codes[6].headers["retry-after"]) >= 1
    right = secure_client.post("/api/auth/login", json={"name": "owner", "password": PASSWORD})
    assert right.status_code == 429  # even the right password waits out the delay
    security = secure_client.app.state.security  # type: ignore[attr-defined]
    assert security.limiter.stats["failed"] >= 5 and security.limiter.stats["throttled"] >= 2
    failures = security.audit.entries(event="login_failed")
    assert failures and failures[0]["client"] == "testclient"


def test_accounts_survive_a_restart_in_a_0600_file(tmp_path: Path) -> None:
    with TestClient(create_app(secure_settings(tmp_path))) as client:
        _setup(client)
    store = tmp_path / "security.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    data = json.loads(store.read_text())
    assert PASSWORD not in store.read_text()
    assert data["users"]["owner"]["password_hash"].startswith("$argon2id$")
    with TestClient(create_app(secure_settings(tmp_path))) as client:
        assert client.app.state.security.setup_code is None  # type: ignore[attr-defined]
        login = client.post("/api/auth/login", json={"name": "owner", "password": PASSWORD})
        assert login.status_code == 200


def test_short_password_and_bad_names_are_422_naming_the_field(
    secure_client: TestClient,
) -> None:
    _setup(secure_client)
    short = secure_client.post(
        "/api/security/users", json={"name": "kid", "password": "short", "role": "viewer"}
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    bad = secure_client.post(
        "/api/security/users", json={"name": "no spaces", "password": PASSWORD, "role": "viewer"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"
    role = secure_client.post(
        "/api/security/users", json={"name": "kid", "password": PASSWORD, "role": "boss"}
    )
    assert role.status_code == 422
    last = secure_client.delete("/api/security/users/owner")
    assert last.status_code == 409 and "last admin" in last.json()["detail"]


def test_tokens_from_the_api_are_shown_once_listed_with_last_use_and_revocable(
    secure_client: TestClient,
) -> None:
    _setup(secure_client)
    created = secure_client.post("/api/security/tokens", json={"name": "ha", "role": "viewer"})
    assert created.status_code == 201
    secret = created.json()["token"]
    with TestClient(secure_client.app) as integration:
        headers = {"Authorization": f"Bearer {secret}"}
        assert integration.get("/api/entities", headers=headers).status_code == 200
    listed = secure_client.get("/api/security/tokens").json()["tokens"]
    assert [t["name"] for t in listed] == ["ha"]
    assert "token" not in listed[0] and listed[0]["last_used_at"] is not None
    assert secure_client.delete("/api/security/tokens/ha").status_code == 204
    with TestClient(secure_client.app) as integration:
        headers = {"Authorization": f"Bearer {secret}"}
        assert integration.get("/api/entities", headers=headers).status_code == 401
    events = [e["event"] for e in secure_client.get("/api/security/audit").json()["entries"]]
    assert {"user_added", "token_created", "token_use", "token_revoked"} <= set(events)
