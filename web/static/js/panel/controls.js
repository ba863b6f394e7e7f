// The call controls in the card of the agent's current call: hang up, hold / resume, and
// transfer (at once or after talking to them first) to a colleague, the customer's manager
// or a queue, each colleague shown with their live state. The server checks that the call
// is the agent's and answers in the agent's language; the call's new state comes back over
// /ws (call_ended, call_transferred). Every value goes in as text.

import { getJSON, postJSON } from "./api.js";
import { el } from "./card.js";
import { t } from "./locale.js";

const BUSY = new Set(["on_call", "ringing", "unavailable"]);
const held = new Set(); // linkedids on hold (the card is drawn again on every update)

/**
 * The controls of one call, or null when the call has no linkedid.
 * @param {{linkedid?: string}} message the call_answered message of the current call
 * @param {(text: string, isError?: boolean) => void} say show a message to the agent
 */
export function callControls(message, say) {
  if (!message.linkedid) return null;
  const base = "/api/calls/" + encodeURIComponent(message.linkedid);
  let onHold = held.has(message.linkedid);

  const holdButton = el("button", { type: "button", "data-control": "hold" }, t("controls.hold"));
  const transferButton = el("button", { type: "button", "data-control": "transfer", "aria-expanded": "false" }, t("controls.transfer"));
  const hangupButton = el("button", { type: "button", "data-control": "hangup", class: "danger" }, t("controls.hangup"));
  const holdLine = el("p", { class: "on-hold", role: "status", hidden: true }, t("controls.on_hold"));
  const picker = el("div", { class: "transfer-picker", hidden: true, "aria-label": t("controls.transfer_title") });
  const box = el(
    "div",
    { class: "call-controls" },
    el("div", { class: "control-buttons", role: "group", "aria-label": t("controls.transfer_title") }, holdButton, transferButton, hangupButton),
    holdLine,
    picker,
  );

  /** Run one request with the buttons disabled; the server's message is shown. */
  async function act(path, body) {
    const buttons = box.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      const done = await postJSON(base + path, body || {});
      say(done.message || "");
      return done;
    } catch (error) {
      say(error.message || String(error), true);
      return null;
    } finally {
      buttons.forEach((b) => (b.disabled = b.dataset.busy === "1"));
    }
  }

  function showHold() {
    holdButton.textContent = onHold ? t("controls.unhold") : t("controls.hold");
    holdButton.setAttribute("aria-pressed", onHold ? "true" : "false");
    holdLine.hidden = !onHold;
    transferButton.dataset.busy = onHold ? "1" : "";
    transferButton.disabled = onHold;
  }

  holdButton.addEventListener("click", async () => {
    const done = await act(onHold ? "/unhold" : "/hold");
    if (done) {
      onHold = Boolean(done.on_hold);
      if (onHold) held.add(message.linkedid);
      else held.delete(message.linkedid);
      showHold();
    }
  });

  hangupButton.addEventListener("click", () => {
    if (window.confirm(t("controls.confirm_hangup"))) act("/hangup");
  });

  transferButton.addEventListener("click", async () => {
    if (!picker.hidden) {
      closePicker();
      return;
    }
    picker.hidden = false;
    transferButton.setAttribute("aria-expanded", "true");
    picker.replaceChildren(el("p", { class: "muted" }, t("controls.loading")));
    try {
      fillPicker(await getJSON(base + "/transfer-targets"));
    } catch (error) {
      picker.replaceChildren(el("p", { class: "error" }, error.message || String(error)));
    }
  });

  function closePicker() {
    picker.hidden = true;
    transferButton.setAttribute("aria-expanded", "false");
    picker.replaceChildren();
  }

  function modeChoice() {
    const name = "transfer-mode-" + message.linkedid;
    const option = (value, label, checked) =>
      el("label", { class: "mode" }, el("input", { type: "radio", name, value, checked }), " " + label);
    return el("fieldset", { class: "transfer-mode" }, option("blind", t("controls.blind"), true), option("attended", t("controls.attended"), false));
  }

  async function send(target) {
    const mode = picker.querySelector(".transfer-mode input:checked");
    const done = await act("/transfer", { target, mode: mode ? mode.value : "blind" });
    if (done) closePicker();
  }

  function agentButton(agent, extra) {
    const state = el("span", { class: "badge " + agent.state }, t("state." + agent.state));
    return el(
      "button",
      {
        type: "button",
        class: "target",
        "data-target": "agent",
        "data-user": String(agent.user_id),
        disabled: BUSY.has(agent.state),
        onclick: () => send(extra || { kind: "agent", user_id: agent.user_id }),
      },
      agent.name + " (" + agent.extension + ") ",
      state,
    );
  }

  function fillPicker(targets) {
    const parts = [modeChoice()];
    if (targets.manager) {
      parts.push(el("h4", {}, t("controls.to_manager")), agentButton(targets.manager, { kind: "manager" }));
    }
    parts.push(el("h4", {}, t("controls.to_agent")));
    const agents = targets.agents.map((a) => agentButton(a, null));
    parts.push(agents.length ? el("div", { class: "targets" }, agents) : el("p", { class: "muted" }, t("controls.nobody")));
    if (targets.queues.length) {
      parts.push(el("h4", {}, t("controls.to_queue")));
      const queues = targets.queues.map((q) =>
        el(
          "button",
          { type: "button", class: "target", "data-target": "queue", "data-queue": q.name, onclick: () => send({ kind: "queue", queue: q.name }) },
          t("controls.queue_item", { name: q.name, waiting: q.waiting, available: q.available }),
        ),
      );
      parts.push(el("div", { class: "targets" }, queues));
    }
    parts.push(el("p", { class: "buttons" }, el("button", { type: "button", onclick: closePicker }, t("controls.cancel"))));
    picker.replaceChildren(...parts);
  }

  showHold();
  return box;
}

/**
 * A `call_transferred` message (the agent handed the call over) as the `call_ended` the
 * panel opens the wrap-up with.
 * @param {{linkedid: string, at: string}} message
 * @param {{answered_at?: string} | null} current the call_answered message of the call
 */
export function transferredAsEnded(message, current) {
  const answered = Date.parse((current && current.answered_at) || "");
  const ended = Date.parse(message.at);
  const talk = Number.isNaN(answered) || Number.isNaN(ended) ? 0 : Math.max(0, (ended - answered) / 1000);
  return { linkedid: message.linkedid, ended_at: message.at, talk_seconds: talk, disposition: "answered" };
}
