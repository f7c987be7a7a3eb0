// Entity cards: live state and the controls each type of device offers.

import { displayUnit, fromDisplay, toDisplay } from "./units.js";
import { dateTimeText, el, fmt, humanize, pick } from "./util.js";

const MOTOR_TYPES = new Set(["awning", "slide", "step", "shade", "window_shade"]);
const SWITCH_TYPES = new Set(["light", "dc_load", "ac_load", "water_pump"]);
const CLIMATE_TYPES = new Set(["thermostat", "air_conditioner", "furnace", "heat_pump", "water_heater"]);
// set_setpoint argument -> the state key that reports it, and the label
const SETPOINTS = [["heat", "setpoint_heat", "Heat to"], ["cool", "setpoint_cool", "Cool to"], ["temperature", "setpoint", "Set to"]];
const HIDDEN_KEYS = new Set(["last_command", "flags"]);

/** The commands an entity accepts: its own list, else the metadata of its type. */
export function commandsOf(entity, metadata) {
  const own = entity.commands || (entity.capabilities && entity.capabilities.commands);
  const type = metadata && metadata.types && metadata.types[entity.type];
  const specs = type && (type.commands || []);
  const names = Array.isArray(own) ? own.map((c) => (typeof c === "string" ? c : c.command || c.name)) : null;
  const byName = new Map();
  for (const spec of Array.isArray(specs) ? specs : []) {
    const name = spec.command || spec.name;
    if (!names || names.includes(name)) byName.set(name, spec);
  }
  if (names) for (const name of names) if (!byName.has(name)) byName.set(name, { command: name, args: [] });
  return byName;
}

function argSpec(commands, command, argName) {
  const spec = commands.get(command);
  return spec && (spec.args || []).find((a) => a.name === argName);
}

/** The SI unit of a state key (as the API gives it): the entity's own, else its type's. */
export function siUnitOf(entity, key, metadata, fallback = "") {
  const units = (metadata && metadata.types && metadata.types[entity.type] && metadata.types[entity.type].units) || {};
  return (entity.units && entity.units[key]) || units[key] || fallback;
}

/** The unit a state key is shown in: its SI unit, or the US one when the browser chose US. */
export function unitOf(entity, key, metadata, fallback = "") {
  return displayUnit(siUnitOf(entity, key, metadata, fallback));
}

/** A state value in the unit it is shown in (converted from SI when the browser chose US). */
export function displayValue(entity, metadata, key, value, fallback = "") {
  return toDisplay(value, siUnitOf(entity, key, metadata, fallback)).value;
}

/** A state value as shown: a number with its unit (from the metadata), a label in words. */
export function valueText(entity, metadata, key, value, decimals) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    const shown = toDisplay(value, siUnitOf(entity, key, metadata));
    const unit = shown.unit;
    const converted = shown.value !== value;
    const text = fmt(shown.value, decimals ?? (Number.isInteger(value) && !converted ? 0 : 1));
    return unit ? `${text} ${unit}` : text;
  }
  if (key === "datetime") return dateTimeText(value);
  if (Array.isArray(value)) return value.length ? value.map(humanize).join(", ") : "none";
  if (typeof value === "object") return null;
  return humanize(value);
}

function switchControl(entity, checked, label, onChange, disabled) {
  const input = el("input", {
    type: "checkbox",
    role: "switch",
    "aria-label": `${label}: on/off`,
    "data-testid": `switch-${entity.entity_id}`,
    onchange: (event) => onChange(event.target.checked, event),
  });
  input.checked = checked;
  input.disabled = Boolean(disabled);
  return el("label", { class: "switch" }, input, el("span", { class: "track" }));
}

function gauge(percent, level = "") {
  const value = Math.max(0, Math.min(100, Number(percent) || 0));
  return el("div", { class: `gauge ${level}`, role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": value },
    el("span", { style: `width:${value}%` }));
}

function kv(pairs) {
  const list = el("dl", { class: "kv" });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "" || value === "—") continue;
    list.append(el("dt", {}, label), el("dd", {}, value));
  }
  return list.children.length ? list : null;
}

