"""systemd notification: ``coachiq serve`` sends READY/WATCHDOG/STOPPING to NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from backend.core.config import LoggingSettings
from backend.core.logging_config import JournalFormatter, logging_dict_config, stderr_is_journal
from backend.ops.notify import SystemdNotifier, serve_notified

REPO = Path(__file__).resolve().parents[2]
COACHIQ_SCRIPT = Path(sys.executable).with_name("coachiq")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _notify_socket(path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    try:
        yield sock
    finally:
        sock.close()


def _messages(sock: socket.socket, until: str, timeout: float) -> list[str]:
    """Datagrams received until one contains ``until`` (or fail after ``timeout``)."""
    received: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            received.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if until in received[-1].splitlines():
            return received
    raise AssertionError(f"{until} not received within {timeout} s; got {received}")


def _serve_command(port: int) -> list[str]:
    if COACHIQ_SCRIPT.exists():
        return [str(COACHIQ_SCRIPT), "serve", "--port", str(port)]
    return [sys.executable, "-c", "from backend.cli.main import main; main()", "serve", "--port",
            str(port)]  # fmt: skip


@pytest.mark.slow
def test_coachiq_serve_sends_ready_then_watchdog_then_stopping(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    log = tmp_path / "serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHIQ_")}
    env.update(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="400000", COACHIQ_LOGGING__LEVEL="WARNING")
    with _notify_socket(path) as sock, log.open("wb") as output:
        process = subprocess.Popen(
            _serve_command(port), cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            first = _messages(sock, "READY=1", timeout=60)
            # READY only once the HTTP socket accepts connections.
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass
            assert first[-1].splitlines() == ["READY=1", f"STATUS=serving on 127.0.0.1:{port}"]
            pings = [m for m in _messages(sock, "WATCHDOG=1", timeout=5) if m == "WATCHDOG=1"]
            assert pings
            # WatchdogSec/2 = 0.2 s: about five pings a second from the event loop.
            started = time.monotonic()
            count = 0
            while time.monotonic() - started < 1.0:
                with contextlib.suppress(TimeoutError):
                    count += sock.recv(4096) == b"WATCHDOG=1"
            assert 3 <= count <= 7, count
            process.send_signal(signal.SIGTERM)
            _messages(sock, "STOPPING=1", timeout=20)
            # uvicorn re-raises SIGTERM once shut down; systemd counts that as a clean stop.
            assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "Traceback" not in log.read_text()


def _server(port: int) -> uvicorn.Server:
    app = FastAPI()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    return uvicorn.Server(config)


async def test_no_notify_socket_sends_nothing_and_serves() -> None:
    notifier = SystemdNotifier.from_environment({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.notify("READY=1") is False
    server = _server(_free_port())
    task = asyncio.create_task(serve_notified(server, notifier))
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    assert notifier.sent == 0 and notifier.errors == 0


async def test_abstract_socket_and_watchdog_pid_of_another_process() -> None:
    name = f"coachiq-test-{os.getpid()}-{time.monotonic_ns()}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(b"\0" + name.encode())
    receiver.settimeout(2)
    try:
        env = {"NOTIFY_SOCKET": f"@{name}", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
        notifier = SystemdNotifier.from_environment(env)
        # The watchdog was meant for process 1, not us: no pings, but READY still goes out.
        assert notifier.watchdog_interval is None
        assert notifier.notify("READY=1")
        assert receiver.recv(100) == b"READY=1"
        own = {**env, "WATCHDOG_PID": str(os.getpid())}
        assert SystemdNotifier.from_environment(own).watchdog_interval == 0.5
    finally:
        receiver.close()


def test_a_missing_socket_is_counted_not_raised(tmp_path: Path) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert notifier.notify("READY=1") is False
    assert notifier.errors == 1
    notifier.close()
    notifier.close()


def test_journal_lines_carry_the_syslog_priority(tmp_path: Path) -> None:
    stream = (tmp_path / "stderr").open("w")
    try:
        info = os.fstat(stream.fileno())
        assert stderr_is_journal({"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}, stream)
        assert not stderr_is_journal({"JOURNAL_STREAM": "1:2"}, stream)
        assert not stderr_is_journal({}, stream)
    finally:
        stream.close()
    config = logging_dict_config(LoggingSettings(), journal=True)
    assert config["formatters"]["default"] == {"()": JournalFormatter}
    record = logging.LogRecord("coachiq.x", logging.WARNING, __file__, 1, "bus %s", ("off",), None)
    assert JournalFormatter().format(record) == "<4>WARNING coachiq.x: bus off"
    record.levelno, record.levelname = logging.ERROR, "ERROR"
    assert JournalFormatter().format(record).startswith("<3>ERROR")
