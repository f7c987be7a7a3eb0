// The setup wizard: find each unmapped device, make it show itself, name it, apply at once.
// Every change goes through /api/mapping (checked by the server's start-up loader, undoable).

import { ApiError, getJSON, postJSON } from "./api.js";
import { age, el, setChildren, signalsText, titleCase, toast } from "./util.js";

const BLINKABLE = new Set(["light", "dc_load", "ac_load"]);
const KIND_LABEL = {
  other: "Other devices",
  unknown: "DGNs the RV-C specification does not define (watch only)",
  dc_load: "DC loads",
  ac_load: "AC loads",
};

export class WizardView {
  constructor() {
    this.root = document.getElementById("wizard-groups");
    this.summary = document.getElementById("wizard-summary");
    this.form = document.getElementById("wizard-form");
    this.diff = document.getElementById("wizard-diff");
    this.timer = null;
    this.watchSince = null; // wall time (s) a "press the switch" watch started
    this.devices = [];
    this.areas = [];
    this.pendingText = null;
    document.getElementById("wizard-undo").addEventListener("click", () => this.undo());
    document.getElementById("wizard-watch").addEventListener("click", () => this.toggleWatch());
    document.getElementById("wizard-import").addEventListener("change", (e) => this.importFile(e));
    document.getElementById("wizard-example-go").addEventListener("click", () => this.previewExample());
    document.getElementById("wizard-apply").addEventListener("click", () => this.applyPending());
    document.getElementById("wizard-cancel").addEventListener("click", () => this.closeDiff());
  }

  show() {
    this.loadSummary();
    this.load();
  }

  hide() {
    clearTimeout(this.timer);
  }

  async loadSummary() {
    try {
      const summary = await getJSON("/api/mapping");
      this.areas = summary.areas || [];
      const versions = summary.versions || [];
      setChildren(this.summary,
        el("div", {}, "Running: ", el("span", { class: "mono" }, summary.path)),
        el("div", { class: "muted" }, "Edits go to ", el("span", { class: "mono" }, summary.target),
          ` · ${summary.entities} entities · ${versions.length} version(s) kept for undo`));
      document.getElementById("wizard-undo").disabled = !versions.length;
      const select = document.getElementById("wizard-example");
      if (!select.options.length) {
        setChildren(select, (summary.examples || []).map((m) => el("option", { value: m }, m)));
      }
      setChildren(document.getElementById("wizard-areas"), this.areas.map((a) => el("option", { value: a.name })));
    } catch (error) {
      setChildren(this.summary, el("div", { class: "muted" }, forbidden(error)));
    }
  }

  async load() {
    clearTimeout(this.timer);
    try {
      this.devices = await getJSON("/api/mapping/devices");
      this.render();
    } catch (error) {
      setChildren(this.root, el("p", { class: "muted" }, forbidden(error)));
    }
    this.timer = setTimeout(() => this.load(), 1500);
  }

  render() {
    if (!this.devices.length) {
      setChildren(this.root, el("p", { class: "muted" }, "Every device on the bus is mapped."));
      return;
    }
    setChildren(this.root, this.devices.map((group) => el("div", { class: "panel wizard-group", dataset: { kind: group.kind } },
      el("h2", {}, KIND_LABEL[group.kind] || `${titleCase(group.kind)}s`),
      el("div", { class: "cards" }, group.devices.map((d) => this.card(d))))));
  }

  card(device) {
    const key = `${device.name}:${device.instance}`;
    const changed = this.watchSince !== null && device.changed_at > this.watchSince;
    const kinds = device.kinds || [];
    const blink = kinds.some((k) => BLINKABLE.has(k.type) && k.commandable && !k.roles.length);
    return el("div", { class: `card wizard-device${changed ? " changed" : ""}`, dataset: { device: key } },
      el("div", { class: "card-head" },
        el("strong", {}, `${device.name} #${device.instance ?? "-"}`),
        el("span", { class: "muted" }, changed ? "changed just now" : `changed ${age(device.changed_at)}`)),
      el("div", { class: "signals mono" }, values(device.signals, device.labels)),
      el("div", { class: "toolbar wrap" },
        blink ? el("button", { class: "btn", type: "button", onclick: () => this.identify(device) }, "Identify") : null,
        kinds.length ? el("button", { class: "btn primary", type: "button", onclick: () => this.openForm(device) }, "Name it") : null));
  }

  async identify(device) {
    try {
      const answer = await postJSON("/api/mapping/identify", { dgn: device.name, instance: device.instance });
      toast(`${device.name} #${device.instance} blinks ${answer.blinks} times, then goes back as it was`);
    } catch (error) {
      toast(error.message, "error");
    }
  }

  toggleWatch() {
    const button = document.getElementById("wizard-watch");
    if (this.watchSince === null) {
      this.watchSince = Date.now() / 1000;
      button.setAttribute("aria-pressed", "true");
      toast("Press the coach's own switch for the device you want to name: it lights up here");
    } else {
      this.watchSince = null;
      button.setAttribute("aria-pressed", "false");
    }
    this.render();
  }

