// The CAN view: interface statistics with a rate chart, and the live sniffer.

import { getJSON } from "./api.js";
import { RateChart } from "./chart.js";
import { ReconnectingSocket } from "./live.js";
import { clock, el, humanize, setChildren, signalsText } from "./util.js";

const MAX_ROWS = 200;

export class CanView {
  constructor() {
    this.ifaces = document.getElementById("can-ifaces");
    this.chart = new RateChart(document.getElementById("rate-chart"), document.getElementById("chart-legend"));
    this.rows = document.getElementById("sniffer-rows");
    this.form = document.getElementById("sniffer-filters");
    this.pauseButton = document.getElementById("sniffer-pause");
    this.stateLabel = document.getElementById("sniffer-state");
    this.paused = false;
    this.missed = 0;
    this.received = 0;
    this.buffer = []; // frames waiting for the next animation frame
    this.statsTimer = null;
    this.visible = false;
    this.newest = 0; // timestamp of the newest frame shown: older live frames are not shown twice
    this.socket = new ReconnectingSocket("/ws/can-sniffer", {
      onMessage: (m) => this.onMessage(m),
      onState: () => this.showState(),
      onOpen: () => this.sendFilter(),
    });
    this.form.addEventListener("input", () => this.filterChanged());
    this.form.addEventListener("submit", (e) => e.preventDefault());
    this.pauseButton.addEventListener("click", () => this.togglePause());
    document.getElementById("sniffer-clear").addEventListener("click", () => {
      this.rows.replaceChildren();
      this.received = 0;
      this.missed = 0;
      this.showState();
    });
  }

  show() {
    this.visible = true;
    this.pollStats();
    // What the sniffer holds first (frames from before the view was opened), then live.
    this.loadBuffer().finally(() => {
      if (this.visible) this.socket.start();
    });
  }

  async loadBuffer() {
    const f = this.filter();
    const query = new URLSearchParams({ limit: String(MAX_ROWS) });
    if (f.dgn) query.set("dgn", f.dgn);
    if (f.source !== null) query.set("source", String(f.source));
    if (f.direction) query.set("direction", f.direction);
    if (f.iface) query.set("interface", f.iface);
    try {
      const answer = await getJSON(`/api/can/sniffer?${query}`, 4000);
      const frames = ((answer && answer.frames) || [])
        .filter((m) => !f.text || String(m.name || "").toLowerCase().includes(f.text));
      this.buffer = [];
      this.rows.replaceChildren(...frames.map(row)); // newest first, as the table shows them
      this.received = frames.length;
      this.newest = frames.length ? frames[0].timestamp : this.newest;
    } catch {
      // the live stream still shows what comes
    }
    this.showState();
  }

  hide() {
    this.visible = false;
    this.socket.stop();
    clearTimeout(this.statsTimer);
  }

  async pollStats() {
    clearTimeout(this.statsTimer);
    if (!this.visible) return;
    try {
      const [stats, interfaces] = await Promise.all([
        getJSON("/api/can/statistics", 3000),
        getJSON("/api/can/interfaces", 3000).catch(() => null),
      ]);
      this.showStats(stats, interfaces);
    } catch {
      setChildren(this.ifaces, el("p", { class: "muted" }, "CAN statistics are not available right now."));
    }
    this.statsTimer = setTimeout(() => this.pollStats(), 1000);
  }

  showStats(stats, interfaces) {
    const list = Array.isArray(interfaces) ? interfaces : (interfaces && interfaces.interfaces) || [];
    const byName = new Map(list.map((i) => [i.channel || i.name, i]));
    const sample = {};
    const cards = [];
    for (const [name, s] of Object.entries(stats.interfaces || {})) {
      const rates = s.rates || {};
      const one = rates["1s"] || {};
      const ten = rates["10s"] || {};
      sample[name] = one.frames_per_second ?? 0;
      const info = byName.get(name) || {};
      const state = info.state || "unknown";
      const dropped = (s.rx_dropped ?? 0) + (s.tx_dropped ?? 0);
      cards.push(el("div", { class: "iface", "data-testid": `iface-${name}` },
        el("div", { class: "row spread" }, el("b", {}, name),
          el("span", { class: state === "up" ? "state-up" : "state-down" }, humanize(state))),
        el("div", {}, `${fmt1(one.frames_per_second)} frames/s · load ${fmt1(ten.bus_load_percent)} %`),
        el("div", { class: "muted" }, `rx ${s.rx ?? 0} · tx ${s.tx ?? 0} · errors ${s.errors ?? 0}`),
        dropped ? el("div", { class: "warn", "data-testid": `dropped-${name}` },
          `Dropped: ${s.rx_dropped ?? 0} received, ${s.tx_dropped ?? 0} to send (queue full)`) : null,
        info.replay ? replayInfo(info.replay) : null,
        info.last_error && state !== "up" ? el("div", { class: "muted" }, info.last_error) : null,
        info.no_activity ? el("div", { class: "state-down" }, "No activity") : null));
    }
    setChildren(this.ifaces, cards);
    if (!this.ifaceOptions || this.ifaceOptions !== Object.keys(sample).join()) {
      this.ifaceOptions = Object.keys(sample).join();
      const select = this.form.elements.interface;
      const current = select.value;
      setChildren(select, el("option", { value: "" }, "All interfaces"),
        Object.keys(sample).map((n) => el("option", { value: n, selected: n === current }, n)));
    }
    this.chart.push(sample);
  }

