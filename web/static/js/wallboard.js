// The wallboard: a few big numbers per queue for a TV, coloured against the targets
// (green / amber / red, each with a word too), kept up to date from /ws.
// Several PBXes (`live-boards`): one feed per PBX shown, each queue's board keyed
// `<pbx>/<queue>`, the head's totals added up over them.

import { showAlerts } from "./alerts.js";
import { duration, numberFormat } from "./lib/format.js";
import {
  LiveFeed,
  field,
  jsonBlock,
  levelClass,
  set,
  statusShower,
  strings,
  template,
  waitClass,
} from "./live.js";

const S = strings();
const config = jsonBlock("live-config");
const levels = config.levels;
const chosen = new Set(config.chosen || []);
const integer = numberFormat(config.lang, 0);
const box = document.getElementById("wb-queues");
const boardTemplate = document.getElementById("wb-template");
const status = document.getElementById("live-status");
const showStatus = statusShower(status, S);
const boards = jsonBlock("live-boards"); // several PBXes: [{pbx, feed, live}], else null
/** @type {Map<string, any>} each PBX's latest view (several PBXes) */
const views = new Map();
const feeds = (boards || [{ pbx: null, feed: null }]).map(
  (b) =>
    new LiveFeed({
      onUpdate: boards ? (view) => renderAll(b.pbx, view) : render,
      onStatus: showStatus,
      pbx: b.feed,
    }),
);
const feed = feeds[0]; // the clock the waits are counted by

function pct(value) {
  return value === null || value === undefined ? "—" : `${integer(value)}%`;
}

function note(value) {
  const word =
    value === null || value === undefined
      ? S.no_calls_yet
      : { good: S.on_target, warn: S.warning, bad: S.below_target }[levelClass(value, levels)];
  return `${word} · ${template(S.target, { target: integer(levels.target) })}`;
}

function board(name, pbx) {
  const key = pbx ? `${pbx}/${name}` : name;
  const existing = box.querySelector(`[data-queue="${CSS.escape(key)}"]`);
  if (existing) return existing;
  const element = boardTemplate.content.firstElementChild.cloneNode(true);
  element.dataset.queue = key;
  const label = element.querySelector('[data-f="pbx"]');
  if (label) label.textContent = `${config.pbx_label} ${pbx}`;
  box.append(element);
  return element;
}


function fill(element, q) {
  element.setAttribute("aria-label", q.queue);
  set(element, "name", q.queue);
  set(element, "waiting", integer(q.waiting_count));
  const longest = field(element, "longest");
  const oldest = q.longest_wait_since;
  if (oldest) {
    longest.dataset.since = oldest;
  } else {
    delete longest.dataset.since;
  }
  longest.dataset.threshold = String(q.sl_threshold_seconds);
  set(element, "longest_note", template(S.threshold, { seconds: q.sl_threshold_seconds }));
  const today = q.today || {};
  set(element, "service_level", pct(today.service_level));
  set(element, "sl_note", note(today.service_level));
  element.querySelector('[data-tile="service_level"]').className =
    `wb-tile level ${levelClass(today.service_level, levels)}`;
  set(element, "answered", integer(today.answered ?? 0));
  set(element, "abandoned", integer(today.abandoned ?? 0));
  set(element, "abandon_rate", pct(today.abandon_rate));
  set(element, "available", integer(q.counts.available));
  set(element, "on_call", integer(q.counts.on_call));
  set(element, "paused", integer(q.counts.paused));
  set(element, "wrap_up", integer(q.counts.wrap_up ?? 0));
  tickOne(longest);
}

function tickOne(longest) {
  const tile = longest.closest(".wb-tile");
  if (longest.dataset.since) {
    const seconds = feed.since(longest.dataset.since);
    longest.textContent = duration(seconds);
    tile.className = `wb-tile level ${waitClass(seconds, Number(longest.dataset.threshold), 1)}`;
  } else {
    longest.textContent = "—";
    tile.className = "wb-tile level";
  }
}

// Several PBXes: the queues of every PBX's view, the totals added up, every alert.
function renderAll(pbx, view) {
  views.set(pbx, view);
  const queues = new Map();
  const alerts = [];
  const totals = { waiting: 0, talking: 0, longest_wait_since: null };
  for (const b of boards) {
    const one = views.get(b.pbx);
    if (!one) continue;
    for (const q of one.queues.values()) queues.set(`${b.pbx}/${q.queue}`, { ...q, pbx: b.pbx });
    alerts.push(...(one.alerts || []));
    totals.waiting += one.totals.waiting || 0;
    totals.talking += one.totals.talking || 0;
    const since = one.totals.longest_wait_since;
    if (since && (!totals.longest_wait_since || since < totals.longest_wait_since)) {
      totals.longest_wait_since = since;
    }
  }
  render({ queues, totals, alerts, agents: view.agents }, { full: true });
}

function render(view, changes) {
  const queues = [...view.queues.values()]
    .filter((q) => !chosen.size || chosen.has(q.queue))
    .sort((a, b) => a.queue.localeCompare(b.queue) || (a.pbx || "").localeCompare(b.pbx || ""));
  const elements = [];
  for (const q of queues) {
    const element = board(q.queue, q.pbx);
    if (changes.full || changes.queues.has(q.queue) || !element.dataset.filled) {
      fill(element, q);
      element.dataset.filled = "1";
    }
    elements.push(element);
  }
  for (const element of box.querySelectorAll("[data-queue]")) {
    if (!elements.includes(element)) element.remove();
  }
  elements.forEach((element, i) => {
    if (box.children[i] !== element) box.insertBefore(element, box.children[i] || null);
  });
  for (const key of ["waiting", "talking"]) {
    document.querySelector(`[data-total="${key}"]`).textContent = integer(view.totals[key]);
  }
  const total = document.querySelector('[data-total="longest_wait"]');
  const oldest = view.totals.longest_wait_since;
  if (oldest) total.dataset.since = oldest;
  else delete total.dataset.since;
  total.textContent = oldest ? duration(feed.since(oldest)) : "—";
  showAlerts(document.getElementById("alerts"), view, S);
}

setInterval(() => {
  for (const longest of box.querySelectorAll('[data-f="longest"]')) tickOne(longest);
  const total = document.querySelector('[data-total="longest_wait"]');
  if (total.dataset.since) total.textContent = duration(feed.since(total.dataset.since));
}, 1000);

document.getElementById("wb-fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen?.();
});

if (boards) {
  boards.forEach((b, i) => feeds[i].start(b.live));
} else {
  feed.start(jsonBlock("live-data"));
}