  openForm(device) {
    const kinds = device.kinds || [];
    const dimmers = this.devices.flatMap((g) => g.devices).filter((d) => d.name === device.name && d.instance !== device.instance);
    const type = el("select", { name: "kind", "aria-label": "Type" },
      kinds.map((k, i) => el("option", { value: String(i) }, k.roles.length ? `${k.type} (pair of outputs)` : k.type)));
    const name = el("input", { name: "name", "aria-label": "Name", placeholder: "Porch light", required: true });
    const area = el("input", { name: "area", "aria-label": "Area", list: "wizard-areas", placeholder: "Exterior" });
    const hidden = el("input", { type: "checkbox", name: "hidden" });
    const dimmable = el("input", { type: "checkbox", name: "dimmable" });
    const partner = el("select", { name: "partner", "aria-label": "Other output" },
      dimmers.map((d) => el("option", { value: String(d.instance) }, `#${d.instance}`)));
    const first = el("select", { name: "first", "aria-label": "This output" });
    const pairRow = el("div", { class: "toolbar wrap" }, el("label", {}, "This output is ", first), el("label", {}, " the other one is ", partner));
    const dimRow = el("label", {}, dimmable, " dimmable");
    const sync = () => {
      const kind = kinds[Number(type.value)] || kinds[0];
      pairRow.hidden = !kind.roles.length;
      dimRow.hidden = kind.type !== "light";
      setChildren(first, kind.roles.map((r) => el("option", { value: r }, r)));
    };
    type.addEventListener("change", sync);
    const submit = async (event) => {
      event.preventDefault();
      const kind = kinds[Number(type.value)] || kinds[0];
      const body = { dgn: device.name, type: kind.type, control: kind.control, name: name.value.trim(), area: area.value.trim() || null, hidden: hidden.checked };
      if (kind.roles.length) {
        const [a, b] = first.value === kind.roles[0] ? kind.roles : [...kind.roles].reverse();
        body.instances = { [a]: device.instance, [b]: Number(partner.value) };
      } else {
        body.instance = device.instance;
      }
      if (kind.type === "light") body.capabilities = dimmable.checked ? ["dimmable"] : [];
      try {
        const answer = await postJSON("/api/mapping/entities", body);
        toast(`Added ${answer.entity_id}: on the dashboard now`);
        this.form.hidden = true;
        this.loadSummary();
        this.load();
      } catch (error) {
        toast(problems(error), "error", 8000);
      }
    };
    setChildren(this.form,
      el("form", { class: "panel", onsubmit: submit },
        el("h2", {}, `Name ${device.name} #${device.instance}`),
        el("div", { class: "toolbar wrap" }, type, name, area),
        pairRow, dimRow, el("label", {}, hidden, " hidden"),
        el("div", { class: "toolbar" },
          el("button", { class: "btn primary", type: "submit" }, "Apply"),
          el("button", { class: "btn ghost", type: "button", onclick: () => { this.form.hidden = true; } }, "Cancel"))));
    sync();
    this.form.hidden = false;
    this.form.scrollIntoView({ behavior: "smooth", block: "nearest" });
    name.focus();
  }

  async undo() {
    try {
      const answer = await postJSON("/api/mapping/undo", {});
      toast(`Undone: ${describeChange(answer)}`);
    } catch (error) {
      toast(error.message, "error");
    }
    this.loadSummary();
    this.load();
  }

  async importFile(event) {
    const file = event.target.files && event.target.files[0];
    event.target.value = "";
    if (!file) return;
    this.preview({ text: await file.text() }, `Import ${file.name}`);
  }

  previewExample() {
    const model = document.getElementById("wizard-example").value;
    if (model) this.preview({ example: model }, `Start from ${model}`);
  }

  async preview(body, title) {
    try {
      const result = await postJSON("/api/mapping/preview", body);
      this.pendingText = result.valid ? body : null;
      document.getElementById("wizard-apply").disabled = !result.valid;
      setChildren(document.getElementById("wizard-diff-title"), title);
      setChildren(document.getElementById("wizard-diff-summary"), result.valid
        ? `${result.entities} entities: +${result.added.length} added, -${result.removed.length} removed, ${result.changed.length} changed`
        : "Refused; nothing will be applied:");
      setChildren(document.getElementById("wizard-diff-text"), result.valid ? result.diff || "(no difference)" : result.problems.join("\n"));
      this.diff.hidden = false;
      this.diff.scrollIntoView({ behavior: "smooth", block: "nearest" });
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async applyPending() {
    if (!this.pendingText) return;
    try {
      const answer = await postJSON("/api/mapping/import", this.pendingText);
      toast(`Applied: ${describeChange(answer)}`);
      this.closeDiff();
    } catch (error) {
      toast(problems(error), "error", 8000);
    }
    this.loadSummary();
    this.load();
  }

  closeDiff() {
    this.diff.hidden = true;
    this.pendingText = null;
  }
}

function values(obj, labels) {
  if (!obj || typeof obj !== "object") return "";
  const rest = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== "instance"));
  return signalsText(rest, labels, 4);
}

function describeChange(change) {
  return `+${(change.added || []).length} / -${(change.removed || []).length} entities (${change.entities} now)`;
}

function problems(error) {
  const list = error instanceof ApiError && error.body && Array.isArray(error.body.problems) ? error.body.problems : null;
  return list ? list.slice(0, 3).join("\n") : error.message;
}

function forbidden(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return "The setup wizard is for administrators: sign in with an admin account.";
  }
  return error.message;
}
