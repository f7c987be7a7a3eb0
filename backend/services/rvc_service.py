"""The application's door to the RV-C protocol engine, and the ``rvc`` feature that owns it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from backend.integrations.rvc.decoder import DecodedMessage
from backend.integrations.rvc.errors import UnknownDGNError
from backend.integrations.rvc.loader import RVCConfig, load_config_data
from backend.integrations.rvc.spec import DgnDefinition, RVCSpec
from backend.integrations.rvc.transport import (
    DATA_PACKET,
    DEFAULT_TIMEOUT_S,
    ReassembledMessage,
    Reassembler,
    packetize,
)
from backend.services.feature_base import Feature, FeatureContext, FeatureHealth, HealthStatus

REQUEST_NAME = "DG_REQUEST"


class RVCService:
    """Decode, encode, look up the specification and reassemble multi-packet messages.

    ``decode(arbitration_id, data) -> DecodedMessage`` is the compiled decoder's bound method
    itself (no wrapper on the hot path); it never raises.
    """

    def __init__(self, config: RVCConfig) -> None:
        self.config = config
        self.decode: Callable[[int, Any], DecodedMessage] = config.decoder.decode

    @property
    def spec(self) -> RVCSpec:
        """The loaded specification."""
        return self.config.spec

    @property
    def spec_path(self) -> Path:
        """The file the specification was read from."""
        return self.config.spec_path

    @property
    def dgn_count(self) -> int:
        """Number of DGNs the specification defines."""
        return len(self.config.spec)

    def definition(self, dgn_or_name: int | str) -> DgnDefinition:
        """A DGN's definition by number, name or hex string.

        Raises:
            UnknownDGNError: no such DGN.
        """
        return self.config.encoder.definition(dgn_or_name)

    def find(self, dgn_or_name: int | str) -> DgnDefinition | None:
        """A DGN's definition, or None."""
        return self.config.spec.get(dgn_or_name)

    def list_dgns(self) -> list[dict[str, Any]]:
        """Every DGN: ``dgn`` (5 hex digits), ``name``, ``signals`` (count), ``kind``."""
        return [
            {
                "dgn": d.key,
                "name": d.name,
                "signals": len(d.all_fields()),
                "kind": d.kind,
                "section": d.section,
            }
            for d in sorted(self.config.spec.by_dgn.values(), key=lambda d: d.dgn)
        ]

    def encode(
        self,
        dgn_or_name: int | str,
        signals: Mapping[str, Any] | None = None,
        *,
        instance: int | None,
        source_address: int,
        priority: int | None = None,
        destination: int | None = None,
    ) -> tuple[int, bytes]:
        """Encode one message (see ``Encoder.encode``); raises a named ``EncodeError``."""
        return self.config.encoder.encode(
            dgn_or_name,
            signals,
            instance=instance,
            source_address=source_address,
            priority=priority,
            destination=destination,
        )

    def encode_frames(
        self,
        dgn_or_name: int | str,
        signals: Mapping[str, Any] | None = None,
        *,
        instance: int | None,
        source_address: int,
        priority: int | None = None,
        destination: int | None = None,
    ) -> list[tuple[int, bytes]]:
        """Encode a message into the frames that carry it (one, or a multi-packet series)."""
        can_id, data = self.encode(
            dgn_or_name,
            signals,
            instance=instance,
            source_address=source_address,
            priority=priority,
            destination=destination,
        )
        return packetize(can_id, data, priority=can_id >> 26)

    def request(
        self,
        dgn_or_name: int | str,
        *,
        source_address: int,
        destination: int = 0xFF,
        instance: int | None = None,
    ) -> tuple[int, bytes]:
        """A REQUEST (EA00) for a DGN, to ``destination`` (255: everyone).

        Raises:
            UnknownDGNError: the requested DGN is not in the specification.
        """
        wanted = self.definition(dgn_or_name)
        request = self.config.spec.get(REQUEST_NAME)
        if request is None:  # pragma: no cover - the shipped spec defines it
            raise UnknownDGNError(REQUEST_NAME)
        return self.encode(
            request.name,
            {"desired_dgn": wanted.dgn},
            instance=instance,
            source_address=source_address,
            destination=destination,
        )

    def new_reassembler(self, **bounds: Any) -> Reassembler:
        """A multi-packet reassembler; the timeout is DATA_PACKET's maximum gap in the spec."""
        if "timeout_s" not in bounds:
            data_packet = self.config.spec.get(DATA_PACKET)
            max_ms = data_packet.broadcast.get("max_ms") if data_packet else None
            bounds["timeout_s"] = max_ms / 1000 if max_ms else DEFAULT_TIMEOUT_S
        return Reassembler(**bounds)

    def decode_reassembled(self, message: ReassembledMessage) -> DecodedMessage:
        """Decode a reassembled multi-packet message as the DGN it carries."""
        return self.decode(message.can_id, message.data)


class RVCFeature(Feature):
    """Feature ``rvc``: loads the specification (``settings.rvc.spec_path``) once at start."""

    def __init__(
        self, name: str, context: FeatureContext, friendly_name: str | None = None
    ) -> None:
        super().__init__(name, context, friendly_name or "RV-C protocol")
        self._service: RVCService | None = None

    @property
    def service(self) -> RVCService:
        """The RVCService; only while the feature runs.

        Raises:
            RuntimeError: the feature has not started.
        """
        if self._service is None:
            raise RuntimeError("the rvc feature is not running")
        return self._service

    async def start(self) -> None:
        """Load and compile the specification (off the event loop); raise SpecError if bad."""
        spec_path = self.settings.rvc.spec_path
        config = await asyncio.to_thread(load_config_data, spec_path)
        self._service = RVCService(config)

    async def stop(self) -> None:
        """Drop the service; safe to call twice."""
        self._service = None

    def check_health(self) -> FeatureHealth:
        """Healthy with the DGN count once the specification is loaded."""
        if self._service is None:
            return FeatureHealth(HealthStatus.UNHEALTHY, "specification not loaded")
        return FeatureHealth(
            HealthStatus.HEALTHY,
            details={
                "dgns": self._service.dgn_count,
                "spec_path": str(self._service.spec_path),
            },
        )
