// The supervisors' live view over /ws: the `live_update` messages merged into one picture.
//
//   const feed = new LiveFeed({onUpdate(view, changes) {…}, onStatus(state) {…}});
//   feed.start(initialDocument);
//
// A full message replaces the picture; a delta replaces the queues (by `queue`) and agents
// (by `interface`) it carries, drops `removed_agents` and replaces the totals. Deltas are
// ignored until the first full picture, and when their `seq` is not newer. Durations run
// on from the moments the server gives (`joined_at`, `state_since`, `since`), corrected
// for the difference between the server's clock and this computer's. The socket is
// lib/socket.js's; durations, numbers and phone numbers are formatted by lib/format.js.
// With several PBXes each one's messages carry `pbx` (none for the first): a feed follows
// the PBX it was made for (`pbx`, null for the first) and ignores the others'.

import { duration } from "./lib/format.js";
import { connectSocket } from "./lib/socket.js";

/**
 * @typedef {object} LiveView
 * @property {string} generated_at
 * @property {string} day
 * @property {Map<string, any>} queues by `queue`
 * @property {Map<string, any>} agents by `interface`
 * @property {any} totals
 */

export class LiveFeed {
  /**
   * @param {object} options
   * @param {(view: LiveView, changes: {full: boolean, queues?: Set<string>, agents?: Set<string>}) => void} options.onUpdate
   * @param {(state: import("./lib/socket.js").SocketState) => void} [options.onStatus]
   * @param {string} [options.path]
   * @param {string | null} [options.pbx] the PBX followed (null: the first)
   */
  constructor({ onUpdate, onStatus, path = "/ws", pbx = null }) {
    this.pbx = pbx;
    this.onUpdate = onUpdate;
    this.onStatus = onStatus || (() => {});
    this.path = path;
    /** @type {LiveView | null} */
    this.view = null;
    this.seq = -1;
    this.offset = 0; // server clock minus local clock, in ms
  }

  /** @param {any} [initial] the picture rendered into the page, shown until the socket's */
  start(initial) {
    if (initial) {
      this.apply({ ...initial, full: true, seq: -1, pbx: this.pbx });
    }
    connectSocket({
      path: this.path,
      onStatus: (state) => {
        if (state === "connected") this.seq = -1; // a new socket starts with a full picture
        this.onStatus(state);
      },
      onMessage: (message) => {
        if (message.type === "live_update") this.apply(message);
      },
    });
  }

  /** @param {any} message a `live_update` message */
  apply(message) {
    if ((message.pbx || null) !== this.pbx) return; // another PBX's view
    if (message.full) {
      this.view = {
        generated_at: message.generated_at,
        day: message.day,
        queues: new Map(message.queues.map((q) => [q.queue, q])),
        agents: new Map(message.agents.map((a) => [a.interface, a])),
        totals: message.totals,
        alerts: message.alerts || [],
      };
      this.seq = message.seq;
      this.clock(message.generated_at);
      this.onUpdate(this.view, { full: true });
      return;
    }
    if (!this.view || this.seq < 0 || message.seq <= this.seq) return;
    this.seq = message.seq;
    this.view.generated_at = message.generated_at;
    this.view.day = message.day;
    for (const q of message.queues) this.view.queues.set(q.queue, q);
    for (const a of message.agents) this.view.agents.set(a.interface, a);
    for (const key of message.removed_agents) this.view.agents.delete(key);
    this.view.totals = message.totals;
    if (message.alerts) this.view.alerts = message.alerts;
    this.clock(message.generated_at);
    this.onUpdate(this.view, {
      full: false,
      queues: new Set(message.queues.map((q) => q.queue)),
      agents: new Set([...message.agents.map((a) => a.interface), ...message.removed_agents]),
    });
  }

  /** @param {string} generatedAt */
  clock(generatedAt) {
    const server = Date.parse(generatedAt);
    if (!Number.isNaN(server)) this.offset = server - Date.now();
  }

  /**
   * Seconds since an ISO moment, by the server's clock.
   * @param {string | null | undefined} moment
   */
  since(moment) {
    if (!moment) return 0;
    return Math.max(0, (Date.now() + this.offset - Date.parse(moment)) / 1000);
  }
}

/** green / amber / red against the service-level target, or "" when there is no figure. */
export function levelClass(value, levels) {
  if (value === null || value === undefined) return "";
  if (value >= levels.target) return "good";
  if (value >= levels.warning) return "warn";
  return "bad";
}

/** The longest wait against the queue's threshold: over it is red, past half of it amber. */
export function waitClass(seconds, threshold, waiting) {
  if (!waiting) return "";
  if (seconds > threshold) return "bad";
  if (seconds > threshold / 2) return "warn";
  return "good";
}

export function template(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

export function strings() {
  const element = document.getElementById("i18n");
  return element ? JSON.parse(element.textContent) : {};
}

export function jsonBlock(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

/** Run the clocks: every element with data-since shows the time since that moment. */
export function tick(feed) {
  for (const element of document.querySelectorAll("[data-since]")) {
    const since = element.dataset.since;
    element.textContent = since ? duration(feed.since(since)) : "";
  }
}

// The element of `root` that shows the field `name` (`data-f="name"`).
export function field(root, name) {
  return root.querySelector(`[data-f="${name}"]`);
}

// Put `text` in the field (as text, never markup), touching the page only on a change.
export function set(root, name, text) {
  const element = field(root, name);
  if (element && element.textContent !== text) element.textContent = text;
  return element;
}

// The connection state in the status line (`S[state]`: the page's words for it).
export function statusShower(element, S) {
  return (state) => {
    element.dataset.state = state;
    element.textContent = S[state] || state;
  };
}
