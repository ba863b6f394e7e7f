// @ts-check
// Supervisor alerts on the live view and the wallboard: the `alerts` of the live document
// (supervisor/alerts.py) as a list, and a browser notification for each new one (the
// permission is asked once, on the first click on the page; a refusal is remembered by
// the browser). Texts come from the page's strings (`alert_…`); data goes in as text.

import { duration } from "./lib/format.js";
import { template } from "./live.js";

const ASKED = "trubka.alerts.asked";
/** @type {Set<string>} */
const seen = new Set();
let first = true;

/**
 * A pause reason in the page's language (the pause dialog's options carry the labels).
 * @param {string | null | undefined} reason
 */
export function reasonLabel(reason) {
  if (!reason) return "";
  for (const option of document.querySelectorAll("#pause-reason option")) {
    if (/** @type {HTMLOptionElement} */ (option).value === reason) return option.textContent || reason;
  }
  return reason;
}

/**
 * @param {any} alert
 * @param {any} view the live view (agents by interface, for names)
 * @param {Record<string, string>} S the page's strings
 */
export function alertText(alert, view, S) {
  const agent = alert.agent ? view.agents.get(alert.agent) : null;
  const who = (agent && agent.name) || alert.agent || "";
  const values = {
    queue: alert.queue || "",
    agent: who,
    value: alert.kind === "service_level" ? String(alert.value) : duration(alert.value),
    limit: alert.kind === "service_level" ? String(alert.limit) : duration(alert.limit),
    reason: reasonLabel(alert.paused_reason),
  };
  return template(S[`alert_${alert.kind}`] || alert.kind, values);
}

/** Ask for the permission to notify, once, at the first click on the page. */
function askOnce() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  let asked = false;
  try {
    asked = window.localStorage.getItem(ASKED) === "1";
  } catch (error) {
    asked = false;
  }
  if (asked) return;
  document.addEventListener(
    "click",
    () => {
      try {
        window.localStorage.setItem(ASKED, "1");
      } catch (error) {
        // storage off: the browser's own answer is remembered anyway
      }
      Notification.requestPermission().catch(() => {});
    },
    { once: true },
  );
}

/**
 * Show the view's alerts in `box` and notify the new ones.
 * @param {HTMLElement | null} box
 * @param {any} view
 * @param {Record<string, string>} S
 */
export function showAlerts(box, view, S) {
  const alerts = view.alerts || [];
  if (box) {
    box.hidden = alerts.length === 0;
    const items = alerts.map((/** @type {any} */ alert) => {
      const li = document.createElement("li");
      li.className = `alert alert-${alert.kind}`;
      li.dataset.key = alert.key;
      li.dataset.kind = alert.kind;
      li.textContent = alertText(alert, view, S);
      return li;
    });
    const list = box.querySelector("ul");
    if (list) list.replaceChildren(...items);
  }
  const keys = new Set(alerts.map((/** @type {any} */ a) => a.key));
  for (const alert of alerts) {
    if (seen.has(alert.key)) continue;
    seen.add(alert.key);
    // the alerts already there when the page opened are on the page: no notification storm
    if (!first && "Notification" in window && Notification.permission === "granted") {
      try {
        new Notification(S.alert_title || "Trubka", { body: alertText(alert, view, S), tag: alert.key });
      } catch (error) {
        // notifications unavailable here (e.g. only from a service worker): the list shows it
      }
    }
  }
  for (const key of [...seen]) if (!keys.has(key)) seen.delete(key);
  first = false;
}

askOnce();
