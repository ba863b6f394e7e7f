// @ts-check
// The panel's drafts in the tab's sessionStorage (wrap-ups not saved yet, the notes of the
// current call, contacts created from a pop), so a reload loses nothing.

export const STORE = window.sessionStorage;

/**
 * @template T
 * @param {string} key
 * @param {T} fallback what to use when nothing (readable) is stored
 * @returns {T}
 */
export function load(key, fallback) {
  try {
    const value = JSON.parse(STORE.getItem(key) || "null");
    return value === null ? fallback : value;
  } catch (error) {
    return fallback;
  }
}

/**
 * @param {string} key
 * @param {unknown} value
 */
export function save(key, value) {
  try {
    STORE.setItem(key, JSON.stringify(value));
  } catch (error) {
    // Storage full or disabled: the page still works, a reload loses the drafts.
  }
}
