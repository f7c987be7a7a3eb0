"""Fixtures of the security tests: an application with authentication required."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.main import create_app
from tests.factories import make_settings

PASSWORD = "correct horse battery"


def secure_settings(data_dir: Path, **security: Any) -> Any:
    """Settings with authentication required and the security store in ``data_dir``."""
    return make_settings(
        security={"auth": "required", **security}, persistence={"data_dir": data_dir}
    )


@pytest.fixture
def secure_client(tmp_path: Path) -> Iterator[TestClient]:
    """A running app with auth required; no account yet."""
    app = create_app(secure_settings(tmp_path))
    with TestClient(app) as client:
        yield client


def token_for(client: TestClient, name: str, role: str, motion: bool = False) -> str:
    """Create an API token directly in the app's store and return its secret."""
    secret, _ = client.app.state.security.accounts.create_token(name, role, motion=motion)  # type: ignore[attr-defined]
    return secret


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}
