// The agent panel: live state and screen pops over /ws, the current call with a timer and
// notes, wrap-up forms after each call, pause and click-to-call. Everything the page
// shows from the server goes in as text (see card.js).

import { getJSON, postJSON } from "./api.js";
import { callerName, el, renderCard } from "./card.js";
import { config, duration, errorText, phone, t, when } from "./format.js";

const STORE = window.sessionStorage;
const WRAPUPS_KEY = "trubka.wrapups." + config.user.id;
const CREATED_KEY = "trubka.created." + config.user.id;
const MAX_WRAPUPS = 10;
const PRIORITY = ["on_call", "ringing", "wrap_up", "paused", "available", "unavailable", "logged_out"];

const keyOf = (iface) => String(iface || "").trim().toLowerCase().replace(/\/n$/, "");
const myKeys = new Set((config.user.interfaces || []).map(keyOf));
const isMine = (message) => myKeys.has(keyOf(message.agent_interface));

const agents = new Map(); // interface key -> agent_state message
const pops = new Map(); // linkedid -> {message, card}
let current = null; // {message, card}
let wrapups = load(WRAPUPS_KEY, []);
const created = load(CREATED_KEY, {}); // linkedid -> card of a contact created from the pop

const nodes = {
  state: document.getElementById("agent-state"),
  link: document.getElementById("link-state"),
  pops: document.getElementById("pops"),
  current: document.getElementById("current"),
  wrapups: document.getElementById("wrapups"),
  idle: document.getElementById("idle"),
  message: document.getElementById("panel-message"),
  pauseForm: document.getElementById("pause-form"),
  pauseReason: document.getElementById("pause-reason"),
  pauseOther: document.getElementById("pause-other"),
  pauseButton: document.getElementById("pause-button"),
  unpauseButton: document.getElementById("unpause-button"),
  dialForm: document.getElementById("dial-form"),
  dialNumber: document.getElementById("dial-number"),
};

function load(key, fallback) {
  try {
    const value = JSON.parse(STORE.getItem(key) || "null");
    return value === null ? fallback : value;
  } catch (error) {
    return fallback;
  }
}

function save(key, value) {
  try {
    STORE.setItem(key, JSON.stringify(value));
  } catch (error) {
    // Storage full or disabled: the page still works, a reload loses the drafts.
  }
}

function say(text, isError) {
  nodes.message.textContent = text;
  nodes.message.hidden = !text;
  nodes.message.classList.toggle("error", Boolean(isError));
}

const handlers = {
  call: clickToCall,
  contactCreated(linkedid, card) {
    created[linkedid] = card;
    save(CREATED_KEY, created);
    const pop = pops.get(linkedid);
    if (pop) pop.card = card;
    if (current && current.message.linkedid === linkedid) current.card = card;
    for (const item of wrapups) {
      if (item.linkedid === linkedid) {
        item.card = card;
        item.contact_id = card.contact ? card.contact.id : null;
      }
    }
    save(WRAPUPS_KEY, wrapups);
    say(t("text.contact_created"));
    renderPops();
    renderCurrent();
    renderWrapups();
  },
};

function cardOf(linkedid, fallback) {
  return created[linkedid] || fallback || null;
}

// --- state ---------------------------------------------------------------------------
function reasonLabel(reason) {
  const key = "pause." + reason;
  const label = t(key);
  return label === key ? reason : label;
}

function renderState() {
  let best = null;
  for (const message of agents.values()) {
    if (!best || PRIORITY.indexOf(message.state) < PRIORITY.indexOf(best.state)) best = message;
  }
  const state = best ? best.state : "logged_out";
  nodes.state.className = "badge " + state;
  nodes.state.dataset.state = state;
  nodes.state.textContent =
    state === "paused" && best.paused_reason
      ? t("text.paused_for", { reason: reasonLabel(best.paused_reason) })
      : t("state." + state);
  const paused = state === "paused" || [...agents.values()].some((m) => m.state === "paused");
  nodes.unpauseButton.hidden = !paused;
  nodes.pauseButton.hidden = paused;
}

// --- pops and calls ------------------------------------------------------------------
function renderPops() {
  nodes.pops.replaceChildren(
    ...[...pops.values()].map(({ message, card }) => renderCard(message, cardOf(message.linkedid, card), "ringing", handlers)),
  );
  renderIdle();
}

function renderCurrent() {
  if (!current) {
    nodes.current.replaceChildren();
    renderIdle();
    return;
  }
  const { message } = current;
  const card = cardOf(message.linkedid, current.card);
  const notesKey = "trubka.notes." + message.linkedid;
  const notes = el("textarea", { id: "call-notes", rows: "4", maxlength: "10000" });
  notes.value = STORE.getItem(notesKey) || "";
  notes.addEventListener("input", () => STORE.setItem(notesKey, notes.value));
  const timer = el("span", { id: "call-timer", class: "timer", role: "timer" }, "0:00");
  const view = renderCard(message, card, "current", handlers);
  view.querySelector(".call-head").append(el("p", { class: "timer-line" }, timer));
  view.append(
    el(
      "div",
      { class: "call-notes" },
      el("label", { for: "call-notes" }, t("text.call_notes")),
      el("span", { class: "muted" }, " " + t("text.call_notes_hint")),
      notes,
    ),
  );
  nodes.current.replaceChildren(view);
  tick();
  renderIdle();
}

