"""The one module that talks to the MQTT client library (aiomqtt 2.x).

Everything else in CoachIQ uses :func:`connect`, :class:`MQTTSession`, :class:`BrokerParams`
and :class:`MQTTError`, so a new major version of the library touches this file only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiomqtt


class MQTTError(Exception):
    """The broker could not be reached, refused us, or the connection was lost."""


@dataclass(frozen=True, slots=True)
class BrokerParams:
    """How to reach the broker and what it announces for us when we vanish (the last will)."""

    host: str
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    keepalive: int = 30
    will_topic: str | None = None
    will_payload: str = "offline"
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message the broker delivered to one of our subscriptions."""

    topic: str
    payload: bytes
    retain: bool


class MQTTSession:
    """One live connection: publish, subscribe and read messages until it is lost."""

    def __init__(self, client: aiomqtt.Client, dropped: list[int]) -> None:
        self._client = client
        self._dropped = dropped

    @property
    def incoming_dropped(self) -> int:
        """Messages the bounded incoming queue dropped in this session."""
        return self._dropped[0]

    async def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1
    ) -> None:
        """Publish ``payload`` (text is UTF-8); QoS 1 waits for the broker's PUBACK."""
        try:
            await self._client.publish(topic, payload, qos=qos, retain=retain, timeout=10)
        except aiomqtt.MqttError as exc:
            raise MQTTError(f"publish to {topic} failed: {exc}") from exc

    async def subscribe(self, *topics: str, qos: int = 1) -> None:
        """Subscribe to each topic filter and wait for the broker's SUBACK."""
        try:
            for topic in topics:
                await self._client.subscribe(topic, qos=qos, timeout=10)
        except aiomqtt.MqttError as exc:
            raise MQTTError(f"subscribe failed: {exc}") from exc

    async def messages(self) -> AsyncIterator[InboundMessage]:
        """Delivered messages until the connection is lost (then MQTTError)."""
        try:
            async for message in self._client.messages:
                payload = message.payload
                if isinstance(payload, str):
                    data = payload.encode()
                elif isinstance(payload, bytes | bytearray):
                    data = bytes(payload)
                else:
                    data = b"" if payload is None else str(payload).encode()
                yield InboundMessage(message.topic.value, data, bool(message.retain))
        except aiomqtt.MqttError as exc:
            raise MQTTError(f"connection lost: {exc}") from exc


def _queue_type(dropped: list[int]) -> type[asyncio.Queue[aiomqtt.Message]]:
    class _CountingQueue(asyncio.Queue[aiomqtt.Message]):
        """The library's incoming queue, bounded, counting what it drops."""

        def put_nowait(self, item: aiomqtt.Message) -> None:
            try:
                super().put_nowait(item)
            except asyncio.QueueFull:
                dropped[0] += 1
                raise

    return _CountingQueue


def _tls_context(params: BrokerParams) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(params.ca_file) if params.ca_file is not None else None
    )
    if params.cert_file is not None:
        context.load_cert_chain(
            str(params.cert_file), str(params.key_file) if params.key_file else None
        )
    return context


@asynccontextmanager
async def connect(
    params: BrokerParams, *, incoming_limit: int = 1000
) -> AsyncIterator[MQTTSession]:
    """Connect (clean session, MQTT 3.1.1) and yield the session; disconnects on exit.

    Raises:
        MQTTError: the broker is unreachable or refused the connection.
    """
    dropped = [0]
    will = None
    if params.will_topic is not None:
        will = aiomqtt.Will(params.will_topic, params.will_payload, qos=1, retain=True)
    try:
        tls_context = _tls_context(params) if params.tls else None
    except (OSError, ssl.SSLError) as exc:
        raise MQTTError(f"TLS files cannot be used: {exc}") from exc
    client = aiomqtt.Client(
        params.host,
        params.port,
        username=params.username,
        password=params.password,
        identifier=params.client_id,
        will=will,
        clean_session=True,
        keepalive=params.keepalive,
        timeout=params.timeout,
        tls_context=tls_context,
        queue_type=_queue_type(dropped),
        max_queued_incoming_messages=incoming_limit,
    )
    try:
        await client.__aenter__()
    except aiomqtt.MqttError as exc:
        raise MQTTError(f"cannot connect to {params.host}:{params.port}: {exc}") from exc
    try:
        yield MQTTSession(client, dropped)
    finally:
        with contextlib.suppress(aiomqtt.MqttError):  # already gone: nothing left to close
            await client.__aexit__(None, None, None)
        # The library keeps the reason of an unexpected disconnection in a future that nobody
        # reads when a publish noticed the loss first; read it so asyncio does not log it.
        lost = getattr(client, "_disconnected", None)
        if isinstance(lost, asyncio.Future) and lost.done() and not lost.cancelled():
            lost.exception()
