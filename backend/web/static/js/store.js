// The page's model of the coach: entities by id, and commands waiting for the device.

import { getJSON, postJSON } from "./api.js";

const CLIENT_DEADLINE_MS = 6000; // the server times a command out after 2 s; this is a backstop
const DONE_SHOWN_MS = 4000;
const PENDING_STATES = new Set(["pending", "accepted", "sent", "queued"]);
const CONFIRMED_STATES = new Set(["confirmed", "success", "succeeded", "ok"]);

/** Normalise a command result, whether flat or nested under "result". */
export function normaliseResult(message) {
  if (!message || typeof message !== "object") return {};
  const nested = message.result && typeof message.result === "object" ? message.result : {};
  const merged = { ...message, ...nested };
  if (typeof message.result === "string" && !merged.status) merged.status = message.result;
  return merged;
}

export class Store {
  constructor() {
    this.entities = new Map();
    this.pending = new Map(); // entity_id -> {commandId, label, started, status, detail}
    this.listeners = new Set();
    this.entityListeners = new Set();
    this.metadata = null;
    this.socket = null; // the entity WebSocket (hold-to-run renewals go over it)
  }

  /**
   * Renew a held motion (hold-to-run): the same command again, over the WebSocket when it is
   * open (so losing the connection stops the motor), else over REST. Nothing is shown for it.
   */
  renew(id, payload) {
    const message = { type: "command", entity_id: id, ...payload };
    if (this.socket && this.socket.send(message)) return;
    postJSON(`/api/entities/${encodeURIComponent(id)}/command`, payload).catch(() => {});
  }

  /** Call fn() after any change of the entity set; returns an unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Call fn(entity_id) after a change of one entity; returns an unsubscribe function. */
  subscribeEntity(fn) {
    this.entityListeners.add(fn);
    return () => this.entityListeners.delete(fn);
  }

  emitAll() {
    for (const fn of this.listeners) fn();
  }

  emit(entityId) {
    for (const fn of this.entityListeners) fn(entityId);
  }

  /** Replace everything with a snapshot (socket snapshot or a REST poll). */
  setAll(list) {
    const before = new Set(this.entities.keys());
    const next = new Map();
    for (const entity of list || []) {
      if (entity && entity.entity_id) next.set(entity.entity_id, entity);
    }
    const sameSet = before.size === next.size && [...next.keys()].every((id) => before.has(id));
    const changed = [];
    for (const [id, entity] of next) {
      const old = this.entities.get(id);
      if (!old || JSON.stringify(old) !== JSON.stringify(entity)) changed.push(id);
    }
    this.entities = next;
    for (const [id, entity] of next) this.checkPending(id, entity);
    if (!sameSet) this.emitAll();
    else for (const id of changed) this.emit(id);
  }

  /** Apply one entity_update message. */
  applyUpdate(message) {
    const id = message.entity_id;
    if (!id) return;
    const old = this.entities.get(id) || { entity_id: id };
    const entity = { ...old };
    for (const key of ["state", "available", "last_updated", "pending_command", "last_command_result"]) {
      if (key in message) entity[key] = message[key];
    }
    if (message.entity && typeof message.entity === "object") Object.assign(entity, message.entity);
    const isNew = !this.entities.has(id);
    this.entities.set(id, entity);
    this.checkPending(id, entity);
    if (isNew) this.emitAll();
    else this.emit(id);
  }

  /** A command_result message from the socket. */
  applyCommandResult(message) {
    const result = normaliseResult(message);
    const id = result.entity_id;
    const pending = id ? this.pending.get(id) : null;
    if (!pending) return;
    if (result.command_id && pending.commandId && result.command_id !== pending.commandId) return;
    this.resolve(id, result);
  }

  /** The entity reports its last command result: finish the pending command if it is ours. */
  checkPending(id, entity) {
    const pending = this.pending.get(id);
    if (!pending || pending.status !== "pending") return;
    const last = entity.last_command_result;
    if (last && typeof last === "object" && last.command_id && last.command_id === pending.commandId) {
      this.resolve(id, last);
    }
  }

  resolve(id, result) {
    const pending = this.pending.get(id);
    if (!pending || pending.status !== "pending") return;
    const status = String(result.status || result.result || "").toLowerCase();
    if (PENDING_STATES.has(status) || status === "") return;
    clearTimeout(pending.deadline);
    clearInterval(pending.poller);
    pending.status = CONFIRMED_STATES.has(status) ? "confirmed" : "failed";
    pending.detail = CONFIRMED_STATES.has(status)
      ? "Confirmed"
      : status === "timed_out" || status === "timeout"
        ? "Timed out: the device did not confirm"
        : `Failed: ${result.detail || result.message || result.error || status}`;
    this.emit(id);
    pending.clear = setTimeout(() => {
      if (this.pending.get(id) === pending) {
        this.pending.delete(id);
        this.emit(id);
      }
    }, DONE_SHOWN_MS);
  }

  /** Send a command; the entity shows "pending" until the device confirms or it times out. */
  async command(id, payload, label) {
    const previous = this.pending.get(id);
    if (previous) {
      clearTimeout(previous.deadline);
      clearInterval(previous.poller);
      clearTimeout(previous.clear);
    }
    const pending = { commandId: null, label, started: Date.now(), status: "pending", detail: `${label}…` };
    this.pending.set(id, pending);
    this.emit(id);
    try {
      const answer = await postJSON(`/api/entities/${encodeURIComponent(id)}/command`, payload);
      pending.commandId = answer && answer.command_id;
    } catch (error) {
      if (this.pending.get(id) === pending) this.resolve(id, { status: "failed", detail: error.message });
      throw error;
    }
    if (this.pending.get(id) !== pending) return;
    // Backstops: the socket may be down, so also read the entity's last result over REST.
    pending.poller = setInterval(() => this.pollCommand(id, pending), 700);
    pending.deadline = setTimeout(() => this.resolve(id, { status: "timed_out" }), CLIENT_DEADLINE_MS);
    const entity = this.entities.get(id);
    if (entity) this.checkPending(id, entity);
  }

  async pollCommand(id, pending) {
    if (this.pending.get(id) !== pending || pending.status !== "pending") {
      clearInterval(pending.poller);
      return;
    }
    try {
      const entity = await getJSON(`/api/entities/${encodeURIComponent(id)}`, 3000);
      if (entity && entity.entity_id) {
        const old = this.entities.get(id);
        this.entities.set(id, { ...old, ...entity });
        this.checkPending(id, this.entities.get(id));
        this.emit(id);
      }
    } catch {
      // the socket or the deadline will settle it
    }
  }
}
