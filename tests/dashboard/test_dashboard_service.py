"""DashboardService over fakes of the entity and CAN layers: counts, alerts, feed, bulk."""

from __future__ import annotations

import asyncio

import pytest

from backend.core.config import DashboardSettings
from backend.services.dashboard_service import BulkRequestError, DashboardService
from tests.dashboard.fakes import (
    FakeCANService,
    FakeEntityManager,
    FakeEntityService,
    Rejected,
    coach,
    frame,
)

DM_RV = 0x1FECA


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def parts():
    manager = FakeEntityManager(coach())
    entity_service = FakeEntityService()
    can = FakeCANService()
    clock = Clock()
    service = DashboardService(
        DashboardSettings(activity_size=50),
        entity_manager=manager,
        entity_service=entity_service,
        can_service=can,
        interfaces=["can0", "can1"],
        monotonic=clock,
    )
    await service.start()
    yield service, manager, entity_service, can, clock
    await service.stop()


def alert_ids(service: DashboardService) -> set[str]:
    return {a["alert_id"] for a in service.summary()["alerts"]}


def kinds(service: DashboardService) -> list[str]:
    return [e["kind"] for e in service.activity(limit=1000)]


async def test_summary_counts_by_type_and_area(parts) -> None:
    service, *_ = parts
    summary = service.summary()
    assert summary["entities"] == {"total": 11, "available": 11, "unavailable": 0}
    assert summary["by_type"] == {
        "awning": 1,
        "battery": 1,
        "light": 3,
        "shade": 1,
        "slide": 1,
        "tank": 3,
        "water_pump": 1,
    }
    assert summary["by_area"] == {"bedroom": 5, "galley": 1, "utility": 5}
    assert summary["alerts"] == []


async def test_black_tank_above_80_percent_is_raised_then_cleared(parts) -> None:
    service, manager, *_ = parts
    manager.change("tank.black_water", {"level": 85.0})
    summary = service.summary()
    assert [a["alert_id"] for a in summary["alerts"]] == ["tank_high:tank.black_water"]
    alert = summary["alerts"][0]
    assert alert["message"] == "Black water is 85 % full (above 80 %)"
    assert (alert["value"], alert["threshold"]) == (85.0, 80.0)
    manager.change("tank.black_water", {"level": 80.0})  # at the threshold is not above it
    assert alert_ids(service) == set()
    assert kinds(service)[:2] == ["alert_cleared", "alert_raised"]


async def test_fresh_and_lpg_below_20_percent(parts) -> None:
    service, manager, *_ = parts
    manager.change("tank.fresh_water", {"level": 15.0})
    manager.change("tank.lpg", {"level": 19.9})
    assert alert_ids(service) == {"tank_low:tank.fresh_water", "tank_low:tank.lpg"}
    manager.change("tank.fresh_water", {"level": 20.0})
    assert alert_ids(service) == {"tank_low:tank.lpg"}


async def test_thresholds_come_from_settings() -> None:
    manager = FakeEntityManager(coach())
    service = DashboardService(
        DashboardSettings(black_tank_high=40.0), entity_manager=manager, interfaces=[]
    )
    await service.start()
    try:
        assert alert_ids(service) == {"tank_high:tank.black_water"}  # 50 % > 40 %
    finally:
        await service.stop()


async def test_battery_below_threshold(parts) -> None:
    service, manager, *_ = parts
    manager.change("battery.house", {"state_of_charge": 15.0})
    alerts = service.summary()["alerts"]
    assert [(a["alert_id"], a["severity"]) for a in alerts] == [
        ("battery_low:battery.house", "critical")
    ]
    manager.change("battery.house", {"state_of_charge": None, "voltage": 11.6})
    assert service.summary()["alerts"][0]["message"] == (
        "House battery is at 11.60 V (below 12.0 V)"
    )
    manager.change("battery.house", {"voltage": 12.7})
    assert alert_ids(service) == set()


async def test_unavailable_entity_is_alerted_and_its_return_recorded(parts) -> None:
    service, manager, *_ = parts
    manager.change("light.galley_ceiling", available=False)
    summary = service.summary()
    assert summary["entities"]["unavailable"] == 1
    assert alert_ids(service) == {"unavailable:light.galley_ceiling"}
    manager.change("light.galley_ceiling", available=True)
    assert alert_ids(service) == set()
    feed = service.activity(limit=2)
    assert [(e["kind"], e["message"]) for e in feed] == [
        ("available", "Galley ceiling is reporting again"),
        ("unavailable", "Galley ceiling stopped reporting"),
    ]