function stepper(label, value, unit, { min, max, step = 0.5, onSet, testid }) {
  const output = el("output", { "data-testid": testid }, value === null ? "—" : `${fmt(value, 1)}${unit}`);
  const send = (delta) => {
    const base = value === null ? (min ?? 20) : value;
    let next = Math.round((base + delta) / step) * step;
    if (min !== undefined && min !== null) next = Math.max(min, next);
    if (max !== undefined && max !== null) next = Math.min(max, next);
    onSet(Number(next.toFixed(2)));
  };
  return el("div", { class: "row spread" },
    el("span", { class: "muted small" }, label),
    el("span", { class: "stepper" },
      el("button", { class: "btn", type: "button", "aria-label": `${label} down`, "data-testid": `${testid}-down`, onclick: () => send(-step) }, "−"),
      output,
      el("button", { class: "btn", type: "button", "aria-label": `${label} up`, "data-testid": `${testid}-up`, onclick: () => send(step) }, "+")));
}

function selectControl(label, value, choices, onSet, testid) {
  const select = el("select", { "aria-label": label, "data-testid": testid, onchange: (e) => onSet(e.target.value) });
  const options = choices.includes(value) || value === null || value === undefined ? choices : [value, ...choices];
  for (const choice of options) {
    const option = el("option", { value: choice }, humanize(choice));
    if (choice === value) option.selected = true;
    select.append(option);
  }
  return el("div", { class: "row spread" }, el("span", { class: "muted small" }, label), select);
}

