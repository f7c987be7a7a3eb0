// Entity cards: live state and the controls each type of device offers.

import { el, fmt, pick, titleCase } from "./util.js";

const MOTOR_TYPES = new Set(["awning", "slide", "shade", "window_shade"]);
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

function unitOf(entity, key, metadata, fallback = "") {
  const units = (metadata && metadata.types && metadata.types[entity.type] && metadata.types[entity.type].units) || {};
  return (entity.units && entity.units[key]) || units[key] || fallback;
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
    const option = el("option", { value: choice }, titleCase(choice));
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
  const disabled = entity.available === false && !MOTOR_TYPES.has(type);
  const parts = [];

  if (SWITCH_TYPES.has(type) || (commands.has("set") && typeof state.state === "string" && ["on", "off"].includes(state.state))) {
    const isOn = state.state === "on";
    const dimmable = type === "light" && (hasCap(entity, "dimmable") || argSpec(commands, "set", "brightness"));
    const head = el("div", { class: "row spread" },
      el("span", { class: "big" }, dimmable && isOn ? fmt(state.brightness) : isOn ? "On" : "Off",
        dimmable && isOn ? el("span", { class: "unit" }, "%") : null),
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
    const extra = kv([["Current", state.current !== undefined && state.current !== null ? `${fmt(state.current, 1)} A` : null],
      ["Pressure", state.pressure_kpa !== undefined && state.pressure_kpa !== null ? `${fmt(state.pressure_kpa, 1)} kPa` : null],
      ["Running", typeof state.running === "boolean" ? (state.running ? "yes" : "no") : null]]);
    if (extra) parts.push(extra);
  } else if (type === "tank") {
    const level = pick(state, "level");
    const kind = (entity.attributes && entity.attributes.kind) || "";
    const alarm = (kind === "black" || kind === "gray") ? level !== null && level > 80 : (kind === "fresh" || kind === "lpg") && level !== null && level < 20;
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, fmt(level), el("span", { class: "unit" }, "%")),
      el("span", { class: "muted small" }, [pick(state, "volume_l") !== null ? `${fmt(state.volume_l)} L` : null,
        pick(state, "capacity_l") !== null ? `of ${fmt(state.capacity_l)} L` : null].filter(Boolean).join(" "))));
    parts.push(gauge(level, alarm ? "warn" : ""));
  } else if (type === "battery" || type === "dc_source") {
    const soc = pick(state, "state_of_charge");
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, fmt(state.voltage, 2), el("span", { class: "unit" }, "V")),
      el("span", { class: "muted small" }, state.status || "")));
    if (soc !== null) parts.push(gauge(soc, soc < 20 ? "crit" : soc < 40 ? "warn" : ""));
    parts.push(kv([["Charge", soc !== null ? `${fmt(soc)} %` : null],
      ["Current", pick(state, "current") !== null ? `${fmt(state.current, 1)} A` : null],
      ["Temperature", pick(state, "temperature") !== null ? `${fmt(state.temperature, 1)} °C` : null]]));
  } else if (CLIMATE_TYPES.has(type)) {
    parts.push(...climate(entity, state, commands, send, disabled || pending));
  } else if (type === "generator") {
    const running = ["running", "run", "on", "cranking", "priming", "preheat"].includes(String(state.status || "").toLowerCase());
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, titleCase(state.status || "—")),
      el("span", { class: "row" },
        commands.has("start") ? el("button", { class: "btn primary", type: "button", disabled: disabled || pending || running, "data-testid": `start-${entity.entity_id}`, onclick: () => send({ command: "start" }, "Starting") }, "Start") : null,
        commands.has("stop") ? el("button", { class: "btn danger", type: "button", disabled: pending || !running, "data-testid": `stop-${entity.entity_id}`, onclick: () => send({ command: "stop" }, "Stopping") }, "Stop") : null)));
    parts.push(kv([["Run time", pick(state, "run_time_h") !== null ? `${fmt(state.run_time_h, 1)} h` : null],
      ["Load", pick(state, "load") !== null ? `${fmt(state.load)} %` : null],
      ["Start battery", pick(state, "start_battery_voltage") !== null ? `${fmt(state.start_battery_voltage, 2)} V` : null]]));
  } else if (MOTOR_TYPES.has(type)) {
    parts.push(...motor(entity, state, commands, send));
  } else if ((type === "inverter" || type === "charger") && (commands.has("enable") || commands.has("disable"))) {
    const enabled = state.enabled === true;
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, titleCase(state.status || state.state || (enabled ? "enabled" : "disabled"))),
      switchControl(entity, enabled, entity.name, (on) => send({ command: on ? "enable" : "disable" }, on ? "Enabling" : "Disabling"), disabled || pending)));
    parts.push(genericKv(entity, ["status", "state", "enabled"]));
  } else if (type === "lock" && (commands.has("lock") || commands.has("unlock"))) {
    const locked = state.state === "locked";
    parts.push(el("div", { class: "row spread" },
      el("span", { class: "big" }, titleCase(state.state || "—")),
      el("button", { class: "btn", type: "button", disabled: disabled || pending, onclick: () => send({ command: locked ? "unlock" : "lock" }, locked ? "Unlocking" : "Locking") }, locked ? "Unlock" : "Lock")));
  } else {
    parts.push(genericKv(entity, []));
  }
  return parts.filter(Boolean);
}

