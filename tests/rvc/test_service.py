"""RVCService and the rvc feature: start loads the spec from the settings, stop is idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from backend.integrations.rvc import SpecError, UnknownDGNError
from backend.services.feature_base import FeatureContext, HealthStatus
from backend.services.rvc_service import RVCFeature, RVCService
from tests.factories import make_settings
from tests.rvc.test_loader import TINY_SPEC


def _feature(**rvc: Any) -> RVCFeature:
    settings = make_settings(rvc=rvc) if rvc else make_settings()
    context = FeatureContext(settings, cast(Any, None), cast(Any, None))
    return RVCFeature("rvc", context)


async def test_start_exposes_the_service() -> None:
    feature = _feature()
    with pytest.raises(RuntimeError):
        _ = feature.service
    assert feature.check_health().status is HealthStatus.UNHEALTHY
    await feature.start()
    service = feature.service
    assert isinstance(service, RVCService)
    assert service.dgn_count >= 349
    health = feature.check_health()
    assert health.status is HealthStatus.HEALTHY
    assert health.details["dgns"] == service.dgn_count
    message = service.decode(0x19FFFD42, "0164020100943577")
    assert message.signals["dc_voltage"] == 12.9
    await feature.stop()
    await feature.stop()
    with pytest.raises(RuntimeError):
        _ = feature.service


async def test_spec_path_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY_SPEC))
    feature = _feature(spec_path=str(path))
    await feature.start()
    assert feature.service.dgn_count == 1
    assert feature.service.spec_path == path


async def test_bad_spec_fails_the_start(tmp_path: Path) -> None:
    feature = _feature(spec_path=str(tmp_path / "missing.json"))
    with pytest.raises(SpecError):
        await feature.start()


async def test_service_helpers() -> None:
    feature = _feature()
    await feature.start()
    service = feature.service
    assert service.definition("TANK_STATUS").dgn == 0x1FFB7
    assert service.find("NOPE") is None
    with pytest.raises(UnknownDGNError):
        service.definition("NOPE")
    rows = service.list_dgns()
    assert {"dgn": "1FFFD", "name": "DC_SOURCE_STATUS_1"}.items() <= next(
        r for r in rows if r["dgn"] == "1FFFD"
    ).items()
    assert service.request("PRODUCT_ID", source_address=0x80, destination=0x42) == (
        0x18EA4280,
        bytes.fromhex("EBFE00FFFFFFFFFF"),
    )
    frames = service.encode_frames(
        "PRODUCT_ID", {"data": "ACME*QX-125*A4323443*"}, instance=None, source_address=0x42
    )
    assert [cid for cid, _ in frames] == [0x18ECFF42, 0x18EBFF42, 0x18EBFF42, 0x18EBFF42]
    reassembler = service.new_reassembler()
    assert reassembler.timeout_s == 0.5  # DATA_PACKET maximum broadcast gap
    done = [reassembler.feed(cid, data, i * 0.05) for i, (cid, data) in enumerate(frames)][-1]
    assert done is not None
    assert service.decode_reassembled(done).signals["model"] == "QX-125"