/** Build the body of a card for an entity; ``send(payload, label)`` issues a command. */
export function renderBody(entity, metadata, send, pending) {
  const state = entity.state || {};
  const type = entity.type;
  const commands = commandsOf(entity, metadata);
  const disabled = entity.available === false && !MOTOR_TYPES.has(type) && type !== "leveling";
  const parts = [];

  if (SWITCH_TYPES.has(type) || (commands.has("set") && typeof state.state === "string" && ["on", "off"].includes(state.state))) {
    const isOn = state.state === "on";
    // Controls follow the entity's capabilities (a light's type allows brightness; not every light has it).
    const dimmable = type === "light" && (Array.isArray(entity.capabilities)
      ? entity.capabilities.includes("dimmable") : hasCap(entity, "dimmable") || Boolean(argSpec(commands, "set", "brightness")));
    const head = el("div", { class: "row spread" },
      el("span", { class: "big" }, dimmable && isOn ? fmt(state.brightness) : isOn ? "On" : "Off",
        dimmable && isOn ? el("span", { class: "unit" }, unitOf(entity, "brightness", metadata, "%")) : null),
      switchControl(entity, isOn, entity.name || entity.entity_id, (on) =>
        send({ command: "set", state: on ? "on" : "off" }, on ? "Turning on" : "Turning off"), disabled || pending));
    parts.push(head);
    if (dimmable) {
      const range = el("input", {
        type: "range", min: 0, max: 100, step: 1, value: pick(state, "brightness") ?? 0,
        "aria-label": `${entity.name} brightness`, "data-testid": `brightness-${entity.entity_id}`,
        disabled: disabled || pending,
        onchange: (e) => send({ command: "set", state: "on", brightness: Number(e.target.value) }, `Dimming to ${e.target.value} %`),
      });
      parts.push(range);
    }
    const extra = kv([["Current", valueText(entity, metadata, "current", pick(state, "current"), 1)],
      ["Pressure", valueText(entity, metadata, "pressure_kpa", pick(state, "pressure_kpa"), 1)],
      ["Running", typeof state.running === "boolean" ? (state.running ? "yes" : "no") : null]]);
    if (extra) parts.push(extra);
  } else if (type === "tank") {
    const level = pick(state, "level");
    const kind = (entity.attributes && entity.attributes.kind) || "";
    const alarm = (kind === "black" || kind === "gray") ? level !== null && level > 80 : (kind === "fresh" || kind === "lpg") && level !== null && level < 20;
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, fmt(level), el("span", { class: "unit" }, unitOf(entity, "level", metadata, "%"))),
      el("span", { class: "muted small" }, [valueText(entity, metadata, "volume_l", pick(state, "volume_l"), 0),
        pick(state, "capacity_l") !== null ? `of ${valueText(entity, metadata, "capacity_l", state.capacity_l, 0)}` : null].filter(Boolean).join(" "))));
    parts.push(gauge(level, alarm ? "warn" : ""));
  } else if (type === "battery" || type === "dc_source") {
    const soc = pick(state, "state_of_charge");
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, fmt(state.voltage, 2), el("span", { class: "unit" }, unitOf(entity, "voltage", metadata, "V"))),
      el("span", { class: "muted small" }, humanize(state.status || ""))));
    if (soc !== null) parts.push(gauge(soc, soc < 20 ? "crit" : soc < 40 ? "warn" : ""));
    const remaining = pick(state, "time_remaining_min");
    parts.push(kv([["Charge", valueText(entity, metadata, "state_of_charge", soc, 0)],
      ["Current", valueText(entity, metadata, "current", pick(state, "current"), 1)],
      ["Temperature", valueText(entity, metadata, "temperature", pick(state, "temperature"), 1)],
      [state.time_remaining_kind === "time_to_full" ? "Full in" : "Empty in",
        remaining !== null && remaining < 65000 ? durationText(remaining) : null]]));
  } else if (CLIMATE_TYPES.has(type)) {
    parts.push(...climate(entity, state, commands, send, disabled || pending, metadata));
  } else if (type === "generator") {
    const running = ["running", "run", "on", "cranking", "priming", "preheat"].includes(String(state.status || "").toLowerCase());
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, humanize(state.status || "—")),
      el("span", { class: "row" },
        commands.has("start") ? el("button", { class: "btn primary", type: "button", disabled: disabled || pending || running, "data-testid": `start-${entity.entity_id}`, onclick: () => send({ command: "start" }, "Starting") }, "Start") : null,
        commands.has("stop") ? el("button", { class: "btn danger", type: "button", disabled: pending || !running, "data-testid": `stop-${entity.entity_id}`, onclick: () => send({ command: "stop" }, "Stopping") }, "Stop") : null)));
    parts.push(kv([["Run time", valueText(entity, metadata, "run_time_h", pick(state, "run_time_h"), 1)],
      ["Load", valueText(entity, metadata, "load", pick(state, "load"), 0)],
      ["Start battery", valueText(entity, metadata, "start_battery_voltage", pick(state, "start_battery_voltage"), 2)]]));
  } else if (MOTOR_TYPES.has(type)) {
    parts.push(...motor(entity, state, commands, send, metadata));
  } else if (type === "leveling") {
    parts.push(...leveling(entity, state, commands, send));
  } else if ((type === "inverter" || type === "charger") && (commands.has("enable") || commands.has("disable"))) {
    const enabled = state.enabled === true;
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, humanize(state.status || state.state || (enabled ? "enabled" : "disabled"))),
      switchControl(entity, enabled, entity.name, (on) => send({ command: on ? "enable" : "disable" }, on ? "Enabling" : "Disabling"), disabled || pending)));
    parts.push(genericKv(entity, ["status", "state", "enabled"], metadata));
  } else if (type === "lock" && (commands.has("lock") || commands.has("unlock"))) {
    const locked = state.state === "locked";
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, humanize(state.state || "—")),
      el("button", { class: "btn", type: "button", disabled: disabled || pending, onclick: () => send({ command: locked ? "unlock" : "lock" }, locked ? "Unlocking" : "Locking") }, locked ? "Unlock" : "Lock")));
  } else if (type === "datetime" && state.datetime) {
    parts.push(el("div", { class: "big clock", "data-testid": `clock-${entity.entity_id}` }, dateTimeText(state.datetime)));
    parts.push(genericKv(entity, ["datetime", "day_of_week"], metadata, true));
  } else {
    parts.push(genericKv(entity, [], metadata));
  }
  return parts.filter(Boolean);
}

function hasCap(entity, name) {
  const caps = entity.capabilities;
  if (Array.isArray(caps)) return caps.includes(name);
  return Boolean(caps && typeof caps === "object" && caps[name]);
}

