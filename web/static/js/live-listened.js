// The live view's "listened by …" on an agent's row: the supervisors whose listen, whisper
// or barge is on the agent's call now (`listened_by` of the live view). Text only.

import { field } from "./live.js";

/**
 * @param {Element} row the agent's row
 * @param {{listened_by?: {name?: string | null, phone?: string | null}[]}} agent
 * @param {Record<string, string>} S the page's words (`listened_by`: "listened by {name}")
 */
export function fillListened(row, agent, S) {
  const element = field(row, "listened");
  if (!element) return;
  const names = (agent.listened_by || []).map((x) => x.name || x.phone || "?");
  const text = names.length ? (S.listened_by || "{name}").split("{name}").join(names.join(", ")) : "";
  if (element.textContent !== text) element.textContent = text;
  element.hidden = !names.length;
}
