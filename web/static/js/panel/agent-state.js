// @ts-check
// The agent's own state: which `agent_state` messages are about this user's phones, and the
// badge (with the pause/unpause buttons) that shows the most telling of their states.

import { config, t } from "./locale.js";

const PRIORITY = ["on_call", "ringing", "wrap_up", "paused", "available", "unavailable", "logged_out"];

/**
 * An interface as a key: lower case, without Local channels' `/n`.
 * @param {string | null | undefined} iface
 * @returns {string}
 */
export const keyOf = (iface) => String(iface || "").trim().toLowerCase().replace(/\/n$/, "");

const myKeys = new Set((config.user.interfaces || []).map(keyOf));

/**
 * Whether a message is about one of this user's phones.
 * @param {{agent_interface?: string | null}} message
 */
export const isMine = (message) => myKeys.has(keyOf(message.agent_interface));

/** @param {string} reason */
function reasonLabel(reason) {
  const key = "pause." + reason;
  const label = t(key);
  return label === key ? reason : label;
}

/**
 * Show the state of the user's phones (interface key -> last `agent_state` message).
 * @param {Map<string, {state: string, paused_reason?: string | null}>} agents
 * @param {{state: HTMLElement, pauseButton: HTMLElement, unpauseButton: HTMLElement}} nodes
 */
export function renderState(agents, nodes) {
  /** @type {{state: string, paused_reason?: string | null} | null} */
  let best = null;
  for (const message of agents.values()) {
    if (!best || PRIORITY.indexOf(message.state) < PRIORITY.indexOf(best.state)) best = message;
  }
  const state = best ? best.state : "logged_out";
  nodes.state.className = "badge " + state;
  nodes.state.dataset.state = state;
  nodes.state.textContent =
    state === "paused" && best && best.paused_reason
      ? t("text.paused_for", { reason: reasonLabel(best.paused_reason) })
      : t("state." + state);
  const paused = state === "paused" || [...agents.values()].some((m) => m.state === "paused");
  nodes.unpauseButton.hidden = !paused;
  nodes.pauseButton.hidden = paused;
}
