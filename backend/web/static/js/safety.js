// Motion safety on the dashboard: the chassis notice, the moving alert, the interlock state and
// a "Stop all" button shown while anything moves (GET /api/safety, POST /api/safety/stop-all).

import { getJSON, postJSON } from "./api.js";
import { toast } from "./util.js";

const POLL_MS = 1000;
const MOTION_TYPES = new Set(["slide", "awning", "leveling", "step", "shade", "window_shade", "roof_fan"]);

export class SafetyBar {
  constructor(store) {
    this.store = store;
    this.safety = null;
    this.timer = null;
    this.notice = document.getElementById("chassis-notice");
    this.alert = document.getElementById("motion-alert");
    this.interlock = document.getElementById("interlock-state");
    this.stopAll = document.getElementById("stop-all");
    this.stopAll.addEventListener("click", () => this.pressStopAll());
    store.subscribe(() => this.render());
    store.subscribeEntity(() => this.render());
  }

  start() {
    this.poll();
  }

  async poll() {
    clearTimeout(this.timer);
    try {
      this.safety = await getJSON("/api/safety", 3000);
    } catch {
      // keep the last answer; the connection badge says the server is away
    }
    this.render();
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  /** A motion alert from the WebSocket: show it at once. */
  onAlert(message) {
    if (!this.safety) this.safety = {};
    this.safety.alert = message.active ? message : null;
    this.render();
  }

  moving() {
    const safety = this.safety || {};
    if ((safety.leases || []).length || (safety.moving_loads || []).length) return true;
    for (const entity of this.store.entities.values()) {
      const motion = (entity.state || {}).motion;
      if (MOTION_TYPES.has(entity.type) && motion && motion !== "stopped") return true;
    }
    return false;
  }

  render() {
    const metadata = this.store.metadata || {};
    const absent = (metadata.chassis || {}).mobility_status === "absent";
    this.notice.hidden = !absent;
    const safety = this.safety || {};
    const alert = safety.alert;
    this.alert.hidden = !alert;
    this.alert.textContent = alert ? alert.message : "";
    const interlock = safety.interlock;
    const showInterlock = Boolean(interlock && !interlock.parked && !absent);
    this.interlock.hidden = !showInterlock;
    this.interlock.textContent = showInterlock ? `Motion locked out: ${interlock.reason}` : "";
    this.stopAll.hidden = !(this.moving() || alert);
  }

  async pressStopAll() {
    try {
      const answer = await postJSON("/api/safety/stop-all", {});
      const failed = (answer.stopped || []).filter((r) => r.status !== "sent");
      toast(failed.length ? `Stop not sent to ${failed.map((r) => r.entity_id).join(", ")}` : `Stop sent to ${answer.count}`,
        failed.length ? "error" : "info");
    } catch (error) {
      toast(`Stop all: ${error.message}`, "error");
    }
    this.poll();
  }
}
