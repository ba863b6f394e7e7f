// @ts-check
// The rules' notices in the panel (a trigger's "notify" action, crm.notices): the unread
// ones are fetched on every (re)connect of the socket, so a notice sent while the user
// was offline is shown when they come back; a live `rule_notice` message adds one. Each
// can be marked read, or all at once. Texts go in as text (the admin's template output).

import { getJSON, postJSON } from "./api.js";
import { el } from "./card.js";
import { errorText, t, when } from "./locale.js";

/**
 * @typedef {{id: number, text: string, rule?: string, contact_id?: number | null,
 *   created_at?: string}} Notice
 */

/**
 * @param {HTMLElement | null} node  the list's place in the page (#notices)
 * @param {(text: string, isError?: boolean) => void} say  the panel's status line
 */
export function initNotices(node, say) {
  /** @type {Map<number, Notice>} */
  const unread = new Map();

  function render() {
    if (!node) return;
    node.hidden = unread.size === 0;
    const items = [...unread.values()].sort((a, b) => b.id - a.id);
    node.replaceChildren(
      el(
        "div",
        { class: "notices-head" },
        el("h2", { id: "notices-heading" }, t("notice.title"), " ",
          el("span", { class: "badge notices-count", id: "notices-count" }, String(unread.size))),
        el("button", { type: "button", id: "notices-read-all", onclick: readAll }, t("notice.read_all")),
      ),
      el(
        "ul",
        { class: "notices-list" },
        items.map((n) =>
          el(
            "li",
            { class: "notice-item", dataset: { notice: String(n.id) } },
            el("span", { class: "notice-text" }, n.text),
            el("span", { class: "muted small" }, [n.rule || "", when(n.created_at)].filter(Boolean).join(" · ")),
            n.contact_id ? el("a", { href: `/contacts/${Number(n.contact_id)}` }, t("notice.open_contact")) : null,
            el("button", { type: "button", class: "notice-read", onclick: () => readOne(n.id) }, t("notice.read")),
          ),
        ),
      ),
    );
  }

  /** @param {number} id */
  async function readOne(id) {
    try {
      await postJSON(`/api/notices/${Number(id)}/read`, {});
      unread.delete(id);
      render();
    } catch (error) {
      say(errorText(/** @type {any} */ (error)), true);
    }
  }

  async function readAll() {
    try {
      await postJSON("/api/notices/read-all", {});
      unread.clear();
      render();
    } catch (error) {
      say(errorText(/** @type {any} */ (error)), true);
    }
  }

  return {
    /** The unread notices again (the socket (re)connected). */
    async refresh() {
      try {
        const page = await getJSON("/api/notices?unread=1");
        unread.clear();
        for (const n of page.items || []) unread.set(n.id, n);
        render();
      } catch (error) {
        say(errorText(/** @type {any} */ (error)), true);
      }
    },
    /** @param {{id?: number | null, text?: string, rule?: string, contact_id?: number | null}} message */
    add(message) {
      if (typeof message.id !== "number") return; // a sender without stored notices
      unread.set(message.id, {
        id: message.id,
        text: String(message.text || ""),
        rule: message.rule,
        contact_id: message.contact_id,
        created_at: new Date().toISOString(),
      });
      render();
    },
  };
}
