// The supervisor's live view: queue cards and the agents table, kept up to date from /ws,
// and the actions (listen, whisper, barge, pause, log out of a queue, hang up).
// Data from the PBX and the CRM is put in the page with textContent only.

import { reasonLabel as menuLabel, showAlerts } from "./alerts.js";
import { duration, numberFormat, phoneFormat } from "./lib/format.js";
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
import { fillListened } from "./live-listened.js";

const S = strings();
const config = jsonBlock("live-config");
const levels = config.levels;
const integer = numberFormat(config.lang, 0);
const percent1 = numberFormat(config.lang, 1);
const national = phoneFormat(config.region);
const queuesBox = document.getElementById("queues");
const agentsBody = document.querySelector("#agents tbody");
const status = document.getElementById("live-status");
const showStatus = statusShower(status, S);
const result = document.getElementById("action-result");
const queueTemplate = document.getElementById("queue-template");
const agentTemplate = document.getElementById("agent-template");
const WAITING_SHOWN = 8;
const allQueuesLabel = document.querySelector("#pause-queue option")?.textContent || "";

let current = null; // the last view
const feed = new LiveFeed({ onUpdate: render, onStatus: showStatus, pbx: config.pbx || null });

function pct(value) {
  return value === null || value === undefined ? "—" : `${percent1(value)}%`;
}

function secs(value) {
  return value === null || value === undefined ? "—" : duration(value);
}

function phone(number, name) {
  return national(number) || name || "?";
}

function contactName(contact) {
  return contact ? contact.name || contact.company || "" : "";
}

function setSince(element, moment, threshold) {
  if (!element) return;
  if (moment) {
    element.dataset.since = moment;
    element.textContent = duration(feed.since(moment));
  } else {
    delete element.dataset.since;
    element.textContent = "—";
  }
  if (threshold !== undefined) element.dataset.threshold = String(threshold);
}

// --- queues ------------------------------------------------------------------------------
function queueCard(name) {
  const existing = queuesBox.querySelector(`[data-queue="${CSS.escape(name)}"]`);
  if (existing) return existing;
  const card = queueTemplate.content.firstElementChild.cloneNode(true);
  card.dataset.queue = name;
  document.getElementById("no-queues")?.remove();
  queuesBox.append(card);
  return card;
}

function fillQueue(card, q) {
  card.setAttribute("aria-label", q.queue);
  set(card, "name", q.queue);
  set(card, "threshold", template(S.threshold, { seconds: q.sl_threshold_seconds }));
  set(card, "waiting", integer(q.waiting_count));
  const oldest = q.longest_wait_since;
  const longest = field(card, "longest");
  setSince(longest, oldest, q.sl_threshold_seconds);
  longest.className = `level ${waitClass(feed.since(oldest), q.sl_threshold_seconds, q.waiting_count)}`;
  for (const key of ["logged_in", "available", "on_call", "paused", "wrap_up"]) {
    set(card, key, integer(q.counts[key]));
  }
  const today = q.today || {};
  set(card, "offered", integer(today.offered ?? 0));
  set(card, "answered", integer(today.answered ?? 0));
  set(card, "abandoned", integer(today.abandoned ?? 0));
  const sl = set(card, "service_level", pct(today.service_level));
  sl.className = `level ${levelClass(today.service_level, levels)}`;
  set(card, "asa", secs(today.asa_seconds));
  set(card, "aht", secs(today.aht_seconds));
  set(card, "abandon_rate", pct(today.abandon_rate));
  const list = field(card, "waiting_list");
  const items = [];
  for (const w of q.waiting.slice(0, WAITING_SHOWN)) {
    const li = document.createElement("li");
    const pos = document.createElement("span");
    pos.className = "pos";
    pos.textContent = String(w.position);
    const who = document.createElement("span");
    who.className = "who";
    const name = contactName(w.contact);
    who.textContent = phone(w.caller_number, w.caller_name) + (name ? ` · ${name}` : "");
    const time = document.createElement("span");
    time.className = "time";
    setSince(time, w.joined_at);
    li.append(pos, " ", who, " ", time);
    items.push(li);
  }
  if (q.waiting_count > WAITING_SHOWN) {
    const li = document.createElement("li");
    li.className = "muted more";
    li.textContent = template(S.more_waiting, { n: q.waiting_count - WAITING_SHOWN });
    items.push(li);
  }
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = S.no_waiting;
    items.push(li);
  }
  list.replaceChildren(...items);
}

