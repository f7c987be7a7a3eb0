// Alerts, counts, quick (bulk) actions and the activity feed, from /api/dashboard.

import { getJSON, postJSON } from "./api.js";
import { clock, el, setChildren, titleCase, toast } from "./util.js";

const MAX_ACTIVITY_SHOWN = 100;

export class AlertsView {
  constructor(store, { onSummary } = {}) {
    this.store = store;
    this.onSummary = onSummary || (() => {});
    this.alertList = document.getElementById("alert-list");
    this.activityList = document.getElementById("activity-list");
    this.counts = document.getElementById("summary-counts");
    this.bulk = document.getElementById("bulk-actions");
    this.bulkHeading = document.getElementById("bulk-heading");
    this.bulkResult = document.getElementById("bulk-result");
    this.badge = document.getElementById("alert-badge");
    this.mqtt = document.getElementById("mqtt-status");
    this.activity = [];
    this.lastId = null;
    this.timer = null;
    this.areasKey = "";
  }

  start() {
    this.tick();
  }

  async tick() {
    clearTimeout(this.timer);
    try {
      const [summary, activity, features] = await Promise.all([
        getJSON("/api/dashboard/summary", 4000),
        getJSON(`/api/dashboard/activity?limit=50${this.lastId !== null ? `&after=${this.lastId}` : ""}`, 4000),
        getJSON("/api/features", 4000).catch(() => null),
      ]);
      this.showSummary(summary);
      this.showMqtt(features);
      if (this.startedAt !== undefined && activity.started_at !== this.startedAt) {
        // The server restarted: its feed starts again from 1.
        this.activity = [];
        this.lastId = null;
        this.startedAt = activity.started_at;
        this.timer = setTimeout(() => this.tick(), 0);
        return;
      }
      this.startedAt = activity.started_at;
      this.addActivity(activity.entries || []);
    } catch (error) {
      if (error.status === 503) {
        setChildren(this.alertList, el("li", { class: "empty" }, "The dashboard service is not running."));
      }
    }
    this.timer = setTimeout(() => this.tick(), document.hidden ? 10000 : 3000);
  }

  showSummary(summary) {
    this.onSummary(summary);
    const alerts = summary.alerts || [];
    this.badge.hidden = alerts.length === 0;
    this.badge.textContent = String(alerts.length);
    setChildren(this.alertList, alerts.length
      ? alerts.map((a) => el("li", { class: a.severity, "data-testid": `alert-${a.alert_id}` },
        el("span", { class: "sev" }, a.severity), el("span", {}, a.message)))
      : el("li", { class: "none" }, "✓ All clear"));
    const e = summary.entities || {};
    setChildren(this.counts,
      count(e.total, "entities"), count(e.available, "reporting"), count(e.unavailable, "not reporting"));
    // One unbreakable item per type, so "2 ac load" never splits across lines.
    const types = Object.entries(summary.by_type || {}).map(([t, n]) => el("span", {}, `${n} ${titleCase(t).toLowerCase()}`));
    this.counts.append(el("p", { class: "types", style: "grid-column: 1 / -1" }, ...types));
    const areas = Object.keys(summary.by_area || {});
    const key = `${areas.join("|")}:${this.store.entities.size}`;
    if (key !== this.areasKey) {
      this.areasKey = key;
      this.renderBulk(areas);
    }
  }

  // The MQTT bridge's line: off, connected (broker, queue, drops) or why it is not connected.
  showMqtt(features) {
    const mqtt = (features?.features || []).find((f) => f.name === "mqtt");
    if (!mqtt) {
      this.mqtt.textContent = "MQTT bridge: status unavailable.";
      return;
    }
    if (mqtt.state !== "running") {
      this.mqtt.dataset.state = mqtt.state;
      this.mqtt.textContent = mqtt.state === "disabled"
        ? "MQTT bridge: off (COACHIQ_MQTT__ENABLED=true turns it on)."
        : `MQTT bridge: ${mqtt.state}${mqtt.reason ? ` (${mqtt.reason})` : ""}.`;
      return;
    }
    const d = mqtt.health?.details || {};
    this.mqtt.dataset.state = d.state || "unknown";
    const counts = `queue ${d.queue ?? 0}/${d.queue_size ?? "?"}, ${d.published ?? 0} published, ${d.dropped ?? 0} dropped`;
    this.mqtt.textContent = d.state === "connected"
      ? `MQTT bridge: connected to ${d.broker} as ${d.status_topic} (${counts}).`
      : `MQTT bridge: ${d.state || "not connected"}. ${mqtt.health?.reason || ""} (${counts}).`;
  }

  renderBulk(areas) {
    const button = (label, body, cls = "btn") =>
      el("button", { class: cls, type: "button", onclick: () => this.runBulk(label, body) }, label);
    // Quick actions only for what the coach has: no lights, no "All lights" buttons.
    const lights = [...this.store.entities.values()].some((e) => e.type === "light" && !e.hidden);
    this.bulk.hidden = !lights;
    if (this.bulkHeading) this.bulkHeading.hidden = !lights;
    if (!lights) {
      setChildren(this.bulk);
      return;
    }
    setChildren(this.bulk,
      button("All lights off", { action: "off", type: "light" }),
      button("All lights on", { action: "on", type: "light" }, "btn ghost"),
      areas.filter((a) => this.hasLights(a)).map((a) => button(`${titleCase(a)} off`, { action: "off", type: "light", area: a }, "btn ghost")));
  }

  hasLights(area) {
    for (const entity of this.store.entities.values()) if (entity.area === area && entity.type === "light") return true;
    return false;
  }

  async runBulk(label, body) {
    this.bulkResult.textContent = `${label}…`;
    try {
      const answer = await postJSON("/api/dashboard/bulk", body);
      const results = answer.results || [];
      const ok = results.filter((r) => r.status === "accepted").length;
      const failed = results.filter((r) => r.status === "error");
      this.bulkResult.textContent = `${label}: ${ok} sent${failed.length ? `, ${failed.length} failed (${failed.map((f) => f.entity_id).join(", ")})` : ""}.`;
      this.tick();
    } catch (error) {
      this.bulkResult.textContent = "";
      toast(`${label}: ${error.message}`, "error");
    }
  }

  addActivity(entries) {
    if (!entries.length && this.activity.length) return;
    for (const entry of entries) if (this.lastId === null || entry.id > this.lastId) this.lastId = entry.id;
    this.activity = [...entries, ...this.activity].slice(0, MAX_ACTIVITY_SHOWN);
    setChildren(this.activityList, this.activity.length
      ? this.activity.map((a) => el("li", {}, el("time", {}, clock(a.timestamp)), el("span", { class: a.severity }, a.message)))
      : el("li", { class: "empty" }, "Nothing yet."));
  }
}

function count(value, label) {
  return el("div", { class: "count" }, el("b", {}, value ?? 0), el("span", {}, label));
}
