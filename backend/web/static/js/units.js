// Display units: the API gives SI values (the metadata names each unit); the dashboard shows
// metric or US customary. The logged-in account's choice (/api/security/me/preferences) wins;
// without an account (authentication off, or the account has not chosen) the browser's choice
// (localStorage), else the server's COACHIQ_UNITS__SYSTEM (the metadata's units_system).

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
let accountChoice = null;
let saveToAccount = null;
const listeners = new Set();
const valid = (system) => system === "metric" || system === "us";

/** The server's default (from the metadata), used while this browser has no choice stored. */
export function setServerDefault(system) {
  if (valid(system)) serverDefault = system;
}

/**
 * A logged-in account: its stored choice (null when none) wins over the browser's, and
 * ``save(system)`` stores a change in the account.
 */
export function useAccount(choice, save) {
  accountChoice = valid(choice) ? choice : null;
  saveToAccount = save;
  for (const fn of listeners) fn(unitSystem());
}

/** "metric" or "us": the account's choice, else this browser's, else the server's default. */
export function unitSystem() {
  if (accountChoice) return accountChoice;
  const stored = localStorage.getItem(STORAGE_KEY);
  return valid(stored) ? stored : serverDefault;
}

/** Store the choice (in the account when logged in, else in this browser) and tell the views. */
export function setUnitSystem(system) {
  if (!valid(system)) return;
  if (saveToAccount) {
    accountChoice = system;
    saveToAccount(system);
  } else {
    localStorage.setItem(STORAGE_KEY, system);
  }
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