// --- agents ------------------------------------------------------------------------------
function agentRow(key) {
  const existing = agentsBody.querySelector(`tr[data-agent="${CSS.escape(key)}"]`);
  if (existing) return existing;
  const row = agentTemplate.content.querySelector("tr").cloneNode(true);
  row.dataset.agent = key;
  agentsBody.append(row);
  return row;
}

function fillAgent(row, a) {
  set(row, "name", a.name || a.interface);
  set(row, "login", a.login || a.interface);
  const badge = set(row, "state", S[`state_${a.state}`] || a.state);
  badge.className = `badge ${a.state}`;
  setSince(field(row, "state_time"), a.state_since);
  set(row, "reason", a.pause_pending ? template(S.pause_pending, { reason: reasonLabel(a.paused_reason) }) : reasonLabel(a.paused_reason));
  row.dataset.pausePending = a.pause_pending ? "1" : "";
  row.dataset.pausedReason = a.paused_reason || "";
  fillListened(row, a, S);
  const call = a.current_call;
  const cell = field(row, "call");
  const signature = call ? `${call.linkedid}|${call.state}|${call.caller_number}|${contactName(call.contact)}` : "";
  if (cell.dataset.signature !== signature) {
    cell.dataset.signature = signature;
    if (call) {
      const who = document.createElement("span");
      const name = contactName(call.contact);
      who.textContent = phone(call.caller_number, call.caller_name) + (name ? ` · ${name}` : "");
      const what = document.createElement("span");
      what.className = "muted small";
      what.textContent = ` ${call.state === "talking" ? S.talking_call : S.ringing_call}${call.direction === "outbound" ? `, ${S.outbound}` : ""} `;
      const time = document.createElement("span");
      time.className = "time";
      setSince(time, call.since);
      cell.replaceChildren(who, what, time);
    } else {
      cell.textContent = "—";
    }
  }
  set(row, "queues", a.queues.join(", "));
  set(row, "calls_today", integer(a.calls_today));
  set(row, "talk_today", duration(a.talk_seconds_today));
  const talking = Boolean(call && call.state === "talking");
  for (const mode of ["listen", "whisper", "barge"]) {
    row.querySelector(`[data-act="${mode}"]`).disabled = !(talking && config.phones.length && config.actions);
  }
  const pause = row.querySelector('[data-act="pause"]');
  const paused = a.state === "paused";
  pause.textContent = paused ? S.unpause : S.pause;
  pause.dataset.paused = paused ? "1" : "";
  pause.disabled = !(a.queues.length && config.actions);
  row.querySelector('[data-act="logout"]').disabled = !(a.queues.length && config.actions);
  row.querySelector('[data-act="hangup"]').disabled = !(call && config.actions);
  const addToQueue = row.querySelector('[data-act="add-queue"]');  // admins: the queue page
  if (addToQueue) {
    addToQueue.hidden = !a.user_id;
    addToQueue.href = a.user_id ? `/admin/queues?user=${encodeURIComponent(a.user_id)}` : "/admin/queues";
  }
}

function order(parent, elements) {
  elements.forEach((element, i) => {
    if (parent.children[i] !== element) parent.insertBefore(element, parent.children[i] || null);
  });
}

function render(view, changes) {
  current = view;
  const queues = [...view.queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  const cards = [];
  for (const q of queues) {
    const card = queueCard(q.queue);
    if (changes.full || changes.queues.has(q.queue)) fillQueue(card, q);
    cards.push(card);
  }
  if (changes.full) {
    for (const card of queuesBox.querySelectorAll("[data-queue]")) {
      if (!view.queues.has(card.dataset.queue)) card.remove();
    }
  }
  order(queuesBox, cards);
  const agents = [...view.agents.values()].sort(
    (a, b) => (a.name || "").localeCompare(b.name || "") || a.interface.localeCompare(b.interface),
  );
  const rows = [];
  for (const a of agents) {
    const row = agentRow(a.interface);
    if (changes.full || changes.agents.has(a.interface) || !row.dataset.filled) {
      fillAgent(row, a);
      row.dataset.filled = "1";
    }
    rows.push(row);
  }
  for (const row of agentsBody.querySelectorAll("tr[data-agent]")) {
    if (!view.agents.has(row.dataset.agent)) row.remove();
  }
  order(agentsBody, rows);
  document.getElementById("no-agents").hidden = agents.length > 0;
  const totals = view.totals;
  for (const key of ["calls_in_progress", "talking", "waiting"]) {
    document.querySelector(`[data-total="${key}"]`).textContent = integer(totals[key]);
  }
  setSince(document.querySelector('[data-total="longest_wait"]'), totals.longest_wait_since);
  showAlerts(document.getElementById("alerts"), view, S);
}

// the clocks, and the longest waits turning amber and red as they grow
setInterval(() => {
  for (const element of document.querySelectorAll("[data-since]")) {
    element.textContent = duration(feed.since(element.dataset.since));
    if (element.dataset.threshold) {
      element.className = `level ${waitClass(feed.since(element.dataset.since), Number(element.dataset.threshold), 1)}`;
    }
  }
}, 1000);

/** A pause reason in the page's words (`lunch` → S.reason_lunch), else as the pause menu
 * names it (the admin's reasons), else as typed. */
function reasonLabel(reason) {
  return reason ? S[`reason_${reason.trim().toLowerCase()}`] || menuLabel(reason) : "";
}

// --- actions -----------------------------------------------------------------------------
async function post(path, body) {
  // Several PBXes: the action names the PBX this page shows (refused if the agent is elsewhere).
  const named = config.pbx_name ? { ...body, pbx: config.pbx_name } : body;
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(named),
    credentials: "same-origin",
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { message: response.statusText };
  }
  return { ok: response.ok, data };
}

