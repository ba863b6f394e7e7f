// The caller's card, built with DOM nodes only: every value is untrusted and goes in as
// text (textContent) or as an attribute, never as HTML.

import { duration } from "../lib/format.js";
import { getJSON, postJSON } from "./api.js";
import { dealsSection } from "./deals.js";
import { clock, errorText, lang, money, phone, t, when } from "./locale.js";

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Who calls, in words: the contact's name, else the caller ID name, else "unknown number".
export function callerName(message, card) {
  const contact = (card && card.contact) || message.contact;
  if (contact && contact.name) return contact.name;
  if (message.caller_name) return message.caller_name;
  return message.caller_number ? t("text.unknown_number") : t("text.no_number");
}

function displayOf(message, card) {
  const display = Object.assign({}, (card && card.display) || {});
  if (message.caller_number && message.caller_number_display) {
    display[message.caller_number] = display[message.caller_number] || message.caller_number_display;
  }
  return display;
}

function callButton(number, contactId, display, handlers) {
  if (!number || !handlers.call) return null;
  return el(
    "button",
    {
      type: "button",
      class: "call-button",
      "aria-label": t("text.call_number", { number: phone(number, display) }),
      onclick: () => handlers.call(number, contactId),
    },
    t("text.call"),
  );
}

function section(title, items, render) {
  const list = el("ul", { class: "plain" });
  if (!items || !items.length) list.append(el("li", { class: "muted" }, t("text.none")));
  else for (const item of items) list.append(render(item));
  return el("section", { class: "card-section" }, el("h3", {}, title), list);
}

function lastCall(call, display) {
  const number = call.direction === "outbound" ? call.called_number : call.caller_number;
  return el(
    "li",
    { class: "last-call" },
    el("span", { class: "nowrap" }, when(call.started_at)),
    " ",
    el("span", { class: "badge disp-" + call.disposition }, t("disposition." + call.disposition)),
    " ",
    call.id ? el("a", { class: "call-link", href: "/calls/" + call.id }, t("direction." + call.direction)) : t("direction." + call.direction),
    number ? el("span", { class: "muted" }, " · " + phone(number, display)) : null,
    call.agent ? el("span", { class: "muted" }, " · " + call.agent.name) : null,
    call.talk_seconds ? el("span", { class: "muted" }, " · " + t("text.talk", { duration: duration(call.talk_seconds) })) : null,
    call.recording && call.id
      ? el("div", { class: "recording-slot", dataset: { recordingCallId: String(call.id), linkedid: call.linkedid } })
      : null,
  );
}

function createContactForm(message, handlers) {
  const name = el("input", { name: "name", required: true, maxlength: "255", autocomplete: "off" });
  const number = el("input", { name: "phone", type: "tel", maxlength: "64", value: message.caller_number_display || message.caller_number || "" });
  if (message.caller_name && !/^Customer /.test(message.caller_name)) name.value = message.caller_name;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const button = el("button", { type: "submit", class: "primary" }, t("text.create_contact"));
  const id = "cc-" + String(message.linkedid).replace(/[^A-Za-z0-9_-]/g, "_");
  const form = el(
    "form",
    { class: "create-contact", novalidate: true },
    el("p", { class: "unknown" }, el("strong", {}, t("text.unknown_number"))),
    el("label", { for: id + "-name" }, t("text.contact_name")),
    name,
    el("label", { for: id + "-phone" }, t("text.phone")),
    number,
    button,
    error,
  );
  name.id = id + "-name";
  number.id = id + "-phone";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      name.focus();
      return;
    }
    button.disabled = true;
    button.textContent = t("text.creating");
    error.hidden = true;
    try {
      const phones = number.value.trim() ? [number.value.trim()] : [];
      const contact = await postJSON("/api/contacts", { name: name.value.trim(), phones });
      const card = await getJSON("/api/panel/card?contact_id=" + encodeURIComponent(contact.id));
      if (handlers.contactCreated) handlers.contactCreated(message.linkedid, card);
    } catch (failure) {
      error.textContent = errorText(failure);
      error.hidden = false;
      button.disabled = false;
      button.textContent = t("text.create_contact");
    }
  });
  return form;
}

