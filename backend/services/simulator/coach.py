"""Which devices the simulated coach has: from the coach mapping (a built-in coach for tests).

Models are chosen by the DGNs an entity names (a light on DC_LOAD_COMMAND is a load; an awning
driven as a pair of dimmer outputs is two dimmers), then by the entity type.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from backend.services.simulator import chassis, climate, lighting, motion, power
from backend.services.simulator.model import DeviceModel, DeviceSpec, World

MODELS: tuple[type[DeviceModel], ...] = (
    lighting.DimmerModel,
    lighting.LoadModel,
    lighting.ACLoadModel,
    power.BatteryModel,
    power.TankModel,
    power.GeneratorModel,
    power.InverterModel,
    power.ChargerModel,
    power.TransferSwitchModel,
    power.SolarModel,
    power.WaterPumpModel,
    power.ClockModel,
    climate.ThermostatModel,
    climate.AirConditionerModel,
    climate.FurnaceModel,
    climate.HeatPumpModel,
    climate.WaterHeaterModel,
    climate.RoofFanModel,
    motion.AwningModel,
    motion.SlideModel,
    motion.StepModel,
    motion.LevelingModel,
    motion.ShadeModel,
    motion.DoorLockModel,
    power.AcPointModel,
    chassis.ChassisModel,
)

# Entity type -> model, for entities whose DGNs do not decide it.
BY_TYPE: dict[str, type[DeviceModel]] = {
    "light": lighting.DimmerModel,
    "dc_load": lighting.LoadModel,
    "ac_load": lighting.ACLoadModel,
    "battery": power.BatteryModel,
    "dc_source": power.BatteryModel,
    "tank": power.TankModel,
    "generator": power.GeneratorModel,
    "inverter": power.InverterModel,
    "charger": power.ChargerModel,
    "transfer_switch": power.TransferSwitchModel,
    "solar_controller": power.SolarModel,
    "solar": power.SolarModel,
    "water_pump": power.WaterPumpModel,
    "date_time": power.ClockModel,
    "datetime": power.ClockModel,
    "lock": motion.DoorLockModel,
    "ac_input": power.AcPointModel,
    "thermostat": climate.ThermostatModel,
    "climate": climate.ThermostatModel,
    "climate_zone": climate.ThermostatModel,
    "air_conditioner": climate.AirConditionerModel,
    "furnace": climate.FurnaceModel,
    "heat_pump": climate.HeatPumpModel,
    "water_heater": climate.WaterHeaterModel,
    "roof_fan": climate.RoofFanModel,
    "awning": motion.AwningModel,
    "slide": motion.SlideModel,
    "step": motion.StepModel,
    "leveling": motion.LevelingModel,
    "window_shade": motion.ShadeModel,
    "shade": motion.ShadeModel,
    "chassis": chassis.ChassisModel,
}


class UnknownDeviceError(LookupError):
    """No model simulates this entity."""


def model_for(spec: DeviceSpec) -> type[DeviceModel]:
    """The model of ``spec``: the first whose DGNs it names, else the one of its type.

    Raises:
        UnknownDeviceError: no model fits.
    """
    named = set(spec.status_dgns) | set(spec.command_dgns or ())
    typed = BY_TYPE.get(spec.type)
    if typed is not None and (
        not named or named & (set(typed.status_dgns) | set(typed.command_dgns))
    ):
        return typed
    if named:
        for model in MODELS:
            if named & (set(model.status_dgns) | set(model.command_dgns)):
                return model
    model = BY_TYPE.get(spec.type)
    if model is None:
        raise UnknownDeviceError(f"no simulated model for {spec.entity_id} (type {spec.type})")
    return model


def _d(entity_id: str, type_: str, instance: int | None, **options: object) -> DeviceSpec:
    return DeviceSpec(entity_id, type_, instance, name=entity_id.replace("_", " "), options=options)


def _light(entity_id: str, instance: int, dimmable: bool = True) -> DeviceSpec:
    return _d(entity_id, "light", instance, dimmable=dimmable)


def default_devices() -> list[DeviceSpec]:
    """A built-in coach for tests (the simulator itself always simulates the mapping)."""
    return [
        _light("light_living_ceiling", 1),
        _light("light_living_accent", 2),
        _light("light_galley_ceiling", 3),
        _light("light_galley_under_cabinet", 4, dimmable=False),
        _light("light_bedroom_ceiling", 5),
        _light("light_bedroom_reading", 6),
        _light("light_bath_vanity", 7),
        _light("light_porch", 8, dimmable=False),
        _light("light_awning_led", 9, dimmable=False),
        _d("load_water_heater_element", "dc_load", 20),
        _d("load_fridge_fan", "dc_load", 21),
        _d("ac_outlet_galley", "ac_load", 1, watts=1500),
        _d("tank_fresh", "tank", 0, capacity_l=300),
        _d("tank_black", "tank", 1, capacity_l=150),
        _d("tank_gray", "tank", 2, capacity_l=200),
        _d("tank_lpg", "tank", 3, capacity_l=80),
        _d("battery_house", "battery", 1),
        _d("battery_chassis", "battery", 2),
        _d("thermostat_front", "thermostat", 1),
        _d("thermostat_rear", "thermostat", 2),
        _d("air_conditioner_front", "air_conditioner", 1),
        _d("air_conditioner_rear", "air_conditioner", 2),
        _d("furnace_front", "furnace", 1),
        _d("heat_pump_front", "heat_pump", 1),
        _d("generator", "generator", None),
        _d("inverter", "inverter", 1),
        _d("charger", "charger", 1),
        _d("transfer_switch", "transfer_switch", 1),
        _d("solar_controller", "solar_controller", 1),
        _d("water_heater", "water_heater", 1),
        _d("water_pump", "water_pump", None),
        _d("awning_patio", "awning", 1),
        _d("slide_living", "slide", 1),
        _d("slide_bedroom", "slide", 2),
        _d("leveling", "leveling", None),
        _d("step_entry", "step", 1),
        _d("shade_living_front", "window_shade", 1),
        _d("shade_bedroom", "window_shade", 2),
        _d("roof_fan_galley", "roof_fan", 1),
        _d("date_time", "date_time", None),
    ]


def build_models(
    specs: Iterable[DeviceSpec], world: World, rng: random.Random
) -> list[DeviceModel]:
    """Instantiate a model per device; devices without a model are skipped (logged by caller)."""
    models = []
    for spec in specs:
        try:
            cls = model_for(spec)
        except UnknownDeviceError:
            continue
        models.append(cls(spec, world, rng))
    return models
