"""One logging configuration for CoachIQ and uvicorn."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

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


# syslog priorities of the logging levels (sd-daemon(3) "<N>" line prefixes).
_PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6}


class JournalFormatter(logging.Formatter):
    """Text lines for the systemd journal: ``<priority>`` prefix, no time (the journal adds it)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record with its syslog priority prefix."""
        priority = 7
        for level, value in _PRIORITIES.items():
            if record.levelno >= level:
                priority = value
                break
        return f"<{priority}>{super().format(record)}"


def stderr_is_journal(
    environ: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> bool:
    """True when stderr is the journal's stream (systemd sets ``JOURNAL_STREAM=dev:inode``)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def logging_dict_config(settings: LoggingSettings, journal: bool = False) -> dict[str, Any]:
    """The dictConfig for our loggers and uvicorn's (``journal``: text lines for journald)."""
    formatter: dict[str, Any]
    if settings.format == "json":
        formatter = {"()": JsonFormatter}
    elif journal:
        formatter = {"()": JournalFormatter}
    else:
        formatter = {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
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
    config = logging_dict_config(settings, journal=stderr_is_journal())
    logging.config.dictConfig(config)
    return config
