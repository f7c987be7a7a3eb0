// The discover view: unmapped instances and unknown DGNs, to help write a coach mapping.

import { getJSON } from "./api.js";
import { age, el, setChildren, signalsText } from "./util.js";

export class DiscoverView {
  constructor() {
    this.unmapped = document.getElementById("unmapped-rows");
    this.unknown = document.getElementById("unknown-rows");
    this.snippet = document.getElementById("snippet");
    document.getElementById("discover-refresh").addEventListener("click", () => this.load());
    this.timer = null;
  }

  show() {
    this.load();
  }

  hide() {
    clearTimeout(this.timer);
  }

  async load() {
    clearTimeout(this.timer);
    const [unmapped, unknown] = await Promise.all([
      getJSON("/api/entities/unmapped").catch((e) => ({ error: e.message })),
      getJSON("/api/entities/unknown-dgns").catch((e) => ({ error: e.message })),
    ]);
    this.showUnmapped(unmapped);
    this.showUnknown(unknown);
    this.timer = setTimeout(() => this.load(), 5000);
  }

  showUnmapped(data) {
    const list = listOf(data, "unmapped");
    if (data && data.error) return setChildren(this.unmapped, emptyRow(7, data.error));
    if (!list.length) return setChildren(this.unmapped, emptyRow(7, "Every instance on the bus is mapped."));
    setChildren(this.unmapped, list.map((item) => el("tr", {},
      el("td", { class: "mono" }, item.dgn ?? ""),
      el("td", {}, item.name || item.dgn_name || "—"),
      el("td", {}, item.instance ?? "—"),
      el("td", { class: "mono" }, item.source ?? (item.sources || []).join(", ")),
      el("td", {}, item.count ?? ""),
      el("td", { class: "signals" }, signalsText(item.last_values || item.signals || item.last_signals, item.labels, 5)),
      el("td", {}, el("button", { class: "btn ghost", type: "button", onclick: () => this.showSnippet(item) }, "Snippet")))));
  }

  showUnknown(data) {
    const list = listOf(data, "unknown_dgns", "unknown");
    if (data && data.error) return setChildren(this.unknown, emptyRow(4, data.error));
    if (!list.length) return setChildren(this.unknown, emptyRow(4, "No unknown DGNs seen."));
    setChildren(this.unknown, list.map((item) => el("tr", {},
      el("td", { class: "mono" }, item.dgn ?? ""),
      el("td", {}, item.count ?? ""),
      el("td", { class: "mono" }, Array.isArray(item.sources) ? item.sources.join(", ") : item.source ?? ""),
      el("td", { class: "mono" }, item.last_data || item.data || "", item.last_seen ? el("span", { class: "muted" }, ` ${age(item.last_seen)}`) : null))));
  }

  showSnippet(item) {
    const name = String(item.name || item.dgn_name || "device").toLowerCase();
    const id = `${name.replace(/_status.*$/, "").replace(/[^a-z0-9]+/g, "_")}_${item.instance ?? 0}`;
    this.snippet.hidden = false;
    this.snippet.textContent = [
      "# Add to the entities list of your coach mapping, then set type, name and area:",
      `- entity_id: TYPE.${id}`,
      `  name: ${(item.name || "Device")} ${item.instance ?? ""}`.trimEnd(),
      "  area: AREA",
      "  type: TYPE",
      `  instance: ${item.instance ?? "null"}`,
      item.source !== undefined ? `  source_address: ${item.source}` : null,
      `  status: [${item.name || item.dgn}]`,
    ].filter(Boolean).join("\n");
    this.snippet.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
}

function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (!data || typeof data !== "object") return [];
  for (const key of [...keys, "items", "entries"]) if (Array.isArray(data[key])) return data[key];
  return [];
}

function emptyRow(span, text) {
  return el("tr", {}, el("td", { colspan: span, class: "muted" }, text));
}