function genericKv(entity, skip, metadata, quiet = false) {
  const state = entity.state || {};
  const pairs = [];
  for (const [key, value] of Object.entries(state)) {
    if (skip.includes(key) || HIDDEN_KEYS.has(key)) continue;
    if (key.endsWith("_name") && Object.hasOwn(state, key.slice(0, -5))) continue;
    // A number the spec may name (the transfer switch's source 0 = "primary"): its name, else #n.
    const named = Object.hasOwn(state, `${key}_name`);
    const shown = named && value !== null && value !== undefined
      ? (state[`${key}_name`] ? `${humanize(state[`${key}_name`])} (${value})` : `#${value}`)
      : valueText(entity, metadata, key, value);
    if (shown === null) continue;
    pairs.push([humanize(key), shown]);
    if (pairs.length >= 6) break;
  }
  return kv(pairs) || (quiet ? null : el("p", { class: "muted small" }, "No data yet"));
}

/** Minutes as "2 h 5 min". */
function durationText(minutes) {
  const m = Math.round(minutes);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}

function climate(entity, state, commands, send, disabled, metadata) {
  const parts = [];
  const ambient = pick(state, "ambient_temperature", "water_temperature");
  const output = pick(state, "output_level");
  let big;
  const ambientKey = state.ambient_temperature !== undefined && state.ambient_temperature !== null ? "ambient_temperature" : "water_temperature";
  if (ambient !== null) big = [fmt(displayValue(entity, metadata, ambientKey, ambient, "°C"), 1), el("span", { class: "unit" }, unitOf(entity, ambientKey, metadata, "°C"))];
  else if (output !== null) big = [fmt(output), el("span", { class: "unit" }, `${unitOf(entity, "output_level", metadata, "%")} output`)];
  else big = [humanize(state.mode || "—")];
  parts.push(el("div", { class: "row spread" }, el("span", { class: "big" }, big),
    el("span", { class: "muted small" }, state.heat_source ? humanize(state.heat_source) : "")));
  const modeCommand = commands.has("set_mode") ? "set_mode" : argSpec(commands, "set", "mode") ? "set" : null;
  const modeArg = modeCommand && argSpec(commands, modeCommand, "mode");
  if (modeArg && modeArg.choices && !disabled) {
    parts.push(selectControl("Mode", state.mode, modeArg.choices, (mode) => send({ command: modeCommand, mode }, `Mode ${mode}`), `mode-${entity.entity_id}`));
  }
  const fanArg = commands.has("set_fan") && (argSpec(commands, "set_fan", "fan_mode") || argSpec(commands, "set_fan", "mode"));
  if (fanArg && fanArg.choices && !disabled) {
    parts.push(selectControl("Fan", state.fan_mode, fanArg.choices, (v) => send({ command: "set_fan", [fanArg.name]: v }, `Fan ${v}`), `fan-${entity.entity_id}`));
  }
  if (commands.has("set_setpoint")) {
    for (const [argName, key, label] of SETPOINTS) {
      const spec = argSpec(commands, "set_setpoint", argName);
      if (!spec) continue;
      // Shown and stepped in the display unit (whole °F, half °C); sent in SI (°C).
      const si = siUnitOf(entity, key, metadata, spec.unit || "°C");
      const unit = displayUnit(si);
      const shown = (v) => (v === null || v === undefined ? v : toDisplay(v, si).value);
      parts.push(stepper(label, shown(pick(state, key)), ` ${unit}`, {
        min: shown(spec.minimum), max: shown(spec.maximum), step: unit === si ? 0.5 : 1, testid: `${key}-${entity.entity_id}`,
        onSet: (value) => !disabled && send({ command: "set_setpoint", [spec.name]: Number(fromDisplay(value, si).toFixed(2)) }, `${label} ${fmt(value, 1)} ${unit}`),
      }));
    }
  }
  const fanSpeed = valueText(entity, metadata, "fan_speed", pick(state, "fan_speed"), 0);
  const extras = kv([["Fan", state.fan_mode ? `${humanize(state.fan_mode)}${fanSpeed ? ` · ${fanSpeed}` : ""}` : null],
    ["Fan speed", !state.fan_mode ? fanSpeed : null],
    ["Output", ambient !== null || output === null ? valueText(entity, metadata, "output_level", output, 0) : null]]);
  if (extras) parts.push(extras);
  return parts;
}

