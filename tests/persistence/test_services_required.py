"""PostgreSQL tests skip when the server is unreachable, but fail when services are required."""

from __future__ import annotations

import pytest

from tests.persistence import conftest


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL down, and the start command does nothing."""
    monkeypatch.setattr(conftest, "_pg_up", lambda: False)
    monkeypatch.setattr(conftest, "PG_START", "true")


@pytest.mark.usefixtures("unreachable")
def test_unreachable_postgresql_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(conftest.REQUIRE_SERVICES, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not reachable"):
        conftest._ensure_postgres()
    monkeypatch.setenv(conftest.REQUIRE_SERVICES, "0")
    with pytest.raises(pytest.skip.Exception):
        conftest._ensure_postgres()


@pytest.mark.usefixtures("unreachable")
def test_unreachable_postgresql_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(conftest.REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        conftest._ensure_postgres()
    assert str(failed.value) == (
        "PostgreSQL is not reachable at 127.0.0.1:5432 and could not be started "
        "(COACHIQ_REQUIRE_SERVICES=1: services are required)"
    )


def test_reachable_postgresql_neither_skips_nor_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(conftest.REQUIRE_SERVICES, "1")
    monkeypatch.setattr(conftest, "_pg_up", lambda: True)
    conftest._ensure_postgres()
