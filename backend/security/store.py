"""The security store: accounts, API tokens and sessions in one small JSON file (mode 0600).

The file lives in ``COACHIQ_PERSISTENCE__DATA_DIR`` whether history persistence is on or not, so
accounts survive a restart either way. The server and the ``coachiq users``/``coachiq tokens``
commands share it: every change takes an exclusive ``flock`` on a lock file, re-reads the file if
another process changed it, applies the change and replaces the file atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

STORE_NAME = "security.json"
STORE_VERSION = 1
FILE_MODE = 0o600

T = TypeVar("T")


class StoreError(Exception):
    """The store cannot be read or written; the message names the file and the reason."""


def _empty() -> dict[str, Any]:
    return {"version": STORE_VERSION, "users": {}, "tokens": {}, "sessions": {}}


class SecurityStore:
    """Read and change the store file; readers get the last loaded copy (reloaded on change)."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / STORE_NAME
        self._lock_path = Path(data_dir) / f".{STORE_NAME}.lock"
        self._data: dict[str, Any] = _empty()
        self._stamp: tuple[int, int] | None = None

    # --- reading --------------------------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        """The current contents (re-read when another process changed the file)."""
        self._refresh()
        return self._data

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from None
        return (stat.st_mtime_ns, stat.st_size)

    def _refresh(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        if stamp is None:
            self._data, self._stamp = _empty(), None
            return
        try:
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                logger.warning("%s had mode %o; set to 0600", self.path, mode)
                os.chmod(self.path, FILE_MODE)
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.path}: cannot be read: {exc}") from None
        if not isinstance(loaded, dict) or loaded.get("version") != STORE_VERSION:
            raise StoreError(f"{self.path}: not a CoachIQ security store (version {STORE_VERSION})")
        for key in ("users", "tokens", "sessions"):
            loaded.setdefault(key, {})
        self._data, self._stamp = loaded, stamp

    # --- changing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, FILE_MODE)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot write ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to the contents under the lock and write the file; return its result."""
        with self._locked():
            self._refresh()
            result = change(self._data)
            self._write()
        return result

    def _write(self) -> None:
        tmp = self.path.with_name(f".{STORE_NAME}.tmp")
        text = json.dumps(self._data, indent=1, sort_keys=True)
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot write ({exc.strerror})") from None
        self._stamp = self._file_stamp()
