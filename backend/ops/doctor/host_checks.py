"""Doctor findings about the host and the server: configuration, disk, memory, health, storage."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from backend.core.config import ENV_PREFIX, Settings
from backend.ops.doctor.report import Report, Status

MIB = 2**20
DISK_FAIL_FREE = 50 * MIB  # SQLite and the journal stop writing well before zero
DISK_WARN_FREE = 500 * MIB
DISK_WARN_FRACTION = 0.10
MEMORY_WARN_FRACTION = 0.15
MEMORY_FAIL_FRACTION = 0.05
DATA_DIR_VAR = f"{ENV_PREFIX}PERSISTENCE__DATA_DIR"


@dataclass(slots=True)
class ServerView:
    """What ``/readyz`` of the running server said (``reachable`` False: nothing answered)."""

    url: str
    reachable: bool = False
    status_code: int | None = None
    error: str = ""
    body: dict[str, Any] = field(default_factory=dict)

    def feature(self, name: str) -> dict[str, Any] | None:
        """The health the server reports for a feature (None: not running or not reported)."""
        details = self.body.get("details") or {}
        return details.get(name)


def check_config(report: Report, settings: Settings) -> bool:
    """The same start-up checks ``coachiq serve`` makes; False when one failed."""
    from backend.core.coach_mapping import validate_coach_mapping
    from backend.core.state import AppState
    from backend.services.can_config import validate_can_settings
    from backend.services.feature_manager import FeatureConfigError, FeatureManager

    problems = validate_can_settings(settings)
    if settings.features.overrides().get("entities", True):
        problems += validate_coach_mapping(settings)
    try:
        FeatureManager.from_yaml(settings, AppState(settings=settings))
    except FeatureConfigError as exc:
        problems.append(str(exc))
    if problems:
        for line in problems:
            report.add("config", Status.FAIL, line, "fix the setting named; `coachiq config show`")
        return False
    interfaces = ", ".join(settings.can.interfaces)
    report.add(
        "config",
        Status.OK,
        f"settings and coach mapping are valid (bus type {settings.can.bustype}: {interfaces})",
    )
    return True


def persistence_enabled(settings: Settings) -> bool:
    """Whether the server keeps a database (either switch turns it on)."""
    override = settings.features.overrides().get("persistence")
    return override if override is not None else settings.persistence.enabled


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _bytes_under(path: Path) -> int:
    if not path.is_dir():
        return 0
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:
            continue
    return total


def check_disk(report: Report, settings: Settings) -> None:
    """Free space where the data directory lives, its size, and whether a backup still fits."""
    from backend.services.database_manager import SQLITE_FILENAME, resolve_data_dir

    data_dir = resolve_data_dir(settings)
    usage = shutil.disk_usage(_existing(data_dir))
    used_bytes = _bytes_under(data_dir)
    database = data_dir / SQLITE_FILENAME
    db_bytes = database.stat().st_size if database.exists() else 0
    free_fraction = usage.free / usage.total if usage.total else 0.0
    details = {
        "data_dir": str(data_dir),
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "free_percent": round(100 * free_fraction, 1),
        "data_dir_bytes": used_bytes,
        "database_bytes": db_bytes,
        "history_retention_days": settings.persistence.history_retention_days,
        "backup_retention": settings.persistence.backup_retention,
    }
    where = f"{data_dir}: {usage.free / MIB:.0f} MiB free of {usage.total / MIB:.0f} MiB"
    where += f" ({100 * free_fraction:.0f} %); CoachIQ's data {used_bytes / MIB:.1f} MiB"
    writable = not data_dir.exists() or os.access(data_dir, os.W_OK | os.X_OK)
    if usage.free < DISK_FAIL_FREE or (persistence_enabled(settings) and not writable):
        reason = "" if writable else " and the directory cannot be written"
        report.add(
            "disk",
            Status.FAIL,
            f"{where}: the disk is full{reason}",
            "free space (old logs: `journalctl --vacuum-size=100M`; old backups in "
            f"{data_dir / 'backups'}), lower {ENV_PREFIX}PERSISTENCE__HISTORY_RETENTION_DAYS, or "
            f"move {DATA_DIR_VAR} to a larger disk",
            **details,
        )
        return
    low = usage.free < DISK_WARN_FREE or free_fraction < DISK_WARN_FRACTION
    if low or usage.free < 2 * db_bytes:
        why = "space is low" if low else "a backup of the database would not fit"
        report.add(
            "disk",
            Status.WARN,
            f"{where}: {why}",
            "free space before the card fills: `journalctl --vacuum-size=100M`, fewer backups "
            f"({ENV_PREFIX}PERSISTENCE__BACKUP_RETENTION) or shorter history retention",
            **details,
        )
        return
    report.add("disk", Status.OK, where, **details)


def check_memory(report: Report) -> None:
    """Available memory of the host."""
    memory = psutil.virtual_memory()
    fraction = memory.available / memory.total if memory.total else 0.0
    summary = f"{memory.available / MIB:.0f} MiB available of {memory.total / MIB:.0f} MiB"
    details: dict[str, Any] = {"available_bytes": memory.available, "total_bytes": memory.total}
    if fraction < MEMORY_FAIL_FRACTION:
        report.add("memory", Status.FAIL, f"{summary}: nearly out of memory",
                   "find what uses it (`top -o %MEM`); CoachIQ's own RSS is in /metrics",
                   **details)  # fmt: skip
    elif fraction < MEMORY_WARN_FRACTION:
        report.add("memory", Status.WARN, f"{summary}: memory is low",
                   "find what uses it (`top -o %MEM`)", **details)  # fmt: skip
    else:
        report.add("memory", Status.OK, summary, **details)


def server_url(settings: Settings) -> str:
    """Where the server of these settings answers on this machine."""
    host = settings.server.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"


def read_server(url: str, timeout: float = 3.0) -> ServerView:
    """GET ``/readyz`` (public even when authentication is on)."""
    view = ServerView(url)
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as response:
            view.status_code = response.status
            view.body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        view.status_code = exc.code
        try:
            view.body = json.loads(exc.read() or b"{}")
        except ValueError:
            view.body = {}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        view.error = str(getattr(exc, "reason", exc))
        return view
    view.reachable = True
    return view


def check_server(report: Report, view: ServerView) -> None:
    """Whether the server runs and is ready (each feature's health)."""
    if not view.reachable:
        report.add(
            "server",
            Status.WARN,
            f"no CoachIQ server answers at {view.url} ({view.error})",
            "start it (`systemctl start coachiq`) or look at why it stopped "
            "(`journalctl -u coachiq -n 50`); --url if it listens elsewhere",
            url=view.url,
        )
        return
    details = {"url": view.url, "readyz": view.body}
    if view.status_code == 200:
        features = ", ".join(sorted(view.body.get("details") or {}))
        report.add("server", Status.OK, f"ready at {view.url} ({features})", **details)
        return
    problems = view.body.get("not_ready") or []
    text = (
        "; ".join(f"{p.get('feature')} {p.get('state')}: {p.get('reason')}" for p in problems)
        or f"HTTP {view.status_code}"
    )
    report.add("server", Status.FAIL, f"not ready at {view.url}: {text}",
               "`journalctl -u coachiq -n 50` says why", **details)  # fmt: skip


def _journal_mode(path: Path) -> str | None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def check_persistence(report: Report, settings: Settings, view: ServerView) -> None:
    """The database: on or off, WAL mode of the SQLite file, and the server's view of it."""
    if not persistence_enabled(settings):
        summary = f"off ({ENV_PREFIX}PERSISTENCE__ENABLED=false): no history or backups kept"
        report.add("persistence", Status.OK, summary)
        return
    from backend.services.database_manager import SQLITE_FILENAME, resolve_data_dir

    health = view.feature("persistence") if view.reachable else None
    details: dict[str, Any] = {"server_health": health}
    if settings.database.url is not None:
        where = "PostgreSQL (from COACHIQ_DATABASE__URL)"
    else:
        database = resolve_data_dir(settings) / SQLITE_FILENAME
        mode = _journal_mode(database) if database.exists() else None
        details.update(database=str(database), journal_mode=mode)
        where = f"SQLite {database}" + (f" (journal {mode})" if mode else " (not created yet)")
        if mode is not None and mode.lower() != "wal":
            report.add("persistence", Status.WARN, f"{where}: not in WAL mode",
                       "restart coachiq: it sets WAL at start", **details)  # fmt: skip
            return
    if view.reachable and health is not None and health.get("status") not in (None, "healthy"):
        report.add("persistence", Status.WARN,
                   f"{where}; the server reports {health.get('status')}: {health.get('reason')}",
                   "`coachiq doctor` disk line; `journalctl -u coachiq`", **details)  # fmt: skip
        return
    if view.reachable and health is None:
        report.add(
            "persistence",
            Status.WARN,
            f"{where}; the server runs without it",
            "`curl localhost:8000/readyz` and `journalctl -u coachiq` say why",
            **details,
        )
        return
    report.add("persistence", Status.OK, where, **details)


def check_mqtt(report: Report, settings: Settings, view: ServerView) -> None:
    """The MQTT bridge: off, connected, or why not."""
    mqtt = getattr(settings, "mqtt", None)
    override = settings.features.overrides().get("mqtt")
    enabled = override if override is not None else bool(mqtt and mqtt.enabled)
    if not enabled:
        report.add("mqtt", Status.OK, "off")
        return
    url = getattr(mqtt, "url", "?")
    if not view.reachable:
        report.add("mqtt", Status.WARN, f"on ({url}); state unknown: the server is not running",
                   "start the server")  # fmt: skip
        return
    health = view.feature("mqtt")
    if health is None:
        report.add("mqtt", Status.WARN, f"on ({url}) but the server runs without it",
                   "`journalctl -u coachiq` says why")  # fmt: skip
        return
    details = health.get("details") or {}
    if health.get("status") == "healthy":
        summary = (
            f"connected to {details.get('broker', url)}; {details.get('published', 0)} messages "
            f"published, outbox {details.get('queue', 0)}/{details.get('queue_size', '?')}"
        )
        report.add("mqtt", Status.OK, summary, **details)
        return
    report.add(
        "mqtt",
        Status.WARN,
        f"not connected: {health.get('reason')}",
        f"check the broker at {url} and {ENV_PREFIX}MQTT__* credentials",
        **details,
    )


def ntp_synchronized() -> bool | None:
    """``timedatectl``'s NTPSynchronized (None where it cannot say)."""
    command = shutil.which("timedatectl")
    if command is None:
        return None
    try:
        result = subprocess.run(
            [command, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.strip().lower()
    return {"yes": True, "no": False}.get(value)
