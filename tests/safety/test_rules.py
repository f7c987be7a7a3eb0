"""The pure rules: interlock verdicts, lockouts, leases and the rate limit, from spec values."""

from __future__ import annotations

from backend.safety.acks import nak_code
from backend.safety.chassis import interlock_verdict
from backend.safety.leases import start_lease
from backend.safety.lockouts import blocking, entity_lockouts
from backend.safety.ratelimit import RateLimiter

PARKED = {
    "vehicle_speed": 0.0,
    "park_brake_status": "park_brake_engaged",
    "transmission_current_gear": 251,  # park (table 6.11.2b); the gear is a number
    "ignition_switch_status": "off",
}


def test_interlock_verdicts() -> None:
    assert interlock_verdict(PARKED, 1.0).parked
    assert interlock_verdict({**PARKED, "transmission_current_gear": 125}, 1.0).parked
    moving = interlock_verdict({**PARKED, "vehicle_speed": 23.0}, 0.2)
    assert (moving.parked, moving.reason, moving.moving) == (False, "coach moving at 23 km/h", True)
    released = interlock_verdict({**PARKED, "park_brake_status": "park_brake_released"}, 0.2)
    assert (released.parked, released.reason) == (False, "park brake released")
    gear = interlock_verdict({**PARKED, "transmission_current_gear": 124}, 0.2)
    assert gear.reason == "transmission not in park or neutral"
    assert interlock_verdict({**PARKED, "transmission_current_gear": 128}, 0.2).parked is False
    unknown_brake = interlock_verdict({**PARKED, "park_brake_status": None}, 0.2)
    assert not unknown_brake.parked and "park brake status not reported" in unknown_brake.reason
    # Fail closed: none received, or older than the 5 s maximum gap (+ grace).
    assert "no CHASSIS_MOBILITY_STATUS (1FFF4) received" in interlock_verdict(None, None).reason
    stale = interlock_verdict(PARKED, 6.0, max_gap=5.5)
    assert not stale.parked and "for 6.0 s (maximum gap 5.5 s)" in stale.reason
    assert "mobility_status: absent" in stale.reason
    assert interlock_verdict(None, None, absent=True).parked


def test_slide_and_awning_lockouts() -> None:
    slide = {
        "user_lock_status": "user_lock_is_activated",
        "low_voltage": "slide_shall_not_move_because_of_low_voltage_status",
        "park_brake": "slide_may_move",
    }
    locks = entity_lockouts("slide", {"SLIDE_STATUS": slide})
    assert [lock.reason for lock in locks] == [
        "user lock is activated (user_lock_status)",
        "low voltage (low_voltage)",
    ]
    assert blocking(locks, "retract") == locks  # a device lockout refuses both directions
    awning = {"ignition_key": "awning_will_not_move_because_of_ignition_status"}
    assert [x.reason for x in entity_lockouts("awning", {"AWNING_STATUS": awning})] == [
        "ignition status (ignition_key)"
    ]


def test_awning_status_2_masks_against_the_chassis() -> None:
    # Byte 3 bit 4: extension locked out while the ignition is on; byte 4 bit 1: retract-then-
    # lockout while the park brake is off (6.38.4).
    second = {
        "extension_lockout_based_on_chassis_mobility_status": 0b0001_0000,
        "retract_and_extension_lockout_based_on_chassis_mobility_status": 0b0000_0010,
    }
    statuses = {"AWNING_STATUS_2": second}
    assert entity_lockouts("awning", statuses, chassis=PARKED) == []
    ignition = entity_lockouts(
        "awning", statuses, chassis={**PARKED, "ignition_switch_status": "on"}
    )
    assert [(x.reason, x.directions) for x in ignition] == [
        ("extension locked out: ignition switch on", ("extend",))
    ]
    assert blocking(ignition, "retract") == []
    rolling = {**PARKED, "park_brake_status": "park_brake_released"}
    both = entity_lockouts("awning", statuses, chassis=rolling)
    assert [x.directions for x in both] == [("extend", "retract")]
    # 0xFF: not available, no lockout.
    assert entity_lockouts(
        "awning", {"AWNING_STATUS_2": {"extension_lockout_based_on_chassis_mobility_status": 255}},
        chassis=rolling,
    ) == []  # fmt: skip


def test_confined_space_and_leveling() -> None:
    confined = {"open_space": "rv_is_in_a_confined_space"}
    locks = entity_lockouts("slide", {}, environment=confined)
    assert blocking(locks, "extend") and not blocking(locks, "retract")
    assert entity_lockouts("slide", {}, environment={"open_space": "rv_is_in_an_open_space"}) == []
    busy = {"operating_mode": "automatic_hydraulic_electric_leveling_active"}
    assert "leveling system busy" in entity_lockouts("slide", {}, leveling=busy)[0].reason


def test_lease_lapses_renews_and_caps() -> None:
    lease = start_lease(
        "slide.living", {"command": "extend"}, "c-1",
        now=100.0, hold_timeout=0.4, max_run=20.0, held=True, owner="ws:1",
    )  # fmt: skip
    assert lease.expired(100.39) is None
    assert lease.expired(100.4) == "hold lapsed (not renewed)"
    lease.renew(100.3, 0.4, "ws:2")
    assert lease.expired(100.6) is None and lease.owners == {"ws:1", "ws:2"}
    assert lease.same_command({"command": "extend"}) and not lease.same_command({"command": "stop"})
    lease.deadline = 200.0
    assert lease.expired(120.0) == "maximum run time reached"
    unheld = start_lease(
        "awning.patio", {"command": "extend"}, "c-2",
        now=0.0, hold_timeout=0.4, max_run=5.0, held=False,
    )  # fmt: skip
    assert unheld.expired(4.9) is None and unheld.expired(5.0) == "maximum run time reached"


def test_rate_limit_and_nak_codes() -> None:
    limiter = RateLimiter(rate=20.0, burst=40, max_clients=2)
    assert all(limiter.allow("a", 0.0) for _ in range(40))
    assert not limiter.allow("a", 0.0)
    assert limiter.allow("a", 0.05)  # one token back after 50 ms at 20/s
    assert limiter.allow("b", 0.0) and limiter.allow("c", 0.0)
    assert limiter.evicted == 1 and limiter.refused == 1
    assert nak_code("conditions_do_not_allow_command_to_be_executed") == (
        3,
        "conditions do not allow",
    )
    assert nak_code("command_parameters_are_out_of_range") == (5, "out of range")
    assert nak_code("command_overridden_by_user") == (8, "overridden by user")
    assert nak_code("ack") is None and nak_code(0) is None
    assert nak_code(200) == (200, "rejected (a code this command's DGN defines)")