const RENEW_MS = 150; // well inside the server's 400 ms hold timeout
const HOLDS = new Map(); // entity_id -> {command, body, send, renewer}: the motion a finger holds

function startHold(id, body, send) {
  const previous = HOLDS.get(id);
  if (previous) clearInterval(previous.renewer);
  // The renewal repeats the whole command (a jack move carries its jack): the same command on
  // the same entity is what keeps a hold lease alive.
  const hold = { command: body.command, body, send, renewer: null };
  hold.renewer = setInterval(() => hold.send.renew && hold.send.renew(body), RENEW_MS);
  HOLDS.set(id, hold);
}

function endHold(id) {
  const hold = HOLDS.get(id);
  if (!hold) return;
  clearInterval(hold.renewer);
  HOLDS.delete(id);
  hold.send({ command: "stop" }, "Stopping");
}

function endAllHolds() {
  for (const id of [...HOLDS.keys()]) endHold(id);
}

// A release anywhere, a lost window or a hidden page ends every hold.
window.addEventListener("pointerup", endAllHolds);
window.addEventListener("pointercancel", endAllHolds);
window.addEventListener("blur", endAllHolds);
document.addEventListener("visibilitychange", () => document.hidden && endAllHolds());

/**
 * A press-and-hold button: pressing starts the command and renews it every RENEW_MS (hold-to-run,
 * docs/motion-safety.md) over the WebSocket, so a lost connection stops the motor within the
 * server's hold timeout; letting go sends stop. ``args()`` adds the command's arguments at press
 * time (a jack). The hold lives in HOLDS, not in the button, so a card re-rendered while pressed
 * keeps holding.
 */
function holdButton(entity, send, command, label, args = () => ({})) {
  const id = entity.entity_id;
  const button = el("button", { class: "btn", type: "button", "data-testid": `${command}-${id}`, "aria-label": `${label} (hold)` }, label);
  const hold = HOLDS.get(id);
  if (hold && hold.command === command) {
    hold.send = send;
    button.classList.add("holding");
  }
  button.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    button.classList.add("holding");
    try { button.setPointerCapture(event.pointerId); } catch { /* not supported */ }
    const body = { command, ...args() };
    startHold(id, body, send);
    send(body, humanize(command) + "ing");
  });
  const end = () => {
    button.classList.remove("holding");
    endHold(id);
  };
  button.addEventListener("pointerup", end);
  button.addEventListener("pointercancel", end);
  button.addEventListener("lostpointercapture", () => button.isConnected && end());
  button.addEventListener("contextmenu", (e) => e.preventDefault());
  return button;
}

function stopButton(entity, send) {
  return el("button", { class: "btn danger", type: "button", "data-testid": `stop-${entity.entity_id}`, onclick: () => send({ command: "stop" }, "Stopping") }, "Stop");
}

function motor(entity, state, commands, send, metadata) {
  const [outName, inName] = entity.type === "shade" || entity.type === "window_shade" ? ["open", "close"] : ["extend", "retract"];
  const out = commands.has(outName) ? outName : commands.has("extend") ? "extend" : outName;
  const back = commands.has(inName) ? inName : commands.has("retract") ? "retract" : inName;
  const parts = [el("div", { class: "row spread" },
    el("span", { class: "big" }, humanize(state.motion || "stopped")),
    el("span", { class: "muted small" }, valueText(entity, metadata, "position", pick(state, "position"), 0) || ""))];
  // Press and hold moves the motor; letting go (or the Stop button) stops it.
  parts.push(el("div", { class: "row motor" },
    holdButton(entity, send, out, humanize(out)),
    stopButton(entity, send),
    holdButton(entity, send, back, humanize(back))));
  if (entity.type === "step" && state.obstruction === true) {
    parts.push(el("p", { class: "small warn", style: "margin:0" }, "Obstruction detected"));
  }
  parts.push(el("p", { class: "muted small", style: "margin:0" }, "Hold to move; release to stop."));
  return parts;
}

