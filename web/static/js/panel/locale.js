// @ts-check
// What the server renders into the panel's pages: its config (<script id="panel-config">),
// its language and its words (<script id="i18n">), and the formats of dates, money and
// phone numbers bound to them (lib/format.js).

import { dateTimeFormat, moneyFormat } from "../lib/format.js";

/** @param {string} id */
function jsonBlock(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent || "null") : null;
}

/** @type {Record<string, string>} */
const strings = jsonBlock("i18n") || {};
/** @type {{[key: string]: any}} */
export const config = jsonBlock("panel-config") || {};
export const lang = document.documentElement.lang || "ru";
/** @type {string | undefined} */
const timeZone = config.timezone || undefined;

/**
 * The page's words for `key` (the key itself when there are none), `{name}` replaced.
 * @param {string} key
 * @param {Record<string, unknown>} [params]
 * @returns {string}
 */
export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  for (const [name, value] of Object.entries(params || {})) {
    text = text.split("{" + name + "}").join(String(value));
  }
  return text;
}

/**
 * What to tell the user about a failed request (an ApiError's code and message).
 * @param {{code?: string, message?: string}} error
 * @returns {string}
 */
export function errorText(error) {
  const key = "error." + (error.code || "error");
  const known = Object.prototype.hasOwnProperty.call(strings, key);
  return t(known ? key : "error.error", { message: error.message || "" });
}

/** A date and time in the call center's zone. */
export const when = dateTimeFormat(lang, timeZone, { dateStyle: "short", timeStyle: "short" });
/** A time of day in the call center's zone. */
export const clock = dateTimeFormat(lang, timeZone, { timeStyle: "short" });
export const money = moneyFormat(lang);

/**
 * A number as people of the region write it: the server sends the spellings it knows.
 * @param {string | null | undefined} number
 * @param {Record<string, string> | null | undefined} display
 * @returns {string}
 */
export function phone(number, display) {
  if (!number) return "";
  return (display && display[number]) || number;
}