// The card of a call. `kind`: "ringing", "current" or "wrapup"; handlers: call(number,
// contactId), contactCreated(linkedid, card).
export function renderCard(message, card, kind, handlers) {
  const display = displayOf(message, card);
  const contact = (card && card.contact) || message.contact || null;
  const company = card && card.company;
  const owner = card && card.owner;
  const header = el(
    "header",
    { class: "call-head" },
    el(
      "p",
      { class: "call-kind" },
      kind === "ringing" ? t("text.ringing_for_you") : kind === "current" ? t("text.on_call") : t("text.wrapup_title"),
      message.queue ? " · " + t("text.queue") + " " + message.queue : "",
    ),
    el("h2", { class: "caller-name" }, callerName(message, card)),
    el(
      "p",
      { class: "caller-number" },
      el("span", { class: "nowrap" }, phone(message.caller_number, display) || t("text.no_number")),
      " ",
      callButton(message.caller_number, contact && contact.id, display, handlers),
    ),
    message.routing_reason ? el("p", { class: "why" }, el("strong", {}, t("text.why") + ": "), (message.routing_reason_localized || {})[lang] || message.routing_reason) : null,
  );
  const body = el("div", { class: "card-body" });
  if (contact) {
    const facts = el("dl", { class: "facts" });
    facts.append(el("dt", {}, t("text.company")), el("dd", {}, company ? company.name : "—"));
    facts.append(el("dt", {}, t("text.manager")), el("dd", {}, owner ? owner.name : "—"));
    for (const p of contact.phones || []) {
      if (p.number === message.caller_number) continue;
      facts.append(
        el("dt", {}, p.label || t("text.phone")),
        p.valid === false
          ? el("dd", {}, el("span", { class: "nowrap" }, p.raw || p.number), " ", el("span", { class: "phone-flagged", role: "note" }, "⚠ " + t("text.phone_flagged")))
          : el("dd", {}, el("span", { class: "nowrap" }, phone(p.number, display)), " ", callButton(p.number, contact.id, display, handlers)),
      );
    }
    body.append(facts);
    body.append(el("p", {}, el("a", { href: "/contacts/" + encodeURIComponent(contact.id), target: "_blank", rel: "noopener", class: "open-card" }, t("text.open_card"))));
  } else if (card || message.caller_number) {
    body.append(el("p", {}, el("span", { class: "muted" }, t("text.company") + ": —")));
    if (message.caller_number) body.append(createContactForm(message, handlers));
  }
  if (card) {
    const calls = el("div", { class: "card-sections" });
    calls.append(section(t("text.last_calls"), (card.last_calls || []).slice(0, 5), (c) => lastCall(c, display)));
    calls.append(
      section(t("text.open_tasks"), card.open_tasks, (task) =>
        el("li", {}, task.title, " ", el("span", { class: "muted" }, task.due_at ? t("text.due", { when: when(task.due_at) }) : t("text.no_due"))),
      ),
    );
    if (contact) calls.append(dealsSection(el, card, contact.id, handlers.say, kind === "wrapup"));
    else calls.append(
      section(t("text.deals"), card.deals, (deal) =>
        el(
          "li",
          {},
          deal.title,
          " — ",
          el("span", { class: "stage stage-" + ((deal.stage && deal.stage.kind) || "open") }, deal.stage ? deal.stage.name : ""),
          deal.amount ? el("span", { class: "muted" }, " · " + money(deal.amount, deal.currency)) : null,
        ),
      ),
    );
    calls.append(
      section(t("text.notes"), (card.notes || []).slice(0, 3), (note) =>
        el("li", {}, el("span", { class: "note-body" }, note.body), " ", el("span", { class: "muted" }, "— " + (note.author ? note.author.name + ", " : "") + when(note.created_at))),
      ),
    );
    body.append(calls);
  }
  return el("article", { class: "call-card " + kind, dataset: { linkedid: message.linkedid } }, header, body);
}

export { clock };
