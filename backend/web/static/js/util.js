// Small DOM and formatting helpers shared by the views.

/** Create an element: el("div", {class: "x", onclick: fn}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace the children of a node. */
export function setChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** A value with a number inside ({value, unit} objects included), or null. */
export function num(value) {
  if (value === null || value === undefined || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "object" && "value" in value) return num(value.value);
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) {
    return Number(value);
  }
  return null;
}

/** The first numeric field among keys of obj. */
export function pick(obj, ...keys) {
  if (!obj) return null;
  for (const key of keys) {
    const value = num(obj[key]);
    if (value !== null) return value;
  }
  return null;
}

/** Format a number with a fixed count of decimals, or an em dash. */
export function fmt(value, decimals = 0) {
  const n = num(value);
  return n === null ? "—" : n.toFixed(decimals);
}

/** "Galley ceiling" from "light.galley_ceiling" when no name is given. */
export function titleCase(text) {
  return String(text || "")
    .replace(/^[a-z_]+\./, "")
    .replace(/_/g, " ")
    .replace(/\b\w/g, (c) => c.toUpperCase());
}

// Words shown in capitals or spelled out when a key or a value becomes a label.
const WORDS = { ac: "AC", dc: "DC", lpg: "LPG", ats: "ATS", rpm: "rpm", soc: "SoC", id: "ID",
  passthru: "pass-through", max: "maximum", pct: "%", kpa: "kPa", h: "h", l: "L" };
const KEY_LABELS = { percent_of_max: "Of maximum", run_time_h: "Run time", volume_l: "Volume",
  capacity_l: "Capacity", pressure_kpa: "Pressure", time_remaining_min: "Time remaining",
  state_of_charge: "Charge", datetime: "Date and time" };

/** A human label for a state key or a decoded value: "ac_passthru" -> "AC pass-through". */
export function humanize(text) {
  const raw = String(text ?? "");
  if (KEY_LABELS[raw]) return KEY_LABELS[raw];
  const words = raw.replace(/^[a-z_]+\./, "").split(/[_\s]+/).filter(Boolean)
    .map((w) => WORDS[w.toLowerCase()] ?? w.toLowerCase());
  if (!words.length) return "";
  const first = words[0];
  words[0] = first === first.toLowerCase() ? first.charAt(0).toUpperCase() + first.slice(1) : first;
  return words.join(" ");
}

/** A coach date and time ("2026-12-04T14:59:00", the coach's local time) as people read it. */
export function dateTimeText(iso) {
  if (typeof iso !== "string") return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString([], { weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** hh:mm:ss of a timestamp in seconds (or an ISO string). */
export function clock(ts) {
  const date = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour12: false });
}

/** "5 s ago" style age of a timestamp. */
export function age(ts) {
  const then = typeof ts === "number" ? ts * 1000 : Date.parse(ts);
  if (!Number.isFinite(then)) return "";
  const seconds = Math.max(0, Math.round((Date.now() - then) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** Show a short message at the bottom of the screen. */
export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(node);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => node.remove(), ms);
}

// Signals as "name=value" pairs; a number the spec names shows its name too: instance=0 (fresh_water).
export function signalsText(signals, labels, limit = 6) {
  if (!signals || typeof signals !== "object") return "";
  const names = labels && typeof labels === "object" ? labels : {};
  return Object.entries(signals)
    .filter(([k, v]) => (v !== null || names[k]) && typeof v !== "object")
    .slice(0, limit)
    .map(([k, v]) => (names[k] ? (v === null ? `${k}=${names[k]}` : `${k}=${v} (${names[k]})`) : `${k}=${v}`))
    .join(" ");
}
