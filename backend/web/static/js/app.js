// CoachIQ dashboard entry point: views, routing, theme and the live connection.

import { AlertsView } from "./alerts.js";
import { getJSON, putJSON } from "./api.js";
import { authStatus, showBanner, showLogin, showUser, watchSession } from "./auth.js";
import { CanView } from "./can.js";
import { CoachView } from "./coach.js";
import { DiscoverView } from "./discover.js";
import { EntityStream } from "./live.js";
import { SecurityView } from "./security.js";
import { SafetyBar } from "./safety.js";
import { Store } from "./store.js";
import { setServerDefault, setUnitSystem, unitSystem, useAccount } from "./units.js";
import { WizardView } from "./wizard.js";

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Polling",
  offline: "Offline",
};
const CONNECTION_TITLE = {
  live: "Live updates over WebSocket",
  polling: "WebSocket unavailable: refreshing over HTTP every few seconds",
  offline: "The server does not answer; retrying",
};

function setupTheme() {
  const root = document.documentElement;
  const stored = localStorage.getItem("coachiq-theme");
  const prefersDark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  root.dataset.theme = stored || (prefersDark ? "dark" : "light");
  document.getElementById("theme-toggle").addEventListener("click", () => {
    root.dataset.theme = root.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem("coachiq-theme", root.dataset.theme);
    window.dispatchEvent(new Event("themechange"));
  });
}

function showUnits() {
  const button = document.getElementById("units-toggle");
  const us = unitSystem() === "us";
  button.textContent = us ? "°F" : "°C";
  button.setAttribute("aria-pressed", String(us));
  button.title = us ? "US customary units (°F, gal, psi, mph): switch to metric" : "Metric units (°C, L, kPa, km/h): switch to US";
}

function setupUnits(store) {
  showUnits();
  document.getElementById("units-toggle").addEventListener("click", () => {
    setUnitSystem(unitSystem() === "us" ? "metric" : "us");
    showUnits();
    store.emitAll();
  });
}

const PREFERENCES = "/api/security/me/preferences";

// A logged-in account keeps its units: apply its choice, and save a change to it.
async function loadAccountUnits(status, store) {
  if (status?.principal?.kind !== "user") return;
  try {
    const prefs = await getJSON(PREFERENCES);
    setServerDefault(prefs.default_units);
    useAccount(prefs.units, (system) => {
      putJSON(PREFERENCES, { units: system }).catch((error) => {
        console.warn(`units not saved to the account: ${error.message}`);
      });
    });
  } catch (error) {
    console.warn(`account preferences unavailable: ${error.message}`);
    return;
  }
  showUnits();
  store.emitAll();
}

function showConnection(state) {
  const node = document.getElementById("conn");
  node.dataset.state = state;
  node.querySelector(".conn-text").textContent = CONNECTION_TEXT[state] || state;
  node.title = CONNECTION_TITLE[state] || "Connection to the coach";
  document.body.dataset.connection = state;
}

async function loadMetadata(store) {
  try {
    const metadata = await getJSON("/api/entities/metadata");
    // Types may come as a list of {type, commands, units}; views look them up by name.
    if (Array.isArray(metadata.types)) {
      metadata.types = Object.fromEntries(metadata.types.map((t) => [t.type || t.name, t]));
    }
    setServerDefault(metadata.units_system);
    showUnits();
    store.metadata = metadata;
    store.emitAll();
  } catch {
    setTimeout(() => loadMetadata(store), 5000);
  }
}

async function main() {
  setupTheme();
  const status = await authStatus();
  if (status) {
    showBanner(status);
    if (status.active && !status.principal) {
      showLogin(status);
      return;
    }
    showUser(status);
    watchSession(status);
  }
  const admin = !status || status.principal?.role === "admin";
  for (const node of document.querySelectorAll(".admin-only")) node.hidden = !admin;
  const store = new Store();
  setupUnits(store);
  await loadAccountUnits(status, store);
  const coach = new CoachView(store);
  const alerts = new AlertsView(store, { onSummary: (s) => coach.showGlance(s) });
  const can = new CanView();
  const discover = new DiscoverView();
  const views = { coach: null, alerts: null, can, discover };
  if (admin) {
    views.setup = new WizardView();
    views.security = new SecurityView();
  }

  let current = null;
  const route = () => {
    const name = (location.hash || "#coach").slice(1);
    const view = name in views ? name : "coach";
    if (view === current) return;
    if (current && views[current]) views[current].hide();
    current = view;
    for (const section of document.querySelectorAll(".view")) section.hidden = section.dataset.view !== view;
    for (const tab of document.querySelectorAll(".tab")) {
      if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    if (views[view]) views[view].show();
  };
  window.addEventListener("hashchange", route);
  route();

  const safety = new SafetyBar(store);
  const stream = new EntityStream({
    onMotionAlert: (message) => safety.onAlert(message),
    onSnapshot: (entities) => store.setAll(entities),
    onUpdate: (message) => store.applyUpdate(message),
    onCommandResult: (message) => store.applyCommandResult(message),
    onState: showConnection,
    fetchAll: () => getJSON("/api/entities", 4000).then((d) => (Array.isArray(d) ? d : d.entities || [])),
  });
  showConnection("connecting");
  loadMetadata(store);
  store.socket = stream.socket;
  stream.start();
  alerts.start();
  safety.start();
  window.coachiq = { store, stream, can, safety };
}

main();
