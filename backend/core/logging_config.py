"""One logging configuration for CoachIQ and uvicorn."""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any

from backend.core.config import LoggingSettings


class JsonFormatter(logging.Formatter):
    """One JSON object per log record."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def logging_dict_config(settings: LoggingSettings) -> dict[str, Any]:
    """The dictConfig for our loggers and uvicorn's."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if settings.format == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "default"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": settings.level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": settings.level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": settings.level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": settings.level, "propagate": True},
        },
    }


def configure_logging(settings: LoggingSettings) -> dict[str, Any]:
    """Apply the logging configuration and return it (for uvicorn's ``log_config``)."""
    config = logging_dict_config(settings)
    logging.config.dictConfig(config)
    return config
