"""The RV-C protocol engine: specification, decoder, encoder, multi-packet transport.

Standard library only. Typical use::

    from backend.integrations.rvc import load_config_data

    rvc = load_config_data()
    message = rvc.decode(0x19FFFD42, "0164020100943577")
    message.signals["dc_voltage"]  # 12.9
"""

from backend.integrations.rvc.decoder import DecodedMessage, Decoder
from backend.integrations.rvc.encoder import Encoder
from backend.integrations.rvc.errors import (
    AddressError,
    EncodeError,
    RVCError,
    SignalValueError,
    SpecError,
    UnknownDGNError,
    UnknownSignalError,
)
from backend.integrations.rvc.frame_id import FrameId, build_can_id, parse_can_id
from backend.integrations.rvc.loader import RVCConfig, clear_config_cache, load_config_data
from backend.integrations.rvc.spec import DEFAULT_SPEC_PATH, DgnDefinition, RVCSpec
from backend.integrations.rvc.transport import ReassembledMessage, Reassembler, packetize


def decode(
    arbitration_id: int,
    data: bytes | bytearray | memoryview | str,
    *,
    config: RVCConfig | None = None,
) -> DecodedMessage:
    """Decode one frame with ``config`` (the default specification when None); never raises."""
    return (config or load_config_data()).decoder.decode(arbitration_id, data)


def encode(
    dgn_or_name: int | str,
    signals: dict | None = None,
    *,
    instance: int | None,
    source_address: int,
    priority: int | None = None,
    destination: int | None = None,
    config: RVCConfig | None = None,
) -> tuple[int, bytes]:
    """Encode one message with ``config`` (the default specification when None).

    See :meth:`Encoder.encode` for the arguments and the errors.
    """
    return (config or load_config_data()).encoder.encode(
        dgn_or_name,
        signals,
        instance=instance,
        source_address=source_address,
        priority=priority,
        destination=destination,
    )


__all__ = [
    "DEFAULT_SPEC_PATH",
    "AddressError",
    "DecodedMessage",
    "Decoder",
    "DgnDefinition",
    "EncodeError",
    "Encoder",
    "FrameId",
    "RVCConfig",
    "RVCError",
    "RVCSpec",
    "ReassembledMessage",
    "Reassembler",
    "SignalValueError",
    "SpecError",
    "UnknownDGNError",
    "UnknownSignalError",
    "build_can_id",
    "clear_config_cache",
    "decode",
    "encode",
    "load_config_data",
    "packetize",
    "parse_can_id",
]
