"""ConfigService: read access to the settings, with secrets redacted."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from backend.core.config import Settings

REDACTED = "***"
# bus_options keys whose values are secrets (python-can drivers take passwords, keys, tokens).
SECRET_KEY = re.compile(r"pass|secret|key|token|credential|auth", re.IGNORECASE)


def _redact(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return REDACTED if value.get_secret_value() else None
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


class ConfigService:
    """The application's door to its configuration."""

    def __init__(self, settings: Settings):
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The settings object (for services that need typed access)."""
        return self._settings

    def get_config_summary(self) -> dict[str, Any]:
        """All settings as plain JSON-able data; secrets shown as ``***``."""
        raw = {name: getattr(self._settings, name) for name in type(self._settings).model_fields}
        summary: dict[str, Any] = {}
        for name, value in raw.items():
            if hasattr(value, "model_dump"):
                section = {field: getattr(value, field) for field in type(value).model_fields}
                extra = getattr(value, "__pydantic_extra__", None) or {}
                section.update(extra)
                if name == "can":
                    section["bus_options"] = redact_options(section.get("bus_options") or {})
                summary[name] = _jsonable(_redact(section))
            else:
                summary[name] = _jsonable(_redact(value))
        return summary


def redact_options(options: dict[str, Any]) -> dict[str, Any]:
    """``bus_options`` with the values of secret-looking keys (password, key, token) as ``***``."""
    return {
        key: REDACTED if SECRET_KEY.search(str(key)) and value not in (None, "") else value
        for key, value in options.items()
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
