// Words and formats for the panel: the server renders the translated strings into the page
// (<script id="i18n">); dates and numbers follow the page's language with Intl.

const strings = JSON.parse(document.getElementById("i18n").textContent);
const configNode = document.getElementById("panel-config");
export const config = configNode ? JSON.parse(configNode.textContent) : {};
export const lang = document.documentElement.lang || "ru";
const timeZone = config.timezone || undefined;

export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  for (const [name, value] of Object.entries(params || {})) {
    text = text.split("{" + name + "}").join(String(value));
  }
  return text;
}

export function errorText(error) {
  const key = "error." + (error.code || "error");
  const known = Object.prototype.hasOwnProperty.call(strings, key);
  return t(known ? key : "error.error", { message: error.message || "" });
}

function safeZone(options) {
  try {
    return new Intl.DateTimeFormat(lang, { ...options, timeZone });
  } catch (error) {
    return new Intl.DateTimeFormat(lang, options);
  }
}

const dateTime = safeZone({ dateStyle: "short", timeStyle: "short" });
const timeOnly = safeZone({ timeStyle: "short" });

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : dateTime.format(date);
}

export function clock(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : timeOnly.format(date);
}

export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds || 0));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  const value = Number(amount);
  try {
    return new Intl.NumberFormat(lang, { style: "currency", currency: currency || "RUB" }).format(value);
  } catch (error) {
    return new Intl.NumberFormat(lang).format(value) + " " + (currency || "");
  }
}

// A number as people of the region write it: the server sends the spellings it knows.
export function phone(number, display) {
  if (!number) return "";
  return (display && display[number]) || number;
}
