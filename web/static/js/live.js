// The supervisors' live view over /ws: the `live_update` messages merged into one picture.
//
//   const feed = new LiveFeed({onUpdate(view, changes) {…}, onStatus(state) {…}});
//   feed.start(initialDocument);
//
// A full message replaces the picture; a delta replaces the queues (by `queue`) and agents
// (by `interface`) it carries, drops `removed_agents` and replaces the totals. Deltas are
// ignored until the first full picture, and when their `seq` is not newer. Durations run
// on from the moments the server gives (`joined_at`, `state_since`, `since`), corrected
// for the difference between the server's clock and this computer's.

export class LiveFeed {
  constructor({ onUpdate, onStatus, path = "/ws" }) {
    this.onUpdate = onUpdate;
    this.onStatus = onStatus || (() => {});
    this.path = path;
    this.view = null; // {generated_at, day, queues: Map, agents: Map, totals}
    this.seq = -1;
    this.offset = 0; // server clock minus local clock, in ms
    this.retry = 500;
    this.socket = null;
    this.pinger = null;
  }

  start(initial) {
    if (initial) {
      this.apply({ ...initial, full: true, seq: -1 });
    }
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.socket = socket;
    this.onStatus("connecting");
    socket.addEventListener("open", () => {
      this.retry = 500;
      this.seq = -1; // a new socket starts with a full picture
      this.onStatus("connected");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send('{"type":"ping"}');
      }, 25000);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && message.type === "live_update") this.apply(message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (event.code === 4401) {
        location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
        return;
      }
      this.onStatus("disconnected");
      // 4429: too many open tabs, this (the oldest) one was closed; reconnecting would
      // close the next oldest in turn.
      if (event.code === 4429) return;
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 15000);
    });
  }

  apply(message) {
    if (message.full) {
      this.view = {
        generated_at: message.generated_at,
        day: message.day,
        queues: new Map(message.queues.map((q) => [q.queue, q])),
        agents: new Map(message.agents.map((a) => [a.interface, a])),
        totals: message.totals,
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
    this.clock(message.generated_at);
    this.onUpdate(this.view, {
      full: false,
      queues: new Set(message.queues.map((q) => q.queue)),
      agents: new Set([...message.agents.map((a) => a.interface), ...message.removed_agents]),
    });
  }

  clock(generatedAt) {
    const server = Date.parse(generatedAt);
    if (!Number.isNaN(server)) this.offset = server - Date.now();
  }

  /** Seconds since an ISO moment, by the server's clock. */
  since(moment) {
    if (!moment) return 0;
    return Math.max(0, (Date.now() + this.offset - Date.parse(moment)) / 1000);
  }
}

/** `m:ss`, or `h:mm:ss` from an hour on (as the pages' fmt.duration). */
export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A number as the pages print it: Russian ones as `8 (495) 123-45-67` for region RU. */
export function phoneFormat(region) {
  return (number) => {
    if (!number) return "";
    const ru = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(number);
    if (region === "RU" && ru) return `8 (${ru[1]}) ${ru[2]}-${ru[3]}-${ru[4]}`;
    return number;
  };
}

export function numberFormat(lang, digits = 0) {
  const format = new Intl.NumberFormat(lang, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return (value) => (value === null || value === undefined ? "—" : format.format(value));
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
