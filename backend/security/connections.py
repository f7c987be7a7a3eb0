"""HTTP connection limits: a header-read deadline and a cap on open connections.

uvicorn's h11 protocol waits for a request's headers for as long as the client keeps the socket
open, so a few thousand sockets trickling headers hold the server's descriptors (a Raspberry Pi
has about 1,000) and take ``/healthz`` and the WebSockets down. :func:`guarded_protocol` builds
an h11 protocol class that closes a connection whose request headers are not complete within
``header_timeout`` seconds (measured from the connection, or from the end of the previous
response on a kept-alive one) and refuses connections beyond ``max_connections`` (HTTP and
WebSocket together). Idle kept-alive connections are closed by uvicorn's keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ConnectionStats:
    """What the guard refused or closed since start (monotonic counters)."""

    refused_over_limit: int = 0
    header_timeouts: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return {
            "refused_over_limit": self.refused_over_limit,
            "header_timeouts": self.header_timeouts,
        }


def guarded_protocol(
    header_timeout: float, max_connections: int, stats: ConnectionStats
) -> type[asyncio.Protocol]:
    """An h11 protocol class enforcing the header deadline and the connection cap.

    Args:
        header_timeout: Seconds a connection may take to send a request's headers.
        max_connections: Open connections (HTTP and WebSocket) beyond which new ones are closed.
        stats: Counters the guard increments.
    """

    class GuardedH11Protocol(H11Protocol):
        """h11 with a header-read deadline and a connection cap."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._refused = False
            self._deadline: asyncio.TimerHandle | None = None
            self._seen_headers: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                self._refused = True
                stats.refused_over_limit += 1
                if stats.refused_over_limit == 1 or stats.refused_over_limit % 1000 == 0:
                    logger.warning(
                        "HTTP: %d open connections (COACHIQ_SERVER__MAX_CONNECTIONS); "
                        "new ones are closed (%d so far)",
                        max_connections,
                        stats.refused_over_limit,
                    )
                transport.abort()
                return
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.headers is not self._seen_headers:
                # A request's headers are complete (or the socket became a WebSocket).
                self._seen_headers = self.headers
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on a kept-alive connection has the same deadline

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout, self._on_deadline)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _on_deadline(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.headers is not self._seen_headers:
                return  # closed already, or a request's headers arrived (e.g. pipelined)
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being answered
            stats.header_timeouts += 1
            self.transport.abort()

    return GuardedH11Protocol
