// The wrap-up form shown after each of the agent's calls: disposition, note and an optional
// follow-up task, saved with POST /api/panel/wrapup. Its fields are drafts until then.

import { duration } from "../lib/format.js";
import { postJSON } from "./api.js";
import { callerName, el, renderCard } from "./card.js";
import { config, errorText, t, when } from "./locale.js";

/**
 * @typedef {object} WrapupContext
 * @property {object | null} card the caller's card as the panel knows it now
 * @property {object} handlers the card's actions (see card.js)
 * @property {() => void} remember keeps the drafts (after every change of a field)
 * @property {(linkedid: string) => void} drop removes the form (saved or skipped)
 * @property {(text: string, isError?: boolean) => void} say the panel's message line
 */

/**
 * The card of an ended call with its wrap-up form.
 * @param {any} item the draft: linkedid, message, ended_at, talk_seconds, disposition, …
 * @param {WrapupContext} context
 * @returns {HTMLElement}
 */
export function wrapupForm(item, { card, handlers, remember, drop, say }) {
  const id = "wu-" + String(item.linkedid).replace(/[^A-Za-z0-9_-]/g, "_");
  const disposition = el("select", { id: id + "-disposition", required: true }, el("option", { value: "" }, t("text.choose")));
  for (const choice of config.dispositions || []) {
    disposition.append(el("option", { value: choice.key, selected: choice.key === item.disposition }, choice.label));
  }
  disposition.addEventListener("change", () => {
    item.disposition = disposition.value;
    remember();
  });
  const note = el("textarea", { id: id + "-note", rows: "3", maxlength: "10000" });
  note.value = item.note || "";
  note.addEventListener("input", () => {
    item.note = note.value;
    remember();
  });
  const follow = el("input", { id: id + "-follow", type: "checkbox", checked: item.follow_up });
  const title = el("input", { id: id + "-task", maxlength: "255" });
  title.value = item.task_title || t("text.task_default", { name: callerName(item.message, card) });
  const due = el("input", { id: id + "-due", type: "datetime-local" });
  due.value = item.task_due || "";
  const task = el(
    "div",
    { class: "follow-up", hidden: !item.follow_up },
    el("label", { for: id + "-task" }, t("text.task_title")),
    title,
    el("label", { for: id + "-due" }, t("text.task_due")),
    due,
  );
  follow.addEventListener("change", () => {
    item.follow_up = follow.checked;
    task.hidden = !follow.checked;
    remember();
  });
  title.addEventListener("input", () => {
    item.task_title = title.value;
    remember();
  });
  due.addEventListener("input", () => {
    item.task_due = due.value;
    remember();
  });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const submit = el("button", { type: "submit", class: "primary" }, t("text.save"));
  const skip = el("button", { type: "button", class: "link-button" }, t("text.skip"));
  skip.addEventListener("click", () => drop(item.linkedid));
  const form = el(
    "form",
    { class: "wrapup-form", novalidate: true, "aria-labelledby": id + "-title" },
    el("p", {}, el("label", { for: id + "-disposition" }, t("text.disposition")), disposition),
    el("p", {}, el("label", { for: id + "-note" }, t("text.note")), note),
    el("p", { class: "check" }, follow, el("label", { for: id + "-follow" }, t("text.follow_up"))),
    task,
    el("p", { class: "actions" }, submit, " ", skip),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!disposition.value) {
      disposition.focus();
      error.textContent = t("text.disposition") + ": " + t("text.choose");
      error.hidden = false;
      return;
    }
    const body = {
      linkedid: item.linkedid,
      disposition: disposition.value,
      note: note.value.trim(),
      contact_id: item.contact_id || null,
    };
    if (follow.checked) {
      body.follow_up = { title: title.value.trim() || t("text.task_default", { name: callerName(item.message, card) }) };
      if (due.value) body.follow_up.due_at = new Date(due.value).toISOString();
    }
    submit.disabled = true;
    submit.textContent = t("text.saving");
    error.hidden = true;
    try {
      await postJSON("/api/panel/wrapup", body);
      say(item.contact_id ? t("text.saved") : t("text.saved_no_contact"));
      drop(item.linkedid);
    } catch (failure) {
      if (failure.code === "already_exists") {
        drop(item.linkedid);
        return;
      }
      error.textContent = errorText(failure);
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = t("text.save");
    }
  });
  const view = renderCard(item.message, card, "wrapup", handlers);
  view.querySelector(".call-head").append(
    el("p", { class: "muted", id: id + "-title" }, t("text.ended_at", { when: when(item.ended_at), duration: duration(item.talk_seconds) })),
  );
  view.classList.add("wrapup");
  view.querySelector(".card-body").before(form);
  return view;
}
