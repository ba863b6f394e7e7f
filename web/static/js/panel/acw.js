// @ts-check
// After-call work in the panel: the wrap-ups the agent still owes come from the server
// (GET /api/panel/wrapups, so a reload or another browser loses none), the hold's timer
// ("After-call work 0:12 of 1:00") beside the state badge, the pause asked for during a
// call shown as pending ("Pause after this call"), skipped wrap-ups told to the server,
// and the "Asked the phone system…" line cleared once the phone system answered.

import { duration } from "../lib/format.js";
import { request } from "./api.js";
import { t } from "./locale.js";

/** @typedef {{state: string, since?: string | null, paused_reason?: string | null, pause_pending?: boolean}} StateMessage */

/** @type {{linkedid: string, started_at: string, until: string, limit_seconds: number} | null} */
let hold = null;
/** @type {StateMessage | null} */
let wrapUp = null; // the agent_state message of the wrap-up shown now
/** @type {HTMLElement | null} */
let line = null;
/** @type {{state: HTMLElement, message: HTMLElement, pauseButton: HTMLElement, unpauseButton: HTMLElement} | null} */
let nodes = null;
/** @type {(text: string, isError?: boolean) => void} */
let say = () => {};

/** @param {string} reason */
function reasonLabel(reason) {
  const label = t("pause." + reason);
  return label === "pause." + reason ? reason : label;
}

async function loadHold() {
  try {
    const answer = await request("GET", "/api/panel/wrapups");
    hold = answer.hold;
    return answer;
  } catch (error) {
    return null;
  }
}

function tick() {
  if (!line || !nodes) return;
  if (!wrapUp) {
    if (line.dataset.kind === "acw") line.hidden = true;
    return;
  }
  const started = Date.parse((hold && hold.started_at) || wrapUp.since || "");
  const elapsed = Number.isNaN(started) ? 0 : Math.max(0, (Date.now() - started) / 1000);
  line.dataset.kind = "acw";
  line.hidden = false;
  line.textContent = hold
    ? t("acw.timer", { elapsed: duration(elapsed), limit: duration(hold.limit_seconds) })
    : t("acw.timer_open", { elapsed: duration(elapsed) });
}

/**
 * Start: the wrap-ups owed (handed to `addPending`), the hold, the timer line.
 * @param {{state: HTMLElement, message: HTMLElement, pauseButton: HTMLElement, unpauseButton: HTMLElement}} panelNodes
 * @param {(text: string, isError?: boolean) => void} sayLine
 * @param {(items: any[]) => void} addPending
 */
export async function initAfterCall(panelNodes, sayLine, addPending) {
  nodes = panelNodes;
  say = sayLine;
  line = document.createElement("span");
  line.id = "acw-line";
  line.className = "acw-line muted";
  line.setAttribute("role", "timer");
  line.hidden = true;
  nodes.state.after(line);
  window.setInterval(tick, 1000);
  const answer = await loadHold();
  if (answer && answer.wrapups && answer.wrapups.length) addPending(answer.wrapups);
  tick();
}

/**
 * After an `agent_state` of the user's: the hold's timer, a pending pause, the stale line.
 * @param {Map<string, StateMessage>} agents the user's phones' last states
 */
export function afterCallState(agents) {
  if (!nodes || !line) return;
  if (nodes.message.textContent === t("text.pause_sent")) say(""); // the phone system answered
  const states = [...agents.values()];
  const pending = states.find((m) => m.pause_pending);
  const wrapping = states.find((m) => m.state === "wrap_up") || null;
  if (wrapping && !wrapUp) loadHold().then(tick);
  wrapUp = wrapping;
  if (!wrapping) hold = null;
  if (pending) {
    line.dataset.kind = "pending";
    line.hidden = false;
    line.textContent = pending.paused_reason
      ? t("acw.pause_pending_for", { reason: reasonLabel(pending.paused_reason) })
      : t("acw.pause_pending");
    nodes.state.dataset.pausePending = "true";
    nodes.pauseButton.hidden = true; // the pause is asked for: it can be called off
    nodes.unpauseButton.hidden = false;
    return;
  }
  delete nodes.state.dataset.pausePending;
  if (line.dataset.kind === "pending") line.hidden = true;
  tick();
}

/**
 * The agent saved or skipped a wrap-up: it is owed no more (the hold waiting for it ends).
 * @param {string} linkedid
 */
export function wrapupDone(linkedid) {
  request("DELETE", "/api/panel/wrapups/" + encodeURIComponent(linkedid)).catch(() => {});
}

/**
 * A pending wrap-up from the server as the panel's wrap-up draft.
 * @param {any} item
 */
export function draftOf(item) {
  return {
    linkedid: item.linkedid,
    message: {
      linkedid: item.linkedid,
      caller_number: item.direction === "outbound" ? item.called_number : item.caller_number,
      caller_name: item.caller_name,
      queue: item.queue,
      agent_interface: item.agent_interface,
      direction: item.direction,
      answered_at: item.answered_at,
      contact: null,
    },
    card: null,
    contact_id: item.contact_id,
    ended_at: item.ended_at,
    talk_seconds: item.talk_seconds,
    disposition: "",
    note: "",
    follow_up: false,
    task_title: "",
    task_due: "",
  };
}