function say(text, ok) {
  result.textContent = text;
  result.dataset.ok = ok ? "1" : "0";
}

// Our own words for the result (S.done_<action>, S.failed_<code>), not the PBX's.
async function act(path, body, pending, words) {
  if (pending) say(pending, true);
  const { ok, data } = await post(path, body);
  const key = ok ? `done_${data.action}` : `failed_${data.code}`;
  const values = { queue: body.queue || data.queue || "", ...words, message: data.message || "" };
  say(template(S[key] || (ok ? S.done : S.failed), values), ok);
  return ok;
}

function agentOf(button) {
  const row = button.closest("tr[data-agent]");
  return row && current ? current.agents.get(row.dataset.agent) : null;
}

function fillQueues(select, names, all) {
  const options = [];
  if (all) {
    const option = document.createElement("option");
    option.value = "";
    option.textContent = all;
    options.push(option);
  }
  for (const name of names) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    options.push(option);
  }
  select.replaceChildren(...options);
}

function ask(dialog, agent, opener) {
  return new Promise((resolve) => {
    set(dialog, "agent", agent.name || agent.interface);
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        opener.focus();
        resolve(dialog.returnValue === "ok");
      },
      { once: true },
    );
    dialog.showModal();
  });
}

agentsBody.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-act]");
  if (!button || button.disabled) return;
  const agent = agentOf(button);
  if (!agent) return;
  const action = button.dataset.act;
  if (action === "listen" || action === "whisper" || action === "barge") {
    button.disabled = true;
    try {
      await act(
        "/api/supervisor/spy",
        { agent: agent.interface, mode: action },
        template(S.ringing_your_phone, { phone: config.phones[0] || "", action: S[action].toLowerCase() }),
        { agent: agent.name || agent.interface },
      );
    } finally {
      button.disabled = false;
    }
  } else if (action === "pause") {
    if (button.dataset.paused) {
      await act("/api/supervisor/pause", { agent: agent.interface, paused: false }, null, { agent: agent.name || agent.interface });
      return;
    }
    const dialog = document.getElementById("pause-dialog");
    fillQueues(document.getElementById("pause-queue"), agent.queues, allQueuesLabel);
    if (await ask(dialog, agent, button)) {
      const chosen = document.getElementById("pause-reason").value;
      const other = document.getElementById("pause-other").value.trim();
      const queue = document.getElementById("pause-queue").value;
      const body = { agent: agent.interface, paused: true, reason: other || chosen || null };
      if (queue) body.queue = queue;
      await act("/api/supervisor/pause", body, null, { agent: agent.name || agent.interface });
    }
  } else if (action === "logout") {
    const dialog = document.getElementById("logout-dialog");
    fillQueues(document.getElementById("logout-queue"), agent.queues, null);
    if (await ask(dialog, agent, button)) {
      const queue = document.getElementById("logout-queue").value;
      await act("/api/supervisor/queue-remove", { agent: agent.interface, queue }, null, { agent: agent.name || agent.interface });
    }
  } else if (action === "hangup") {
    const call = agent.current_call;
    if (!call) return;
    if (window.confirm(template(S.confirm_hangup, { agent: agent.name || agent.interface }))) {
      await act("/api/supervisor/hangup", { linkedid: call.linkedid }, null, { agent: agent.name || agent.interface });
    }
  }
});

feed.start(jsonBlock("live-data"));
