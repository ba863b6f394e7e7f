// @ts-check
// Alerts for a call that rings while the panel's tab is in the background: a browser
// notification (permission asked once, from the button this module adds to the status
// card), a short sound served by Trubka (/static/sounds/incoming.wav) and the tab's title
// flashing "☎ Incoming: …" until the tab is looked at or the ringing stops.
// main.js calls popAlert(linkedid, name) for each new pop and keepAlerts(the calls still
// ringing) whenever its pops change; nothing else of the panel depends on this module.

import { t } from "./locale.js";

const SOUND_URL = "/static/sounds/incoming.wav";
const ASKED_KEY = "trubka.notifications.asked";
const FLASH_MS = 1000;

const baseTitle = document.title;
/** @type {Map<string, {name: string, notification: Notification | null}>} */
const ringing = new Map();
/** @type {number | null} */
let flashTimer = null;
let flashOn = false;
/** @type {HTMLAudioElement | null} */
let audio = null;

/** @returns {boolean} */
function hidden() {
  return document.visibilityState === "hidden";
}

function notificationsSupported() {
  return typeof window.Notification === "function";
}

/** @param {string} name */
function incomingTitle(name) {
  return t("alert.incoming_title", { name });
}

function renderTitle() {
  const latest = [...ringing.values()].pop();
  if (!latest || !hidden()) {
    document.title = baseTitle;
    return;
  }
  flashOn = !flashOn;
  document.title = flashOn ? incomingTitle(latest.name) : baseTitle;
}

function startFlash() {
  flashOn = false;
  renderTitle();
  if (flashTimer === null) flashTimer = window.setInterval(renderTitle, FLASH_MS);
}

function stopFlash() {
  if (flashTimer !== null) window.clearInterval(flashTimer);
  flashTimer = null;
  document.title = baseTitle;
}

function playSound() {
  try {
    audio = audio || new Audio(SOUND_URL);
    audio.currentTime = 0;
    const played = audio.play();
    if (played && typeof played.catch === "function") played.catch(() => {}); // autoplay refused: the title and notification remain
  } catch (error) {
    // no audio output: the title and the notification still tell the agent
  }
}

/**
 * @param {string} linkedid
 * @param {string} name
 * @returns {Notification | null}
 */
function notify(linkedid, name) {
  if (!notificationsSupported() || Notification.permission !== "granted") return null;
  try {
    const notification = new Notification(incomingTitle(name), {
      body: t("alert.notification_body"),
      tag: "trubka-call-" + linkedid,
      requireInteraction: true,
    });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
    return notification;
  } catch (error) {
    return null; // e.g. a browser that only allows notifications from a service worker
  }
}

/**
 * A call started ringing for this agent: alert them if the tab is not in view.
 * @param {string} linkedid
 * @param {string} name who calls, in words
 */
export function popAlert(linkedid, name) {
  if (ringing.has(linkedid)) return;
  const entry = { name, notification: /** @type {Notification | null} */ (null) };
  ringing.set(linkedid, entry);
  if (!hidden()) return;
  entry.notification = notify(linkedid, name);
  playSound();
  startFlash();
}

/**
 * The call stopped ringing (answered, withdrawn, ended): no more alerts for it.
 * @param {string} linkedid
 */
export function stopAlert(linkedid) {
  const entry = ringing.get(linkedid);
  if (!entry) return;
  ringing.delete(linkedid);
  if (entry.notification) entry.notification.close();
  if (!ringing.size) stopFlash();
}

/**
 * Only the calls still ringing keep their alerts (after a reconnect the server sends
 * every call still ringing again, so a call withdrawn meanwhile stops alerting).
 * @param {Iterable<string>} linkedids
 */
export function keepAlerts(linkedids) {
  const keep = new Set(linkedids);
  for (const linkedid of [...ringing.keys()]) if (!keep.has(linkedid)) stopAlert(linkedid);
}

function onVisibility() {
  if (hidden()) {
    if (ringing.size) startFlash();
  } else {
    stopFlash();
  }
}

// The permission is asked once, from a click (browsers ignore requests without one).
function permissionButton() {
  if (!notificationsSupported() || Notification.permission !== "default") return;
  const holder = document.querySelector(".panel-status");
  if (!holder) return;
  let asked = false;
  try {
    asked = window.localStorage.getItem(ASKED_KEY) === "1";
  } catch (error) {
    asked = false;
  }
  if (asked) return;
  const button = document.createElement("button");
  button.type = "button";
  button.id = "notify-button";
  button.className = "link";
  button.textContent = t("alert.enable");
  button.addEventListener("click", async () => {
    try {
      window.localStorage.setItem(ASKED_KEY, "1");
    } catch (error) {
      // private mode: the button comes back on the next load
    }
    button.remove();
    try {
      await Notification.requestPermission();
    } catch (error) {
      // an old browser with the callback form only: nothing more to do
    }
  });
  const line = document.createElement("p");
  line.className = "notify-line";
  line.append(button);
  holder.append(line);
}

document.addEventListener("visibilitychange", onVisibility);
permissionButton();