function tick() {
  const timer = document.getElementById("call-timer");
  if (!timer || !current) return;
  const since = Date.parse(current.message.answered_at);
  timer.textContent = duration(Number.isNaN(since) ? 0 : (Date.now() - since) / 1000);
}

function renderIdle() {
  nodes.idle.hidden = Boolean(pops.size || current || wrapups.length);
}

async function ensureCard(holder) {
  const message = holder.message;
  if (holder.card || cardOf(message.linkedid) || !message.caller_number) return;
  try {
    holder.card = await getJSON("/api/panel/card?number=" + encodeURIComponent(message.caller_number));
  } catch (error) {
    return; // the card stays as the pop had it; the call itself goes on
  }
  if (current === holder) renderCurrent();
}

function onPop(message) {
  if (!isMine(message) || (current && current.message.linkedid === message.linkedid)) return;
  const known = pops.get(message.linkedid);
  pops.set(message.linkedid, { message, card: message.card || (known && known.card) || null });
  renderPops();
}

function onWithdrawn(message) {
  if (pops.delete(message.linkedid)) renderPops();
}

function onAnswered(message) {
  if (!isMine(message)) return;
  const pop = pops.get(message.linkedid);
  pops.delete(message.linkedid);
  renderPops();
  if (current && current.message.linkedid === message.linkedid) {
    current.message = message;
    if (message.card) current.card = message.card;
  } else {
    current = { message, card: message.card || (pop && pop.card) || null };
  }
  renderCurrent();
  ensureCard(current);
}

function onEnded(message) {
  pops.delete(message.linkedid);
  renderPops();
  if (!current || current.message.linkedid !== message.linkedid) return;
  const card = cardOf(message.linkedid, current.card);
  const contact = (card && card.contact) || current.message.contact || null;
  const notesKey = "trubka.notes." + message.linkedid;
  if (!wrapups.some((w) => w.linkedid === message.linkedid)) {
    wrapups.push({
      linkedid: message.linkedid,
      message: current.message,
      card,
      contact_id: contact ? contact.id : null,
      ended_at: message.ended_at,
      talk_seconds: message.talk_seconds,
      disposition: "",
      note: STORE.getItem(notesKey) || "",
      follow_up: false,
      task_title: "",
      task_due: "",
    });
    if (wrapups.length > MAX_WRAPUPS) wrapups = wrapups.slice(-MAX_WRAPUPS); // a busy, unattended panel
    save(WRAPUPS_KEY, wrapups);
  }
  STORE.removeItem(notesKey);
  current = null;
  renderCurrent();
  renderWrapups();
}

// --- wrap-up -------------------------------------------------------------------------
function renderWrapups() {
  nodes.wrapups.replaceChildren(...wrapups.map(wrapupForm));
  renderIdle();
}

