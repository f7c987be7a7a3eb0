"""Fixtures of the RV-C protocol tests: the shipped specification, loaded once."""

from __future__ import annotations

import pytest

from backend.integrations.rvc import RVCConfig, load_config_data


@pytest.fixture(scope="session")
def rvc() -> RVCConfig:
    """The shipped specification with its decoder and encoder."""
    return load_config_data()


def frame(hex_data: str) -> bytes:
    """Bytes from a hex string written as in a log (spaces allowed)."""
    return bytes.fromhex(hex_data)
