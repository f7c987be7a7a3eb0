// The coach view: every entity by area, with live state and controls.

import { renderBody, subtitle } from "./controls.js";
import { el, humanize, setChildren, titleCase, toast } from "./util.js";

export class CoachView {
  constructor(store) {
    this.store = store;
    this.root = document.getElementById("coach-areas");
    this.glance = document.getElementById("coach-glance");
    this.search = document.getElementById("coach-search");
    this.typeSelect = document.getElementById("coach-type");
    this.cards = new Map();
    this.search.addEventListener("input", () => this.applyFilter());
    this.typeSelect.addEventListener("change", () => this.applyFilter());
    store.subscribe(() => this.render());
    store.subscribeEntity((id) => this.updateCard(id));
  }

  areaName(id) {
    const areas = this.store.metadata && this.store.metadata.areas;
    if (Array.isArray(areas)) {
      const found = areas.find((a) => (typeof a === "string" ? a === id : a.id === id));
      if (found && typeof found === "object" && found.name) return found.name;
    } else if (areas && typeof areas === "object" && areas[id]) {
      return typeof areas[id] === "string" ? areas[id] : areas[id].name || titleCase(id);
    }
    return id ? titleCase(id) : "Other";
  }

  areaOrder() {
    const areas = this.store.metadata && this.store.metadata.areas;
    if (Array.isArray(areas)) return areas.map((a) => (typeof a === "string" ? a : a.id));
    return [];
  }

  render() {
    const entities = [...this.store.entities.values()].filter((e) => !e.hidden);
    if (!entities.length) {
      const coach = (this.store.metadata && this.store.metadata.coach) || {};
      if (coach.unmapped_reason) {
        setChildren(this.root, el("div", { class: "notice", "data-testid": "no-mapping" },
          el("h2", {}, "No coach mapping yet"),
          el("p", {}, "This server reads a real bus but no coach mapping is configured, so no device is shown as part of your coach. Every device heard on the bus is listed as unmapped."),
          el("p", {}, el("a", { class: "btn", href: "#discover" }, "Find your devices in Discover"),
            " then copy the snippets into a mapping file and set COACHIQ_RVC__COACH_MAPPING_PATH.")));
        return;
      }
      setChildren(this.root, el("p", { class: "empty" }, "No entities yet. Is the coach mapping loaded?"));
      return;
    }
    const types = [...new Set(entities.map((e) => e.type).filter(Boolean))].sort();
    const current = this.typeSelect.value;
    setChildren(this.typeSelect, el("option", { value: "" }, "All types"),
      types.map((t) => el("option", { value: t, selected: t === current }, humanize(t))));
    const byArea = new Map();
    for (const entity of entities) {
      const area = entity.area || "";
      if (!byArea.has(area)) byArea.set(area, []);
      byArea.get(area).push(entity);
    }
    const order = this.areaOrder();
    const areas = [...byArea.keys()].sort((a, b) => {
      const ia = order.indexOf(a);
      const ib = order.indexOf(b);
      if (ia !== ib) return (ia === -1 ? 999 : ia) - (ib === -1 ? 999 : ib);
      return a.localeCompare(b);
    });
    this.cards.clear();
    const sections = areas.map((area) => {
      const list = byArea.get(area).sort((a, b) => typeRank(a) - typeRank(b) || String(a.name).localeCompare(String(b.name)));
      const cards = list.map((entity) => this.card(entity));
      return el("section", { class: "area", dataset: { area } },
        el("div", { class: "area-head" }, el("h2", {}, this.areaName(area)), el("span", { class: "muted small" }, `${list.length}`)),
        el("div", { class: "cards" }, cards));
    });
    setChildren(this.root, sections);
    this.applyFilter();
  }

  card(entity) {
    const node = el("article", { class: "card", dataset: { entityId: entity.entity_id, type: entity.type || "" }, "data-testid": `entity-${entity.entity_id}` });
    this.cards.set(entity.entity_id, node);
    this.fill(node, entity);
    return node;
  }

  fill(node, entity) {
    const pending = this.store.pending.get(entity.entity_id);
    const isPending = Boolean(pending && pending.status === "pending");
    const state = entity.state || {};
    node.classList.toggle("is-on", state.state === "on" || state.enabled === true && entity.type !== "charger");
    node.classList.toggle("unavailable", entity.available === false);
    node.classList.toggle("pending", isPending);
    node.setAttribute("aria-busy", isPending ? "true" : "false");
    const send = (payload, label) => {
      this.store.command(entity.entity_id, payload, label).catch((error) => toast(`${entity.name || entity.entity_id}: ${error.message}`, "error"));
    };
    send.renew = (payload) => this.store.renew(entity.entity_id, payload);
    const status = el("div", {
      class: `card-status ${pending ? pending.status : ""}`,
      "data-testid": `status-${entity.entity_id}`,
      role: "status",
    }, pending ? pending.detail : "");
    setChildren(node,
      el("div", { class: "card-head" },
        el("div", {}, el("div", { class: "card-title" }, entity.name || titleCase(entity.entity_id)),
          el("div", { class: "card-sub" }, subtitle(entity)))),
      renderBody(entity, this.store.metadata, send, isPending),
      status);
  }

  updateCard(id) {
    const node = this.cards.get(id);
    const entity = this.store.entities.get(id);
    if (!node || !entity) return;
    // Do not rebuild a control the user is touching (a slider being dragged, an open select).
    const active = document.activeElement;
    if (active && node.contains(active) && (active.type === "range" || active.tagName === "SELECT") && !this.store.pending.has(id)) {
      node.dataset.stale = "1";
      active.addEventListener("blur", () => this.updateCard(id), { once: true });
      return;
    }
    delete node.dataset.stale;
    this.fill(node, entity);
  }

  applyFilter() {
    const text = this.search.value.trim().toLowerCase();
    const type = this.typeSelect.value;
    for (const section of this.root.querySelectorAll("section.area")) {
      let visible = 0;
      for (const card of section.querySelectorAll(".card")) {
        const entity = this.store.entities.get(card.dataset.entityId) || {};
        const haystack = `${entity.name} ${entity.entity_id} ${entity.type} ${this.areaName(entity.area)}`.toLowerCase();
        const show = (!type || entity.type === type) && (!text || haystack.includes(text));
        card.hidden = !show;
        if (show) visible += 1;
      }
      section.hidden = visible === 0;
    }
  }

  /** The chips at the top: entity counts and alerts, from the dashboard summary. */
  showGlance(summary) {
    if (!summary) return;
    const chips = [];
    const counts = summary.alert_counts || {};
    const alerts = (summary.alerts || []).length;
    chips.push(el("a", { class: `chip ${counts.critical ? "crit" : alerts ? "warn" : "ok"}`, href: "#alerts" },
      alerts ? `${alerts} alert${alerts === 1 ? "" : "s"}` : "No alerts"));
    const e = summary.entities || {};
    chips.push(el("span", { class: "chip" }, `${e.available ?? 0}/${e.total ?? 0} reporting`));
    for (const iface of summary.interfaces || []) {
      chips.push(el("span", { class: `chip ${iface.active ? "" : "warn"}` }, `${iface.name} ${iface.active ? "active" : "quiet"}`));
    }
    setChildren(this.glance, chips);
  }
}

const RANK = ["light", "thermostat", "air_conditioner", "furnace", "heat_pump", "tank", "battery", "generator", "inverter", "charger"];
function typeRank(entity) {
  const index = RANK.indexOf(entity.type);
  return index === -1 ? RANK.length : index;
}
