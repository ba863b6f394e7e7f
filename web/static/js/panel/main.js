// The agent panel: live state and screen pops over /ws, the current call with a timer and
// notes, wrap-up forms after each call, pause and click-to-call. Everything the page
// shows from the server goes in as text (see card.js). The agent's state is
// agent-state.js's, the wrap-up form wrapup.js's, the PBX actions actions.js's, the
// drafts drafts.js's; this module keeps the calls and routes the socket's messages.

import { duration } from "../lib/format.js";
import { connectSocket } from "../lib/socket.js";
import { afterCallState, draftOf, initAfterCall, wrapupDone } from "./acw.js";
import { clickToCall as call, wireActions } from "./actions.js";
import { keepAlerts, popAlert } from "./alerts.js";
import { isMine, keyOf, renderState } from "./agent-state.js";
import { getJSON } from "./api.js";
import { callerName, el, renderCard } from "./card.js";
import { callControls, transferredAsEnded } from "./controls.js";
import { load, save, STORE } from "./drafts.js";
import { config, t } from "./locale.js";
import { initNotices } from "./notices.js";
import { wrapupForm } from "./wrapup.js";

const WRAPUPS_KEY = "trubka.wrapups." + config.user.id;
const CREATED_KEY = "trubka.created." + config.user.id;

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

function say(text, isError) {
  nodes.message.textContent = text;
  nodes.message.hidden = !text;
  nodes.message.classList.toggle("error", Boolean(isError));
}

const notices = initNotices(document.getElementById("notices"), say);

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
function renderAgentState() {
  renderState(agents, nodes);
}

// --- pops and calls ------------------------------------------------------------------
function renderPops() {
  nodes.pops.replaceChildren(
    ...[...pops.values()].map(({ message, card }) => renderCard(message, cardOf(message.linkedid, card), "ringing", handlers)),
  );
  keepAlerts(pops.keys());
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
  const controls = callControls(message, say); // hang up, hold, transfer
  if (controls) view.querySelector(".call-head").after(controls);
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
  popAlert(message.linkedid, callerName(message, cardOf(message.linkedid, pops.get(message.linkedid).card)));
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
    save(WRAPUPS_KEY, wrapups);
  }
  STORE.removeItem(notesKey);
  current = null;
  renderCurrent();
  renderWrapups();
}

// --- wrap-up -------------------------------------------------------------------------
function renderWrapups() {
  nodes.wrapups.replaceChildren(
    ...wrapups.map((item) =>
      wrapupForm(item, {
        card: cardOf(item.linkedid, item.card),
        handlers,
        remember: () => save(WRAPUPS_KEY, wrapups),
        drop: dropWrapup,
        say,
      }),
    ),
  );
  renderIdle();
}

function dropWrapup(linkedid) {
  wrapupDone(linkedid); // the server keeps the wrap-ups owed (acw.js)
  wrapups = wrapups.filter((w) => w.linkedid !== linkedid);
  save(WRAPUPS_KEY, wrapups);
  delete created[linkedid];
  save(CREATED_KEY, created);
  renderWrapups();
}

// --- actions -------------------------------------------------------------------------
function clickToCall(number, contactId) {
  return call(number, contactId || null, (current && current.card && current.card.display) || {}, say);
}

wireActions(nodes, (number) => clickToCall(number, null), say);

// --- the live socket -----------------------------------------------------------------
function onStatus(state, reason) {
  if (state === "connected") {
    pops.clear(); // the server sends every call still ringing again
    renderPops();
    nodes.link.textContent = t("text.connected");
    document.body.dataset.live = "open";
    notices.refresh(); // the unread ones, also those sent while this panel was closed
  } else if (state === "disconnected") {
    document.body.dataset.live = "closed";
    nodes.link.textContent = t("text.reconnecting");
  } else if (state === "closed") {
    // Too many open tabs: this, the oldest, stays closed (reloading connects it again).
    document.body.dataset.live = "closed";
    nodes.link.textContent = reason || "—";
  }
}

function dispatch(message) {
  switch (message.type) {
    case "agent_state":
      if (isMine(message)) {
        agents.set(keyOf(message.agent_interface), message);
        renderAgentState();
        afterCallState(agents);
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
    case "rule_notice": // a trigger's "notify" action (crm.rules): the admin's own text
      say(String(message.text || ""));
      notices.add(message); // stored: kept in the list until marked read
      break;
    case "call_transferred": // this agent handed the call over: wrap it up
      if (isMine(message) && current && current.message.linkedid === message.linkedid) {
        onEnded(transferredAsEnded(message, current.message));
      }
      break;
    default:
      break;
  }
}

renderAgentState();
renderWrapups();
renderIdle();
initAfterCall(nodes, say, (items) => {
  const known = new Set(wrapups.map((w) => w.linkedid));
  const fresh = items.filter((item) => !known.has(item.linkedid)).map(draftOf);
  if (!fresh.length) return;
  wrapups = [...fresh, ...wrapups];
  save(WRAPUPS_KEY, wrapups);
  renderWrapups();
});
window.setInterval(tick, 1000);
connectSocket({ onMessage: dispatch, onStatus, maxDelay: 5000 });
