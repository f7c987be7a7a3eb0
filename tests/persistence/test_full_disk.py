"""A full data directory: one clear line at start; while running, history drops are counted.

The full disk is a tiny tmpfs mounted for the test (root, or CAP_SYS_ADMIN, is needed); where
mounting is not permitted the tests skip and say so.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.cli.main import app as cli
from backend.main import create_app
from backend.services.database_manager import SQLITE_FILENAME
from tests.persistence.test_feature import definitions, feature, on_loop, settings_for

MOUNT_FAILED = "a full disk cannot be simulated here: mounting a tmpfs is not permitted"


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount tmpfs file systems of a given size (``"64k"``) under ``tmp_path``; unmount after."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:  # no mount command
            pytest.skip(f"{MOUNT_FAILED} ({exc})")
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[0]
            pytest.skip(f"{MOUNT_FAILED} ({detail})")
        mounted.append(point)
        return point

    try:
        yield mount
    finally:
        for point in reversed(mounted):
            if subprocess.run(["umount", str(point)], check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until its file system has no space left; return it."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with filler.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    return filler


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_full_data_dir_stops_serve_with_one_line(
    tiny_filesystem: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tiny_filesystem("64k") / "data"
    data.mkdir(mode=0o700)
    fill(data.parent)
    monkeypatch.setenv("COACHIQ_PERSISTENCE__ENABLED", "true")
    monkeypatch.setenv("COACHIQ_PERSISTENCE__DATA_DIR", str(data))
    monkeypatch.delenv("COACHIQ_DATABASE__URL", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--port", str(_free_port())])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"configuration error: persistence data directory {data} cannot be written "
        "(No space left on device); fix its permissions or free space, or set "
        "COACHIQ_PERSISTENCE__DATA_DIR"
    )
    assert [p.name for p in data.iterdir()] == []  # no half-written probe left behind

    # Started inside an application (not through serve), the feature fails with that reason.
    with TestClient(create_app(settings_for(data), definitions())) as client:
        status = client.get("/api/persistence/status").json()
        assert status["state"] == "failed"
        assert "cannot be written (No space left on device)" in status["reason"]
        assert client.get("/healthz").status_code == 200


def test_disk_filling_while_running_drops_and_counts_history(
    tiny_filesystem: Callable[[str], Path],
) -> None:
    data = tiny_filesystem("1m") / "data"
    settings = settings_for(
        data, history_queue_size=20, history_batch_size=20, history_flush_interval=0.02
    )
    with TestClient(create_app(settings, definitions())) as client:
        manager = feature(client, "entities").entity_manager
        writer = feature(client, "persistence").service.writer
        now = time.time()
        manager.change("light_1", ts=now, brightness=1)
        on_loop(client, writer.flush)
        filler = fill(data.parent)

        def burst() -> None:  # on the loop, as the receive path calls the writer
            for i in range(200):
                manager.change("light_1", ts=now + 1 + i, brightness=i, blob="x" * 4000)

        on_loop(client, burst)
        with pytest.raises(Exception, match="full"):
            on_loop(client, writer.flush)
        status = client.get("/api/persistence/status").json()
        assert status["writer"]["dropped"] >= 180  # the oldest, counted; the newest kept
        assert status["writer"]["queued"] == 20
        assert status["writer"]["failed_writes"] >= 1
        assert "full" in status["writer"]["last_error"]
        by_name = {f["name"]: f for f in client.get("/api/features").json()["features"]}
        assert by_name["persistence"]["health"]["status"] == "degraded"
        assert client.get("/healthz").status_code == 200  # the server keeps running

        filler.unlink()  # space again: the newest rows that were kept are written
        on_loop(client, writer.flush)
        status = client.get("/api/persistence/status").json()
        assert (status["writer"]["queued"], status["writer"]["last_error"]) == (0, "")
        history = on_loop(client, manager.history_provider, "light_1", None, None, 1000)
        assert [h[1]["brightness"] for h in history] == [1, *range(180, 200)]

    connection = sqlite3.connect(data / SQLITE_FILENAME)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()