function wrapupForm(item) {
  const id = "wu-" + String(item.linkedid).replace(/[^A-Za-z0-9_-]/g, "_");
  const card = cardOf(item.linkedid, item.card);
  const remember = () => save(WRAPUPS_KEY, wrapups);
  const disposition = el("select", { id: id + "-disposition", required: true }, el("option", { value: "" }, t("text.choose")));
  for (const choice of config.dispositions || []) {
    disposition.append(el("option", { value: choice.key, selected: choice.key === item.disposition }, choice.label));
  }
  disposition.addEventListener("change", () => {
    item.disposition = disposition.value;
    remember();
  });
  const note = el("textarea", { id: id + "-note", rows: "3", maxlength: "10000" });
  note.value = item.note || "";
  note.addEventListener("input", () => {
    item.note = note.value;
    remember();
  });
  const follow = el("input", { id: id + "-follow", type: "checkbox", checked: item.follow_up });
  const title = el("input", { id: id + "-task", maxlength: "255" });
  title.value = item.task_title || t("text.task_default", { name: callerName(item.message, card) });
  const due = el("input", { id: id + "-due", type: "datetime-local" });
  due.value = item.task_due || "";
  const task = el(
    "div",
    { class: "follow-up", hidden: !item.follow_up },
    el("label", { for: id + "-task" }, t("text.task_title")),
    title,
    el("label", { for: id + "-due" }, t("text.task_due")),
    due,
  );
  follow.addEventListener("change", () => {
    item.follow_up = follow.checked;
    task.hidden = !follow.checked;
    remember();
  });
  title.addEventListener("input", () => {
    item.task_title = title.value;
    remember();
  });
  due.addEventListener("input", () => {
    item.task_due = due.value;
    remember();
  });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const submit = el("button", { type: "submit", class: "primary" }, t("text.save"));
  const skip = el("button", { type: "button", class: "link-button" }, t("text.skip"));
  skip.addEventListener("click", () => dropWrapup(item.linkedid));
  const form = el(
    "form",
    { class: "wrapup-form", novalidate: true, "aria-labelledby": id + "-title" },
    el("p", {}, el("label", { for: id + "-disposition" }, t("text.disposition")), disposition),
    el("p", {}, el("label", { for: id + "-note" }, t("text.note")), note),
    el("p", { class: "check" }, follow, el("label", { for: id + "-follow" }, t("text.follow_up"))),
    task,
    el("p", { class: "actions" }, submit, " ", skip),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!disposition.value) {
      disposition.focus();
      error.textContent = t("text.disposition") + ": " + t("text.choose");
      error.hidden = false;
      return;
    }
    const body = {
      linkedid: item.linkedid,
      disposition: disposition.value,
      note: note.value.trim(),
      contact_id: item.contact_id || null,
    };
    if (follow.checked) {
      body.follow_up = { title: title.value.trim() || t("text.task_default", { name: callerName(item.message, card) }) };
      if (due.value) body.follow_up.due_at = new Date(due.value).toISOString();
    }
    submit.disabled = true;
    submit.textContent = t("text.saving");
    error.hidden = true;
    try {
      await postJSON("/api/panel/wrapup", body);
      say(item.contact_id ? t("text.saved") : t("text.saved_no_contact"));
      dropWrapup(item.linkedid);
    } catch (failure) {
      if (failure.code === "already_exists") {
        dropWrapup(item.linkedid);
        return;
      }
      error.textContent = errorText(failure);
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = t("text.save");
    }
  });
  const view = renderCard(item.message, card, "wrapup", handlers);
  view.querySelector(".call-head").append(
    el("p", { class: "muted", id: id + "-title" }, t("text.ended_at", { when: when(item.ended_at), duration: duration(item.talk_seconds) })),
  );
  view.classList.add("wrapup");
  view.querySelector(".card-body").before(form);
  return view;
}

function dropWrapup(linkedid) {
  wrapups = wrapups.filter((w) => w.linkedid !== linkedid);
  save(WRAPUPS_KEY, wrapups);
  delete created[linkedid];
  save(CREATED_KEY, created);
  renderWrapups();
}

// --- actions -------------------------------------------------------------------------
async function clickToCall(number, contactId) {
  const shown = phone(number, (current && current.card && current.card.display) || {});
  say(t("text.calling_you", { number: shown }));
  try {
    await postJSON("/api/panel/call", { number, contact_id: contactId || null });
    say(t("text.calling", { number: shown }));
  } catch (failure) {
    say(errorText(failure), true);
  }
}

nodes.pauseReason.addEventListener("change", () => {
  nodes.pauseOther.hidden = nodes.pauseReason.value !== "";
  if (!nodes.pauseOther.hidden) nodes.pauseOther.focus();
});

nodes.pauseForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const reason = nodes.pauseReason.value || nodes.pauseOther.value.trim();
  await pause({ paused: true, reason: reason || null });
});

nodes.unpauseButton.addEventListener("click", () => pause({ paused: false }));

async function pause(body) {
  say(t("text.pause_sent"));
  try {
    await postJSON("/api/panel/pause", body);
  } catch (failure) {
    say(errorText(failure), true);
  }
}

nodes.dialForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const number = nodes.dialNumber.value.trim();
  if (number) clickToCall(number, null);
});

// --- the live socket -----------------------------------------------------------------
let socket = null;
let backoff = 500;
let pinger = null;

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(scheme + window.location.host + "/ws");
  socket.addEventListener("open", () => {
    backoff = 500;
    pops.clear(); // the server sends every call still ringing again
    renderPops();
    nodes.link.textContent = t("text.connected");
    document.body.dataset.live = "open";
    pinger = window.setInterval(() => socket.send(JSON.stringify({ type: "ping" })), 25000);
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    dispatch(message);
  });
  socket.addEventListener("close", (event) => {
    window.clearInterval(pinger);
    document.body.dataset.live = "closed";
    if (event.code === 4401) {
      window.location.assign("/login?next=/");
      return;
    }
    // 4429: too many open tabs and this (the oldest) one was closed; reconnecting would
    // close the next oldest in turn. Reloading the page connects it again.
    if (event.code === 4429) {
      nodes.link.textContent = event.reason || "—";
      return;
    }
    nodes.link.textContent = t("text.reconnecting");
    window.setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 5000);
  });
}

function dispatch(message) {
  switch (message.type) {
    case "agent_state":
      if (isMine(message)) {
        agents.set(keyOf(message.agent_interface), message);
        renderState();
      }
      break;
    case "screen_pop":
      onPop(message);
      break;
    case "screen_pop_withdrawn":
      onWithdrawn(message);
      break;
    case "call_answered":
      onAnswered(message);
      break;
    case "call_ended":
      onEnded(message);
      break;
    default:
      break;
  }
}

renderState();
renderWrapups();
renderIdle();
window.setInterval(tick, 1000);
connect();
