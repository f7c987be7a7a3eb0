"""Loading the specification (and optionally a coach mapping) once per process."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.integrations.rvc.decoder import DecodedMessage, Decoder
from backend.integrations.rvc.encoder import Encoder
from backend.integrations.rvc.spec import DEFAULT_SPEC_PATH, RVCSpec, read_mapping, read_spec


@dataclass(frozen=True, slots=True)
class RVCConfig:
    """A loaded specification with its compiled decoder and encoder, and the coach mapping."""

    spec: RVCSpec
    decoder: Decoder
    encoder: Encoder
    mapping: dict[str, Any] | None
    spec_path: Path
    mapping_path: Path | None

    def decode(
        self, arbitration_id: int, data: bytes | bytearray | memoryview | str
    ) -> DecodedMessage:
        """Decode one frame (see :meth:`Decoder.decode`); never raises."""
        return self.decoder.decode(arbitration_id, data)


@functools.cache
def load_config_data(
    spec_path: str | Path | None = None, mapping_path: str | Path | None = None
) -> RVCConfig:
    """Load and compile the RV-C specification, once per distinct pair of paths.

    Args:
        spec_path: the specification JSON; ``config/rvc.json`` of the repository when None
            (found relative to this package, so any working directory works).
        mapping_path: an optional coach mapping (JSON, or YAML when PyYAML is installed).

    Raises:
        SpecError: a file is missing, unreadable or not valid.
    """
    spec_file = Path(spec_path) if spec_path is not None else DEFAULT_SPEC_PATH
    spec = read_spec(spec_file)
    mapping_file = Path(mapping_path) if mapping_path is not None else None
    mapping = read_mapping(mapping_file) if mapping_file is not None else None
    return RVCConfig(spec, Decoder(spec), Encoder(spec), mapping, spec_file, mapping_file)


def clear_config_cache() -> None:
    """Forget every loaded specification (the next load reads the files again)."""
    load_config_data.cache_clear()