async def test_entities_not_yet_reported_are_not_lost_during_start_grace() -> None:
    entities = coach()
    entities[0].available = False
    entities[0].last_updated = 0.0
    clock = Clock()
    manager = FakeEntityManager(entities)
    service = DashboardService(
        DashboardSettings(startup_grace_seconds=30),
        entity_manager=manager,
        interfaces=[],
        monotonic=clock,
    )
    await service.start()
    try:
        assert alert_ids(service) == set()
        clock.now += 31
        service.reconcile()
        assert alert_ids(service) == {"unavailable:light.bedroom_ceiling"}
    finally:
        await service.stop()


async def test_dm_rv_fault_raised_cleared_and_expired(parts) -> None:
    service, _manager, _es, can, clock = parts
    # Red lamp, DSA 64, SPN field 0/1/2 (= SPN 10, Node serial/ID number), FMI 4 (table 7.3).
    fault = {
        "red_lamp_status": "on",
        "yellow_lamp_status": "off",
        "dsa": 64,
        "dtcs": [{"spn": 10, "fmi": 4, "occurrence_count": 2, "dsa_extension": None}],
    }
    can.emit(frame("can0", DM_RV, 64, fault))
    service.reconcile()
    alerts = service.summary()["alerts"]
    assert alerts[0]["alert_id"] == "fault:64:64:10:4"
    assert alerts[0]["severity"] == "critical"
    assert alerts[0]["message"] == (
        "Device at address 64 reports a fault: SPN 10 Node serial/ID number, FMI 4 "
        "Short circuit to low voltage (or complete sensor input failure)"
    )
    off = {"red_lamp_status": "off", "yellow_lamp_status": "off", "dsa": 64, "dtcs": []}
    can.emit(frame("can0", DM_RV, 64, off))
    service.reconcile()
    assert alert_ids(service) & {"fault:64:64:10:4"} == set()
    yellow = {"yellow_lamp_status": "on", "dsa": 65, "dtcs": [{"spn": 300, "fmi": 1}]}
    can.emit(frame("can0", DM_RV, 65, yellow))
    service.reconcile()
    assert "fault:65:65:300:1" in alert_ids(service)
    clock.now += 16  # not repeated within fault_expiry_seconds (15 s)
    service.reconcile()
    assert "fault:65:65:300:1" not in alert_ids(service)
    assert service.diagnostics()["faults"] == []


async def test_interface_with_no_can_activity(parts) -> None:
    service, _manager, _es, can, clock = parts
    can.emit(frame("can0"))
    clock.now += 5
    service.reconcile()
    assert alert_ids(service) == set()
    clock.now += 6  # 11 s since start: can1 never received anything, can0 quiet for 11 s
    service.reconcile()
    assert alert_ids(service) == {"can_inactive:can0", "can_inactive:can1"}
    can.emit(frame("can0"))
    can.emit(frame("can1", direction="tx"))  # our own frames are not activity
    service.reconcile()
    assert alert_ids(service) == {"can_inactive:can1"}
    interfaces = {i["name"]: i for i in service.summary()["interfaces"]}
    assert interfaces["can0"]["rx_frames"] == 2
    assert interfaces["can0"]["active"] is True
    assert interfaces["can1"] == {
        "name": "can1",
        "rx_frames": 0,
        "idle_seconds": None,
        "active": False,
    }


async def test_activity_feed_is_bounded_and_pages_by_id() -> None:
    manager = FakeEntityManager(coach())
    service = DashboardService(
        DashboardSettings(activity_size=5), entity_manager=manager, interfaces=[]
    )
    await service.start()
    try:
        for level in range(30):
            manager.change("tank.black_water", {"level": 90.0 if level % 2 == 0 else 10.0})
        feed = service.activity(limit=100)
        assert len(feed) == 5
        ids = [e["id"] for e in feed]
        assert ids == sorted(ids, reverse=True)
        assert ids[0] == 30
        assert [e["id"] for e in service.activity(limit=100, after=28)] == [30, 29]
        assert len(service.activity(limit=2)) == 2
    finally:
        await service.stop()


