"""Secrets never leave the server: bus_options secrets and database URL passwords."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from backend.services.config_service import ConfigService
from backend.services.database_manager import redact_url
from tests.factories import make_settings


def test_database_url_passwords_are_hidden_also_in_the_query_string() -> None:
    url = make_url("postgresql+asyncpg://coach:hunter2@db/coachiq?password=s3cret&sslmode=require")
    text = redact_url(url)
    assert text == "postgresql+asyncpg://coach:***@db/coachiq?password=***&sslmode=require"


def test_bus_option_secrets_are_redacted_in_the_config_summary() -> None:
    settings = make_settings(
        can={"bus_options": {"port": 43114, "auth_token": "abc", "sslpassword": "x"}},
        database={"url": "postgresql+asyncpg://u@db/c?password=s3cret"},
    )
    summary = ConfigService(settings).get_config_summary()
    assert summary["can"]["bus_options"] == {
        "port": 43114,
        "auth_token": "***",
        "sslpassword": "***",
    }
    assert summary["database"]["url"] == "***"
    assert "s3cret" not in str(summary) and "abc" not in str(summary)
