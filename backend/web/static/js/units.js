// Display units: the API gives SI values (the metadata names each unit); the dashboard shows
// metric or US customary, chosen per browser (localStorage), by default the server's
// COACHIQ_UNITS__SYSTEM (the metadata's units_system).

const STORAGE_KEY = "coachiq-units";
const LITRES_PER_GALLON = 3.785411784;
const KPA_PER_PSI = 6.894757293168361;
const KM_PER_MILE = 1.609344;

// SI unit -> [US unit, SI value -> US value, US value -> SI value]
const US = {
  "°C": ["°F", (c) => c * 9 / 5 + 32, (f) => (f - 32) * 5 / 9],
  // a temperature difference (a thermostat's dead band): no offset
  K: ["°F", (k) => k * 9 / 5, (f) => f * 5 / 9],
  L: ["gal", (l) => l / LITRES_PER_GALLON, (g) => g * LITRES_PER_GALLON],
  "L/h": ["gal/h", (l) => l / LITRES_PER_GALLON, (g) => g * LITRES_PER_GALLON],
  kPa: ["psi", (k) => k / KPA_PER_PSI, (p) => p * KPA_PER_PSI],
  "km/h": ["mph", (k) => k / KM_PER_MILE, (m) => m * KM_PER_MILE],
};

let serverDefault = "metric";
const listeners = new Set();

/** The server's default (from the metadata), used while this browser has no choice stored. */
export function setServerDefault(system) {
  if (system === "metric" || system === "us") serverDefault = system;
}

/** "metric" or "us": this browser's choice, else the server's default. */
export function unitSystem() {
  const stored = localStorage.getItem(STORAGE_KEY);
  return stored === "metric" || stored === "us" ? stored : serverDefault;
}

/** Store this browser's choice and tell the views. */
export function setUnitSystem(system) {
  localStorage.setItem(STORAGE_KEY, system);
  for (const fn of listeners) fn(system);
}

/** Call fn(system) when the choice changes. */
export function onUnitSystemChange(fn) {
  listeners.add(fn);
}

/** The unit a value in SI unit ``unit`` is shown in under ``system``. */
export function displayUnit(unit, system = unitSystem()) {
  return system === "us" && US[unit] ? US[unit][0] : unit;
}

/** An SI value shown under ``system``: {value, unit}. */
export function toDisplay(value, unit, system = unitSystem()) {
  if (typeof value !== "number" || system !== "us" || !US[unit]) return { value, unit };
  return { value: US[unit][1](value), unit: US[unit][0] };
}

/** A value the user entered in the display unit of SI ``unit``, back in SI. */
export function fromDisplay(value, unit, system = unitSystem()) {
  if (typeof value !== "number" || system !== "us" || !US[unit]) return value;
  return US[unit][2](value);
}
