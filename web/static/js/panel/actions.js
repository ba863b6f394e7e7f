// @ts-check
// What the agent asks of the PBX from the panel: click-to-call (their own phone rings
// first, then the number is dialled) and pause/unpause in every queue.

import { postJSON } from "./api.js";
import { errorText, phone, t } from "./locale.js";

/** @typedef {(text: string, isError?: boolean) => void} Say */

/**
 * Call `number` from the agent's phone; `display` has the number's spelling for the region.
 * @param {string} number
 * @param {number | null} contactId
 * @param {Record<string, string>} display
 * @param {Say} say
 */
export async function clickToCall(number, contactId, display, say) {
  const shown = phone(number, display);
  say(t("text.calling_you", { number: shown }));
  try {
    await postJSON("/api/panel/call", { number, contact_id: contactId || null });
    say(t("text.calling", { number: shown }));
  } catch (failure) {
    say(errorText(/** @type {{code?: string, message?: string}} */ (failure)), true);
  }
}

/**
 * @param {{paused: boolean, reason?: string | null}} body
 * @param {Say} say
 */
async function pause(body, say) {
  say(t("text.pause_sent"));
  try {
    await postJSON("/api/panel/pause", body);
  } catch (failure) {
    say(errorText(/** @type {{code?: string, message?: string}} */ (failure)), true);
  }
}

/**
 * Wire the pause form, the unpause button and the dial form.
 * @param {object} nodes
 * @param {HTMLFormElement} nodes.pauseForm
 * @param {HTMLSelectElement} nodes.pauseReason
 * @param {HTMLInputElement} nodes.pauseOther
 * @param {HTMLElement} nodes.unpauseButton
 * @param {HTMLFormElement} nodes.dialForm
 * @param {HTMLInputElement} nodes.dialNumber
 * @param {(number: string) => void} dial
 * @param {Say} say
 */
export function wireActions(nodes, dial, say) {
  nodes.pauseReason.addEventListener("change", () => {
    nodes.pauseOther.hidden = nodes.pauseReason.value !== "";
    if (!nodes.pauseOther.hidden) nodes.pauseOther.focus();
  });
  nodes.pauseForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = nodes.pauseReason.value || nodes.pauseOther.value.trim();
    await pause({ paused: true, reason: reason || null }, say);
  });
  nodes.unpauseButton.addEventListener("click", () => pause({ paused: false }, say));
  nodes.dialForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const number = nodes.dialNumber.value.trim();
    if (number) dial(number);
  });
}
