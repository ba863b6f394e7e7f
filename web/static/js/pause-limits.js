// @ts-check
// The pause limits of /admin/pause-reasons on the supervisor's live view: an agent paused
// longer than their reason allows gets the row class "pause-over" and the limit said
// beside the reason (the reason's code is the row's data-paused-reason; the cell shows its
// label). The rows are supervisor.js's; this only reads and marks them, every
// few seconds, so a pause that runs over shows without any new event.

const source = document.getElementById("pause-limits");
/** @type {{limits?: Record<string, number>, over?: string}} */
const data = source ? JSON.parse(source.textContent || "{}") : {};
const limits = data.limits || {};
const over = data.over || "";
const EVERY_MS = 2000;

function check() {
  for (const row of document.querySelectorAll("tr[data-agent]")) {
    const state = row.querySelector('[data-f="state"]');
    const reason = /** @type {HTMLElement | null} */ (row.querySelector('[data-f="reason"]'));
    const clock = /** @type {HTMLElement | null} */ (row.querySelector('[data-f="state_time"]'));
    const code = /** @type {HTMLElement} */ (row).dataset.pausedReason || "";
    const limit = limits[code];
    const since = clock && clock.dataset.since ? Date.parse(clock.dataset.since) : NaN;
    const paused = Boolean(state && state.classList.contains("paused"));
    const late = paused && limit > 0 && !Number.isNaN(since) && Date.now() - since > limit * 1000;
    row.classList.toggle("pause-over", late);
    if (reason) {
      if (late) reason.dataset.over = over.replace("{minutes}", String(Math.round(limit / 60)));
      else delete reason.dataset.over;
    }
  }
}

if (Object.keys(limits).length) {
  check();
  setInterval(check, EVERY_MS);
}