  filter() {
    const f = this.form.elements;
    const dgn = f.dgn.value.trim().toUpperCase().replace(/^0X/, "");
    const source = f.source.value.trim();
    return {
      dgn: /^[0-9A-F]{1,5}$/.test(dgn) ? dgn : "",
      source: /^\d{1,3}$/.test(source) ? Number(source) : null,
      direction: f.direction.value,
      iface: f.interface.value,
      text: f.text.value.trim().toLowerCase(),
    };
  }

  filterChanged() {
    clearTimeout(this.filterTimer);
    this.filterTimer = setTimeout(() => this.sendFilter(), 250);
  }

  /** The server filters (so a busy bus is not sent for nothing); the page filters by name. */
  sendFilter() {
    const f = this.filter();
    const message = { type: "filter" };
    if (f.dgn) message.dgns = [f.dgn];
    if (f.source !== null) message.sources = [f.source];
    if (f.iface) message.interfaces = [f.iface];
    if (f.direction) message.directions = [f.direction];
    this.socket.send(message);
  }

  togglePause() {
    this.paused = !this.paused;
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    this.pauseButton.textContent = this.paused ? "Resume" : "Pause";
    this.showState();
  }

  onMessage(message) {
    if (message.type === "missed") {
      this.missed += message.count || 0;
      this.showState();
      return;
    }
    if (message.type !== "frame" || this.paused) return;
    if (this.newest && message.timestamp <= this.newest) return; // already loaded from the buffer
    const f = this.filter();
    if (f.text && !String(message.name || "").toLowerCase().includes(f.text)) return;
    this.buffer.push(message);
    if (this.buffer.length > MAX_ROWS) this.buffer.splice(0, this.buffer.length - MAX_ROWS);
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  flush() {
    this.scheduled = false;
    const frames = this.buffer;
    this.buffer = [];
    this.received += frames.length;
    const fragment = document.createDocumentFragment();
    for (let i = frames.length - 1; i >= 0; i -= 1) fragment.append(row(frames[i]));
    this.rows.prepend(fragment);
    while (this.rows.children.length > MAX_ROWS) this.rows.lastElementChild.remove();
    this.showState();
  }

  showState() {
    const parts = [];
    if (this.socket.state === "open") parts.push(this.paused ? "Paused" : "Live");
    else if (this.socket.state === "stopped") parts.push("Stopped");
    else parts.push("Reconnecting…");
    parts.push(`${this.received} frames`);
    if (this.missed) parts.push(`${this.missed} skipped (rate cap)`);
    this.stateLabel.textContent = parts.join(" · ");
  }
}

/** A replayed log's playback: untimed rate, malformed lines, timestamp problems by line. */
function replayInfo(r) {
  const parts = [`Replay: ${r.frames} frames${r.finished && !r.loop ? ", finished" : ""}`];
  if (r.untimed_frames) parts.push(`${r.untimed_frames} without timestamps, at ${r.untimed_rate} frames/s`);
  const problems = r.malformed_lines || r.timestamp_problems;
  return el("div", { "data-testid": "replay-status" },
    el("div", { class: "muted" }, parts.join(" · ")),
    problems ? el("div", { class: "warn" },
      `${r.malformed_lines} lines that are not frames · ${r.timestamp_problems} bad timestamps`) : null,
    r.problems && r.problems.length ? el("ul", { class: "muted small" }, r.problems.slice(-3).map((p) => el("li", {}, p))) : null);
}

function fmt1(value) {
  return typeof value === "number" ? value.toFixed(1) : "0.0";
}

function row(frame) {
  return el("tr", { class: frame.direction === "tx" ? "tx" : "" },
    el("td", { class: "mono" }, clock(frame.timestamp)),
    el("td", {}, frame.direction || ""),
    el("td", {}, frame.interface || ""),
    el("td", { class: "mono" }, frame.dgn || ""),
    el("td", {}, frame.name || "—"),
    el("td", { class: "mono" }, frame.source ?? ""),
    el("td", { class: "mono" }, frame.data || ""),
    el("td", { class: "signals hide-sm" }, signalsText(frame.signals, frame.labels)));
}