async def test_commands_and_results_are_recorded(parts) -> None:
    service, _manager, entity_service, *_ = parts
    entity_service.publish(
        {
            "command_id": "c1",
            "entity_id": "light.galley_ceiling",
            "status": "pending",
            "command": {"command": "set", "state": "on"},
        }
    )
    entity_service.publish(
        {
            "command_id": "c1",
            "entity_id": "light.galley_ceiling",
            "status": "confirmed",
            "command": {"command": "set", "state": "on"},
        }
    )
    entity_service.publish(
        {
            "command_id": "c2",
            "entity_id": "light.galley_ceiling",
            "status": "timed_out",
            "command": "set",
        }
    )
    feed = service.activity(limit=3)
    assert [(e["kind"], e["status"], e["severity"]) for e in feed] == [
        ("command_result", "timed_out", "warning"),
        ("command_result", "confirmed", "info"),
        ("command", "pending", "info"),
    ]
    assert feed[1]["message"] == "Galley ceiling: set (state=on) confirmed"
    assert feed[1]["command_id"] == "c1"


async def test_bulk_by_area_never_includes_motor_loads(parts) -> None:
    service, _manager, entity_service, *_ = parts
    results = await service.bulk("off", area="bedroom")
    by_id = {r["entity_id"]: r for r in results}
    assert by_id["light.bedroom_ceiling"]["status"] == "accepted"
    assert by_id["light.bedroom_ceiling"]["command_id"].startswith("cmd-")
    assert by_id["light.bedroom_reading"]["status"] == "accepted"
    for motor in ("awning.patio", "slide.bedroom", "shade.bedroom_night"):
        assert by_id[motor]["status"] == "skipped"
        assert by_id[motor]["detail"] == "motor loads are never part of a bulk action"
    assert sorted(entity_service.sent) == [
        ("light.bedroom_ceiling", {"command": "set", "state": "off"}),
        ("light.bedroom_reading", {"command": "set", "state": "off"}),
    ]


async def test_bulk_by_type_and_by_ids(parts) -> None:
    service, _manager, entity_service, *_ = parts
    results = await service.bulk("on", entity_type="light")
    assert {r["entity_id"] for r in results} == {
        "light.bedroom_ceiling",
        "light.bedroom_reading",
        "light.galley_ceiling",
    }
    entity_service.sent.clear()
    entity_service.reject["light.galley_ceiling"] = Rejected("not reporting", 409)
    results = await service.bulk(
        "off",
        entity_ids=[
            "light.galley_ceiling",
            "nope.x",
            "slide.bedroom",
            "tank.lpg",
            "water_pump.main",
        ],
    )
    assert [(r["entity_id"], r["status"], r["http_status"]) for r in results] == [
        ("nope.x", "error", 404),
        ("light.galley_ceiling", "error", 409),
        ("slide.bedroom", "skipped", None),
        ("tank.lpg", "skipped", None),
        ("water_pump.main", "accepted", 202),
    ]
    assert entity_service.sent == [("water_pump.main", {"command": "set", "state": "off"})]
    assert kinds(service)[:2] == ["bulk", "command"]  # the pump's command, via the listener


async def test_bulk_rejects_empty_selection_and_unknown_action(parts) -> None:
    service, *_ = parts
    with pytest.raises(BulkRequestError, match="give entity_ids"):
        await service.bulk("off")
    with pytest.raises(BulkRequestError, match="unknown action 'explode'"):
        await service.bulk("explode", entity_type="light")


async def test_stop_unsubscribes_and_is_idempotent(parts) -> None:
    service, manager, entity_service, can, _clock = parts
    await service.stop()
    await service.stop()
    assert manager.listeners == []
    assert entity_service.listeners == []
    assert can.listeners == []
    assert service.health().status == "unhealthy"


async def test_a_cancelled_stop_is_not_swallowed(parts) -> None:
    # A shutdown that is itself cancelled (Ctrl-C twice, a server's shutdown timeout) must end
    # cancelled rather than look like a clean stop.
    service, *_ = parts
    stopper = asyncio.create_task(service.stop())
    await asyncio.sleep(0)  # the stop has cancelled the periodic task and waits for it
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert stopper.cancelled()
    assert service.health().status == "unhealthy"  # the periodic task is gone all the same
