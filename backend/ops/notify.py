"""systemd notification (``sd_notify``): READY, WATCHDOG and STOPPING from the event loop.

systemd passes ``NOTIFY_SOCKET`` (a datagram socket path, ``@`` for the abstract namespace) to a
``Type=notify`` service, and ``WATCHDOG_USEC`` when the unit sets ``WatchdogSec=``. Outside
systemd neither is set and nothing here sends anything. The watchdog ping runs as a task on the
server's event loop, so a loop that hangs stops pinging and systemd restarts the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

import uvicorn

from backend.integrations.can.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

_STARTUP_POLL_S = 0.05


class SystemdNotifier:
    """Sends ``sd_notify`` messages to ``NOTIFY_SOCKET``; does nothing when it is not set."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self.sent = 0
        self.errors = 0
        self._socket: socket.socket | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (which must be us)."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC", "").strip()
        pid = env.get("WATCHDOG_PID", "").strip()
        if raw.isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(raw)
        return cls(env.get("NOTIFY_SOCKET", "").strip() or None, usec)

    @property
    def enabled(self) -> bool:
        """True when started by systemd with a notification socket."""
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG pings: half the watchdog timeout (None: no watchdog)."""
        if not self.enabled or self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2_000_000

    def _target(self) -> str | bytes:
        assert self.address is not None
        if self.address.startswith("@"):
            return b"\0" + self.address[1:].encode()  # abstract namespace
        return self.address

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram; False (logged once) when it cannot."""
        if not self.enabled:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto("\n".join(fields).encode(), self._target())
        except OSError as exc:
            self.errors += 1
            if self.errors == 1 or self.errors % 100 == 0:
                logger.warning(
                    "sd_notify to %s failed (%d times): %s", self.address, self.errors, exc
                )
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        """Close the socket. Safe to call twice."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


async def watchdog_loop(notifier: SystemdNotifier, interval: float) -> None:
    """Ping the watchdog every ``interval`` seconds for as long as the event loop runs."""
    while True:
        notifier.notify("WATCHDOG=1")
        await asyncio.sleep(interval)


async def _announce_stop(server: uvicorn.Server, notifier: SystemdNotifier) -> None:
    """Send STOPPING=1 as soon as uvicorn starts to shut down (it re-raises the signal after)."""
    while not server.should_exit:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(_STARTUP_POLL_S)
    notifier.notify("STOPPING=1", "STATUS=stopping")


async def serve_notified(server: uvicorn.Server, notifier: SystemdNotifier) -> None:
    """Run ``server``; once it listens, send READY (and start the watchdog), STOPPING at the end."""
    serving = asyncio.create_task(server.serve(), name="uvicorn-serve")
    helpers: list[asyncio.Task[None]] = []
    try:
        while not server.started and not serving.done():  # noqa: ASYNC110 - flags only
            await asyncio.sleep(_STARTUP_POLL_S)
        if server.started and notifier.enabled:
            config = server.config
            notifier.notify("READY=1", f"STATUS=serving on {config.host}:{config.port}")
            helpers.append(asyncio.create_task(_announce_stop(server, notifier), name="sd-stop"))
            interval = notifier.watchdog_interval
            if interval is not None:
                helpers.append(
                    asyncio.create_task(watchdog_loop(notifier, interval), name="sd-watchdog")
                )
            logger.info(
                "Told systemd the server is ready%s",
                f" (watchdog every {interval:g} s)" if interval else "",
            )
        await serving
    finally:
        for task in helpers:
            await cancel_and_wait(task)
        await cancel_and_wait(serving)
        notifier.close()


def run_server(config: uvicorn.Config, environ: Mapping[str, str] | None = None) -> bool:
    """Run uvicorn like ``uvicorn.run`` does, notifying systemd when it started us.

    Returns True when the server started (False: start-up failed, uvicorn logged why).
    """
    server = uvicorn.Server(config)
    notifier = SystemdNotifier.from_environment(environ)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_notified(server, notifier), loop_factory=config.get_loop_factory())
    return server.started
