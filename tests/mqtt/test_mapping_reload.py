"""A mapping reloaded in place (the setup wizard, undo, import, POST /api/mapping/reload):
Home Assistant discovery follows at once, without a restart."""

from __future__ import annotations

import pytest

from backend.core.coach_mapping import DEFAULT_MAPPING_PATH
from backend.core.mapping_edit import remove_entity
from tests.mqtt.conftest import coach_app, wait_until, watching
from tests.mqtt.test_lifecycle import configs

pytestmark = pytest.mark.mqtt


async def test_entity_removed_by_a_reload_leaves_discovery(broker, prefix, tmp_path):
    host, port = broker
    ha = f"{prefix}-ha"
    owner = tmp_path / "coach.yml"
    owner.write_text(DEFAULT_MAPPING_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    rvc = {"coach_mapping_path": owner}
    async with (
        watching(host, port, f"{ha}/device/+/config", f"{prefix}/testcoach/light.porch/state")
        as watch,
        coach_app(port, prefix, rvc=rvc) as (http, bridge),
    ):  # fmt: skip
        await wait_until(
            lambda: isinstance(configs(watch, ha).get("testcoach_light_porch"), dict),
            what="porch announced",
        )
        announced = bridge.stats["announcements"]
        owner.write_text(remove_entity(owner.read_text("utf-8"), "light.porch"), encoding="utf-8")
        answer = await http.post("/api/mapping/reload")
        assert answer.status_code == 200 and answer.json()["removed"] == ["light.porch"]
        await wait_until(
            lambda: configs(watch, ha).get("testcoach_light_porch") == "", what="porch removed"
        )
        assert bridge.stats["announcements"] > announced
        await watch.wait_for(f"{prefix}/testcoach/light.porch/state", lambda v: v == "")


async def test_renamed_entity_is_announced_again_with_its_new_name_and_area(broker, prefix):
    host, port = broker
    ha = f"{prefix}-ha"
    async with (
        watching(host, port, f"{ha}/device/+/config") as watch,
        coach_app(port, prefix) as (http, _),
    ):
        await wait_until(
            lambda: isinstance(configs(watch, ha).get("testcoach_light_porch"), dict),
            what="porch announced",
        )
        answer = await http.patch(
            "/api/entities/light.porch", json={"name": "Front door light", "area": "galley"}
        )
        assert answer.status_code == 200, answer.text
        area_name = answer.json()["area_name"]

        def renamed() -> bool:
            config = configs(watch, ha).get("testcoach_light_porch")
            return isinstance(config, dict) and config["dev"]["name"] == "Front door light"

        await wait_until(renamed, what="porch announced with its new name")
        device = configs(watch, ha)["testcoach_light_porch"]["dev"]  # type: ignore[index]
        assert device["sa"] == area_name