const JACK_CHOICE = new Map(); // entity_id -> the jack (or group) the card's hold buttons move
const JACK_GROUPS = [["all", ["left_front", "right_front", "left_rear", "right_rear", "left_middle", "right_middle", "tongue"]],
  ["front", ["left_front", "right_front"]], ["rear", ["left_rear", "right_rear"]],
  ["left", ["left_front", "left_middle", "left_rear"]], ["right", ["right_front", "right_middle", "right_rear"]]];

/** A leveling system: its jacks, a jack (or group) chooser and hold buttons, like a slide. */
function leveling(entity, state, commands, send) {
  const id = entity.entity_id;
  const jacks = (entity.attributes && Array.isArray(entity.attributes.jacks)) ? entity.attributes.jacks
    : ["left_front", "right_front", "left_rear", "right_rear"];
  const down = pick(state, "jacks_down");
  const parts = [el("div", { class: "row spread" },
    el("span", { class: "big" }, humanize(state.motion || "stopped")),
    el("span", { class: "muted small", "data-testid": `jacks-down-${id}` }, down === null ? "" : `${down} of ${jacks.length} jacks down`))];
  const table = kv(jacks.map((jack) => [humanize(jack), [state[`jack_${jack}`] ? humanize(state[`jack_${jack}`]) : null,
    state[`jack_${jack}_motion`] && state[`jack_${jack}_motion`] !== "stopped" ? humanize(state[`jack_${jack}_motion`]) : null,
    state[`jack_${jack}_load`] ? "on the ground" : null].filter(Boolean).join(" · ") || "—"]));
  if (table) parts.push(table);
  const groups = JACK_GROUPS.filter(([, members]) => members.filter((j) => jacks.includes(j)).length > 1).map(([name]) => name);
  const choices = [...groups, ...jacks];
  if (!choices.includes(JACK_CHOICE.get(id))) JACK_CHOICE.set(id, choices[0]);
  const select = el("select", { "aria-label": `${entity.name} jack`, "data-testid": `jack-${id}`, onchange: (e) => JACK_CHOICE.set(id, e.target.value) },
    ...choices.map((c) => el("option", { value: c, selected: c === JACK_CHOICE.get(id) }, c === "all" ? "All jacks" : humanize(c))));
  const jack = () => ({ jack: JACK_CHOICE.get(id) });
  parts.push(el("div", { class: "row spread" }, el("span", { class: "muted small" }, "Jack"), select));
  parts.push(el("div", { class: "row motor" },
    holdButton(entity, send, "extend", "Extend", jack),
    stopButton(entity, send),
    holdButton(entity, send, "retract", "Retract", jack)));
  const auto = [["auto_level", "Auto level", "Leveling"], ["store", "Store jacks", "Storing"]].filter(([c]) => commands.has(c));
  if (auto.length) {
    parts.push(el("div", { class: "row" }, ...auto.map(([command, label, doing]) =>
      el("button", { class: "btn", type: "button", "data-testid": `${command}-${id}`, onclick: () => send({ command }, doing) }, label))));
  }
  if (state.lockout) parts.push(el("p", { class: "small warn", style: "margin:0" }, `Locked out: ${state.lockout}`));
  // LEVELING_AIR_STATUS: the air bags (and the system) reporting low pressure
  const lowAir = [...(Array.isArray(state.low_air_pressure) ? state.low_air_pressure : []), ...(state.system_air_pressure_low === true ? ["system"] : [])];
  if (lowAir.length) {
    parts.push(el("p", { class: "small warn", style: "margin:0", "data-testid": `low-air-${id}` }, `Low air pressure: ${lowAir.map(humanize).join(", ")}`));
  }
  parts.push(el("p", { class: "muted small", style: "margin:0" }, "Hold to move the chosen jack(s); release to stop."));
  return parts;
}

/** The small line under the name: area, availability and age. */
export function subtitle(entity) {
  if (entity.available === false) return entity.last_updated ? "Not reporting" : "Waiting for the device";
  return humanize(entity.type || "");
}
