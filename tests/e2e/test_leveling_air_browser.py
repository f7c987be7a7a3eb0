"""An air leveling system's card in headless Chromium: the air bags that LEVELING_AIR_STATUS
(1FFE9, table 6.13.11b) reports low are named, and the line goes when every bag is OK again."""

from __future__ import annotations

from pathlib import Path

import can
import pytest

from tests.e2e.conftest import dashboard_page
from tests.safety.conftest import air_leveling_mapping, live_coach

pytestmark = pytest.mark.e2e


def _air_status(payload: str) -> can.Message:
    # priority 3, DGN 1FFE9, from the leveling controller at 52h
    return can.Message(arbitration_id=0x0DFFE952, data=bytes.fromhex(payload), is_extended_id=True)


async def test_the_card_names_the_air_bags_with_low_pressure(
    chromium_path: str, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    mapping = air_leveling_mapping(tmp_path)
    async with (
        live_coach(simulator=False, rvc={"coach_mapping_path": str(mapping)}) as live,
        dashboard_page(chromium_path, live.ws_base.replace("ws://", "http://")) as page,
    ):
        # byte 0 = 11h: left rear (bits 0-1) and right rear (bits 4-5) at 01b "Low air pressure
        # detected"; byte 2 = FDh: system air pressure (bits 0-1) low
        live.bus.send(_air_status("11 F0 FD FF FF FF FF FF"))
        low = page.get_by_test_id("low-air-leveling.air")
        await expect(low).to_have_text(
            "Low air pressure: Left rear, Right rear, System", timeout=10_000
        )
        # every bag and the system back at 00b "Pressure OK"
        live.bus.send(_air_status("00 F0 FC FF FF FF FF FF"))
        await expect(low).to_have_count(0, timeout=10_000)
