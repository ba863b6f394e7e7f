// @ts-check
// Durations, times and numbers as every page prints them. The words of a page are not here:
// the server renders them into the page (<script type="application/json">).

/**
 * A duration as `m:ss`, or `h:mm:ss` from an hour on, rounded to the second; nothing or a
 * negative value is `0:00`.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function duration(seconds) {
  return clockText(Math.round(Math.max(0, seconds || 0)));
}

/**
 * A position in a recording, in the same shape as `duration` but counting whole seconds
 * played (1.9 s is `0:01`), as media players do.
 * @param {number} seconds
 * @returns {string}
 */
export function playbackTime(seconds) {
  return clockText(Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0);
}

/**
 * @param {number} total whole seconds, not negative
 * @returns {string}
 */
function clockText(total) {
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

/**
 * A formatter of numbers in the page's language with exactly `digits` decimals; a missing
 * figure is "—".
 * @param {string} lang
 * @param {number} [digits]
 * @returns {(value: number | null | undefined) => string}
 */
export function numberFormat(lang, digits = 0) {
  const format = new Intl.NumberFormat(lang, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return (value) => (value === null || value === undefined ? "—" : format.format(value));
}

/**
 * A formatter of amounts of money (RUB when the currency is not given); "" for no amount.
 * @param {string} lang
 * @returns {(amount: number | string | null | undefined, currency?: string | null) => string}
 */
export function moneyFormat(lang) {
  return (amount, currency) => {
    if (amount === null || amount === undefined || amount === "") return "";
    const value = Number(amount);
    try {
      return new Intl.NumberFormat(lang, {
        style: "currency",
        currency: currency || "RUB",
      }).format(value);
    } catch {
      return new Intl.NumberFormat(lang).format(value) + " " + (currency || "");
    }
  };
}

/**
 * A formatter of ISO moments in the page's language and, when it is a valid IANA name, the
 * call center's time zone (else the browser's); "" for nothing or a bad moment.
 * @param {string} lang
 * @param {string | undefined} timeZone
 * @param {Intl.DateTimeFormatOptions} options
 * @returns {(iso: string | null | undefined) => string}
 */
export function dateTimeFormat(lang, timeZone, options) {
  let format;
  try {
    format = new Intl.DateTimeFormat(lang, { ...options, timeZone });
  } catch {
    format = new Intl.DateTimeFormat(lang, options);
  }
  return (iso) => {
    if (!iso) return "";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : format.format(date);
  };
}

/**
 * A formatter of phone numbers as the pages print them: Russian E.164 numbers as
 * `8 (495) 123-45-67` for region RU, anything else as it is.
 * @param {string} region
 * @returns {(number: string | null | undefined) => string}
 */
export function phoneFormat(region) {
  return (number) => {
    if (!number) return "";
    const ru = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(number);
    if (region === "RU" && ru) return `8 (${ru[1]}) ${ru[2]}-${ru[3]}-${ru[4]}`;
    return number;
  };
}
