// Live connections: a WebSocket that reconnects with backoff, and REST polling when it cannot.

const MAX_BACKOFF_MS = 15000;
const STALE_MS = 45000; // no message for this long: the socket is dead even if it looks open
const PING_MS = 15000;

/** The ws:// or wss:// URL of a path on this server. */
export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/**
 * A WebSocket that reconnects with exponential backoff (with jitter) and reports its state.
 * States: "connecting", "open", "closed" (waiting to retry), "stopped".
 */
export class ReconnectingSocket {
  constructor(path, { onMessage, onState, onOpen } = {}) {
    this.path = path;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.onOpen = onOpen || (() => {});
    this.failures = 0;
    this.ws = null;
    this.timer = null;
    this.pinger = null;
    this.lastMessage = 0;
    this.stopped = true;
    this.state = "stopped";
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
    this.setState("stopped");
  }

  /** Retry now (the server answered over REST, so it is probably back). */
  retrySoon() {
    if (this.stopped || this.state === "open" || this.state === "connecting") return;
    clearTimeout(this.timer);
    this.failures = Math.min(this.failures, 1);
    this.connect();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  get isOpen() {
    return this.state === "open";
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state, this);
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.path));
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.lastMessage = Date.now();
      this.setState("open");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.keepAlive(), PING_MS);
      this.onOpen(this);
    };
    ws.onmessage = (event) => {
      this.lastMessage = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message, this);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      clearInterval(this.pinger);
      if (this.ws === ws) this.ws = null;
      if (!this.stopped) this.scheduleRetry();
    };
  }

  keepAlive() {
    if (Date.now() - this.lastMessage > STALE_MS && this.ws) {
      this.ws.close();
      return;
    }
    this.send({ type: "ping" });
  }

  scheduleRetry() {
    this.failures += 1;
    this.setState("closed");
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.failures - 1));
    const delay = base * (0.8 + Math.random() * 0.4);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

/**
 * The entity stream: /ws/entities when it works, GET /api/entities every few seconds when it
 * does not. Reports one connection state for the page: connecting, live, reconnecting, polling,
 * offline.
 */
export class EntityStream {
  constructor({ onSnapshot, onUpdate, onCommandResult, onState, fetchAll, onMotionAlert }) {
    this.onMotionAlert = onMotionAlert || (() => {});
    this.onSnapshot = onSnapshot;
    this.onUpdate = onUpdate;
    this.onCommandResult = onCommandResult;
    this.onStateChange = onState;
    this.fetchAll = fetchAll;
    this.pollTimer = null;
    this.pollOk = null;
    this.state = "connecting";
    this.socket = new ReconnectingSocket("/ws/entities", {
      onMessage: (m) => this.handle(m),
      onState: () => this.update(),
    });
  }

  start() {
    this.socket.start();
    // Poll until the socket is open, so the page shows the coach even if sockets never work.
    this.schedulePoll(0);
  }

  handle(message) {
    switch (message.type) {
      case "snapshot":
        this.onSnapshot(message.entities || []);
        break;
      case "entity_update":
        this.onUpdate(message);
        break;
      case "command_result":
        this.onCommandResult(message);
        break;
      case "motion_alert":
        this.onMotionAlert(message);
        break;
      default:
        break;
    }
  }

  schedulePoll(delay) {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.poll(), delay);
  }

  async poll() {
    if (this.socket.isOpen) {
      this.pollOk = null;
      this.schedulePoll(3000);
      return;
    }
    try {
      const entities = await this.fetchAll();
      this.onSnapshot(entities);
      this.pollOk = true;
      this.socket.retrySoon();
    } catch {
      this.pollOk = false;
    }
    this.update();
    this.schedulePoll(this.pollOk ? 2500 : 3000);
  }

  update() {
    let state;
    if (this.socket.isOpen) state = "live";
    else if (this.pollOk) state = "polling";
    else if (this.pollOk === false) state = "offline";
    else state = this.socket.failures > 0 ? "reconnecting" : "connecting";
    if (state !== this.state) {
      this.state = state;
      this.onStateChange(state);
    }
  }
}