function hasCap(entity, name) {
  const caps = entity.capabilities;
  if (Array.isArray(caps)) return caps.includes(name);
  return Boolean(caps && typeof caps === "object" && caps[name]);
}

function genericKv(entity, skip) {
  const state = entity.state || {};
  const pairs = [];
  for (const [key, value] of Object.entries(state)) {
    if (skip.includes(key) || HIDDEN_KEYS.has(key) || value === null || typeof value === "object") continue;
    const unit = entity.units && entity.units[key] ? ` ${entity.units[key]}` : "";
    const shown = typeof value === "number" ? `${Number.isInteger(value) ? value : value.toFixed(1)}${unit}` : typeof value === "boolean" ? (value ? "yes" : "no") : titleCase(value);
    pairs.push([titleCase(key), shown]);
    if (pairs.length >= 6) break;
  }
  return kv(pairs) || el("p", { class: "muted small" }, "No data yet");
}

function climate(entity, state, commands, send, disabled) {
  const parts = [];
  const ambient = pick(state, "ambient_temperature", "water_temperature");
  const output = pick(state, "output_level");
  let big;
  if (ambient !== null) big = [fmt(ambient, 1), el("span", { class: "unit" }, "°C")];
  else if (output !== null) big = [fmt(output), el("span", { class: "unit" }, "% output")];
  else big = [titleCase(state.mode || "—")];
  parts.push(el("div", { class: "row spread" }, el("span", { class: "big" }, big),
    el("span", { class: "muted small" }, state.heat_source ? titleCase(state.heat_source) : "")));
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
      parts.push(stepper(label, pick(state, key), "°", {
        min: spec.minimum, max: spec.maximum, step: 0.5, testid: `${key}-${entity.entity_id}`,
        onSet: (value) => !disabled && send({ command: "set_setpoint", [spec.name]: value }, `${label} ${value}°`),
      }));
    }
  }
  const extras = kv([["Fan", state.fan_mode ? `${titleCase(state.fan_mode)}${state.fan_speed !== null && state.fan_speed !== undefined ? ` · ${fmt(state.fan_speed)} %` : ""}` : null],
    ["Output", ambient !== null && output !== null ? `${fmt(output)} %` : null]]);
  if (extras) parts.push(extras);
  return parts;
}

function motor(entity, state, commands, send) {
  const [outName, inName] = entity.type === "shade" || entity.type === "window_shade" ? ["open", "close"] : ["extend", "retract"];
  const out = commands.has(outName) ? outName : commands.has("extend") ? "extend" : outName;
  const back = commands.has(inName) ? inName : commands.has("retract") ? "retract" : inName;
  const parts = [el("div", { class: "row spread" },
    el("span", { class: "big" }, titleCase(state.motion || "stopped")),
    el("span", { class: "muted small" }, pick(state, "position") !== null ? `${fmt(state.position)} %` : ""))];
  // Press and hold moves the motor; letting go (or the Stop button) stops it.
  const holdButton = (command, label) => {
    let held = false;
    const button = el("button", { class: "btn", type: "button", "data-testid": `${command}-${entity.entity_id}`, "aria-label": `${label} (hold)` }, label);
    const start = (event) => {
      event.preventDefault();
      held = true;
      button.classList.add("holding");
      try { button.setPointerCapture(event.pointerId); } catch { /* not supported */ }
      send({ command }, titleCase(command) + "ing");
    };
    const end = () => {
      if (!held) return;
      held = false;
      button.classList.remove("holding");
      send({ command: "stop" }, "Stopping");
    };
    button.addEventListener("pointerdown", start);
    button.addEventListener("pointerup", end);
    button.addEventListener("pointercancel", end);
    button.addEventListener("lostpointercapture", end);
    button.addEventListener("contextmenu", (e) => e.preventDefault());
    return button;
  };
  parts.push(el("div", { class: "row motor" },
    holdButton(out, titleCase(out)),
    el("button", { class: "btn danger", type: "button", "data-testid": `stop-${entity.entity_id}`, onclick: () => send({ command: "stop" }, "Stopping") }, "Stop"),
    holdButton(back, titleCase(back))));
  parts.push(el("p", { class: "muted small", style: "margin:0" }, "Hold to move; release to stop."));
  return parts;
}

/** The small line under the name: area, availability and age. */
export function subtitle(entity) {
  if (entity.available === false) return entity.last_updated ? "Not reporting" : "Waiting for the device";
  return titleCase(entity.type || "");
}
