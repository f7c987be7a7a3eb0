"""Availability after the broadcast gap, changes only, history, unmapped/unknown bounds, restore."""

from __future__ import annotations

from backend.core.coach_mapping import CoachMapping
from backend.core.entity_manager import EntityChange, EntityManager
from tests.entities.conftest import Clock, Feed


def test_lookup_is_by_dgn_and_instance(manager: EntityManager) -> None:
    assert manager.lookup(0x1FEDA, 2).entity_id == "light.galley_ceiling"  # type: ignore[union-attr]
    assert manager.lookup(0x1FFB7, 3).entity_id == "tank.lpg"  # type: ignore[union-attr]
    assert manager.lookup(0x1FFDC, None).entity_id == "generator.main"  # type: ignore[union-attr]
    assert manager.lookup(0x1FEDA, 99) is None


def test_unavailable_after_the_max_broadcast_gap(
    manager: EntityManager, feed: Feed, clock: Clock
) -> None:
    changes: list[EntityChange] = []
    manager.add_change_listener(changes.append)
    feed(0x19FFB748, "00 03 04 1F 01 7C 01 FF")  # TANK_STATUS: max gap 5000 ms
    tank = manager.get_entity("tank.fresh_water")
    assert tank is not None and tank.available
    clock.now += 5.4  # within 5 s + 0.5 s grace
    assert manager.check_availability() == []
    clock.now += 0.2
    assert manager.check_availability() == ["tank.fresh_water"]
    assert not tank.available
    assert changes[-1].available is False
    feed(0x19FFB748, "00 03 04 1F 01 7C 01 FF")  # same values: available again
    assert tank.available
    assert changes[-1].available is True and changes[-1].state["level"] == 75.0


def test_floor_for_dgns_without_a_gap(manager: EntityManager, feed: Feed, clock: Clock) -> None:
    feed(0x19FEDA83, "01 FF 50 FC FF 00 FF FF")  # DC_DIMMER_STATUS_3: on change, no max gap
    clock.now += 59
    assert manager.check_availability() == []
    clock.now += 2
    assert manager.check_availability() == ["light.living_ceiling"]


def test_only_changes_move_on(manager: EntityManager, feed: Feed) -> None:
    changes: list[EntityChange] = []
    unsubscribe = manager.add_change_listener(changes.append)
    for _ in range(3):
        feed(0x19FEDA83, "01 FF 50 FC FF 00 FF FF")
    feed(0x19FEDA83, "01 FF 64 FC FF 00 FF FF")
    assert [c.state["brightness"] for c in changes] == [40.0, 50.0]
    assert changes[0].entity_type == "light" and changes[0].area == "living"
    unsubscribe()
    feed(0x19FEDA83, "01 FF 00 FC FF 03 FF FF")
    assert len(changes) == 2
    assert [h["state"]["brightness"] for h in manager.history("light.living_ceiling")] == [
        40.0,
        50.0,
        0.0,
    ]


def test_history_is_bounded_by_count_and_age(rvc, default_mapping: CoachMapping) -> None:
    wall = [1_000_000.0]
    manager = EntityManager(default_mapping, history_count=5, wall_clock=lambda: wall[0])
    for level in range(1, 21):
        wall[0] += 1
        manager.ingest(rvc.decode(0x19FEDA83, bytes([1, 0xFF, level, 0xFC, 0xFF, 0, 0xFF, 0xFF])))
    rows = manager.history("light.living_ceiling")
    assert [r["state"]["brightness"] for r in rows] == [8.0, 8.5, 9.0, 9.5, 10.0]
    assert len(manager.history("light.living_ceiling", limit=2)) == 2
    assert (
        manager.history("light.living_ceiling", since=wall[0] - 1.5)[0]["state"]["brightness"]
        == 9.5
    )
    manager.history_max_age = 2.5
    assert len(manager.history("light.living_ceiling")) == 3


def test_unmapped_and_unknown_are_tracked_and_bounded(rvc, default_mapping: CoachMapping) -> None:
    manager = EntityManager(default_mapping, unmapped_limit=3, unknown_dgn_limit=2)
    for instance in range(100, 105):  # DC_DIMMER_STATUS_3 instances nobody claims
        manager.ingest(
            rvc.decode(0x19FEDA83, bytes([instance, 0xFF, 0x50, 0xFC, 0xFF, 0, 0xFF, 0xFF]))
        )
    manager.ingest(rvc.decode(0x19FEDA83, bytes([104, 0xFF, 0x64, 0xFC, 0xFF, 0, 0xFF, 0xFF])))
    unmapped = manager.unmapped()
    assert [u["instance"] for u in unmapped] == [102, 103, 104]
    assert unmapped[-1]["name"] == "DC_DIMMER_STATUS_3"
    assert unmapped[-1]["count"] == 2
    assert unmapped[-1]["source"] == 0x83
    assert unmapped[-1]["signals"]["operating_status_brightness"] == 50.0
    assert manager.stats["unmapped_dropped"] == 2
    for dgn in (0x1FD00, 0x1FD01, 0x1FD02):  # not in the specification
        manager.ingest(rvc.decode(0x18000000 | dgn << 8 | 0x44, bytes.fromhex("0102030405060708")))
    unknown = manager.unknown_dgns()
    assert [u["dgn"] for u in unknown] == ["1FD01", "1FD02"]
    assert unknown[0]["sources"] == [0x44] and unknown[0]["last_data"] == "0102030405060708"
    assert manager.stats["unknown_dropped"] == 1
    # network DGNs (address claim, requests) are not "unmapped devices"
    manager.ingest(rvc.decode(0x18EEFF44, bytes(8)))
    assert len(manager.unmapped()) == 3


def test_dgns_the_server_reads_itself_are_not_unmapped(rvc, default_mapping: CoachMapping) -> None:
    # CHASSIS_MOBILITY_STATUS feeds the motion interlock; it is not a device waiting for a name.
    chassis = rvc.decode(0x19FFF4C8, bytes([0, 0, 0, 0, 0xFD, 0xFF, 0xFF, 0xFF]))
    plain = EntityManager(default_mapping)
    plain.ingest(chassis)
    assert [u["name"] for u in plain.unmapped()] == ["CHASSIS_MOBILITY_STATUS"]
    manager = EntityManager(default_mapping, consumed_dgns=(0x1FFF4,))
    manager.ingest(chassis)
    assert manager.unmapped() == []


def test_restore_state_until_the_bus_speaks(manager: EntityManager, feed: Feed) -> None:
    changes: list[EntityChange] = []
    manager.add_change_listener(changes.append)
    assert manager.restore_state("tank.gray_water", {"level": 50.0}, 1234.0)
    tank = manager.get_entity("tank.gray_water")
    assert tank is not None
    assert (tank.restored, tank.available, tank.state) == (True, False, {"level": 50.0})
    assert changes[-1].restored is True
    feed(0x19FFB748, "02 01 04 FF FF FF FF FF")
    assert (tank.restored, tank.available, tank.state["level"]) == (False, True, 25.0)
    assert not manager.restore_state("tank.gray_water", {"level": 1.0}, 1.0)


def test_override(manager: EntityManager) -> None:
    entity = manager.apply_override("light.porch", name="Door light", area="entry", hidden=True)
    assert (entity.name, entity.area, entity.hidden) == ("Door light", "entry", True)
    assert "light.porch" not in [e.entity_id for e in manager.filter()]
    assert [e.entity_id for e in manager.filter(area="entry", include_hidden=True)] == [
        "light.porch"
    ]
