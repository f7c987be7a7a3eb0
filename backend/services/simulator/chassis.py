"""The simulated chassis: CHASSIS_MOBILITY_STATUS (1FFF4, spec 6.11.2) from the world's park
brake, vehicle speed and ignition; set through ``POST /api/simulator/chassis`` or
``coachiq simulate --moving``."""

from __future__ import annotations

from typing import Any

from backend.services.simulator.model import DeviceModel, DeviceSpec, Signals

CHASSIS_ENTITY = "chassis.mobility"
CHASSIS_SOURCE_ADDRESS = 252  # spec 6.11.1: chassis default source address


def chassis_device() -> DeviceSpec:
    """The chassis device every simulated coach has (unless its mapping says it is absent)."""
    return DeviceSpec(
        entity_id=CHASSIS_ENTITY,
        type="chassis",
        instance=None,
        status_dgns=("CHASSIS_MOBILITY_STATUS",),
        command_dgns=(),
        name="Chassis",
        interface="chassis",
        source_address=CHASSIS_SOURCE_ADDRESS,
    )


class ChassisModel(DeviceModel):
    """Park brake, speed, ignition and gear as the chassis reports them."""

    status_dgns = ("CHASSIS_MOBILITY_STATUS",)
    command_dgns = ()
    node_kind = "chassis"
    product = "SimChassis 1"

    def set(self, *, park_brake: str | None = None, speed_kph: float | None = None) -> None:
        """Set the park brake (``set`` / ``released``) and/or the vehicle speed."""
        if park_brake is not None:
            self.world.park_brake_engaged = park_brake == "set"
        if speed_kph is not None:
            self.world.speed_kph = float(speed_kph)
        self.world.ignition_on = self.world.speed_kph > 0 or not self.world.park_brake_engaged

    def state(self) -> dict[str, Any]:
        """The chassis as the simulator API shows it."""
        world = self.world
        return {
            "park_brake": "set" if world.park_brake_engaged else "released",
            "speed_kph": world.speed_kph,
            "ignition": "on" if world.ignition_on else "off",
            "gear": "park" if world.parked else ("forward_1" if world.speed_kph else "neutral"),
        }

    def status(self, dgn: str) -> Signals:
        """CHASSIS_MOBILITY_STATUS."""
        world = self.world
        moving = world.speed_kph > 0
        gear = "park" if world.parked else ("forward_1" if moving else "neutral")
        return {
            "engine_rpms": 1400.0 if moving else (700.0 if world.ignition_on else 0.0),
            "vehicle_speed": world.speed_kph,
            "park_brake_status": (
                "park_brake_engaged" if world.park_brake_engaged else "park_brake_released"
            ),
            "transmission_lock_status": "transmission_is_not_locked",
            "engine_lock_status": "engine_is_free_to_start",
            "ignition_switch_status": "on" if world.ignition_on else "off",
            "accessory_switch_status": "on" if world.ignition_on else "off",
            "transmission_current_gear": gear,
            "transmission_gear_selected": gear,
        }
