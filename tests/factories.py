"""Builders for tests: settings, frames, entities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.core.config import Settings, load_settings


def make_settings(env_file: str | Path | None = None, **sections: Any) -> Settings:
    """Settings from defaults plus keyword sections, ignoring any .env in the working directory.

    Example: ``make_settings(server={"port": 9000}, features={"enable_simulator": False})``.
    """
    return load_settings(env_file=env_file, **sections)
