// Deals from the card, during or after the call: each deal of the contact with its stage
// as a drop-down (PATCH /api/deals/<id> with the version read), and a form for a new
// deal (POST /api/deals). The card's `deals` list is updated in place, so the card drawn
// again (an update of the pop, the call answered, the wrap-up) shows what was done.
// Values from the server go in as text only (card.js's `el`).

import { getJSON, postJSON, request } from "./api.js";
import { errorText, money, t } from "./locale.js";

let pipelines = null; // one request per page: Promise of [{id, name, stages: [{id, name, kind}]}]

function loadPipelines() {
  if (!pipelines) {
    pipelines = getJSON("/api/pipelines").then(
      (data) => (data && data.items) || [],
      (error) => {
        pipelines = null; // try again next time
        throw error;
      },
    );
  }
  return pipelines;
}

function stageSelect(el, deal, says) {
  const select = el("select", { class: "deal-stage", "aria-label": t("deal.stage_of", { title: deal.title }) });
  select.append(el("option", { value: String(deal.stage_id) }, deal.stage ? deal.stage.name : "…"));
  loadPipelines().then(
    (items) => {
      const pipeline = items.find((p) => p.id === deal.pipeline_id);
      if (!pipeline) return;
      select.replaceChildren(
        ...pipeline.stages.map((stage) => el("option", { value: String(stage.id), selected: stage.id === deal.stage_id }, stage.name)),
      );
    },
    () => {}, // the current stage stays shown; changing it is not offered
  );
  select.addEventListener("change", async () => {
    const stageId = Number(select.value);
    select.disabled = true;
    try {
      const saved = await request("PATCH", "/api/deals/" + encodeURIComponent(deal.id), { version: deal.version, stage_id: stageId });
      Object.assign(deal, saved);
      says(t("deal.stage_changed", { title: deal.title, stage: saved.stage ? saved.stage.name : "" }), false);
    } catch (failure) {
      select.value = String(deal.stage_id);
      says(errorText(failure), true);
    } finally {
      select.disabled = false;
    }
  });
  return select;
}

function dealItem(el, deal, says) {
  return el(
    "li",
    { class: "deal", dataset: { dealId: String(deal.id) } },
    el("span", { class: "deal-title" }, deal.title),
    " ",
    stageSelect(el, deal, says),
    deal.amount ? el("span", { class: "muted" }, " · " + money(deal.amount, deal.currency)) : null,
  );
}

function newDealForm(el, card, contactId, list, says) {
  const uid = "nd-" + contactId + "-" + Math.random().toString(36).slice(2, 8);
  const title = el("input", { id: uid + "-title", name: "title", required: true, maxlength: "255", autocomplete: "off" });
  const amount = el("input", { id: uid + "-amount", name: "amount", inputmode: "decimal", maxlength: "20", autocomplete: "off" });
  // the sales forecast's month (docs/reports.md, "Sales forecast")
  const closes = el("input", { id: uid + "-closes", name: "expected_close_on", type: "date" });
  const button = el("button", { type: "submit" }, t("deal.create"));
  const form = el(
    "form",
    { class: "new-deal", novalidate: true },
    el("label", { for: uid + "-title" }, t("deal.title")),
    title,
    el("label", { for: uid + "-amount" }, t("deal.amount")),
    amount,
    el("label", { for: uid + "-closes" }, t("deal.expected_close")),
    closes,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!title.value.trim()) {
      title.focus();
      return;
    }
    const body = { title: title.value.trim(), contact_id: contactId };
    const sum = amount.value.trim().replace(/\s/g, "").replace(",", ".");
    if (sum) body.amount = sum;
    if (closes.value) body.expected_close_on = closes.value;
    button.disabled = true;
    try {
      const deal = await postJSON("/api/deals", body);
      card.deals = card.deals || [];
      card.deals.unshift(deal);
      list.querySelector(".none")?.remove();
      list.prepend(dealItem(el, deal, says));
      title.value = "";
      amount.value = "";
      closes.value = "";
      says(t("deal.created", { title: deal.title }), false);
    } catch (failure) {
      says(errorText(failure), true);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// The card's "Deals" section with the tools. `el` is card.js's element builder; `say`
// (text, isError) tells the agent what happened (the section's own status line if none).
// `folded` (the wrap-up card, whose form is right below): the deals as text and a button
// that opens the tools.
export function dealsSection(el, card, contactId, say, folded) {
  const section = el("section", { class: "card-section deals-section" }, el("h3", {}, t("text.deals")));
  if (folded) {
    const list = el("ul", { class: "plain deals" });
    const deals = card.deals || [];
    if (!deals.length) list.append(el("li", { class: "muted" }, t("text.none")));
    for (const deal of deals) {
      list.append(
        el(
          "li",
          { class: "deal", dataset: { dealId: String(deal.id) } },
          el("span", { class: "deal-title" }, deal.title),
          " — ",
          el("span", { class: "stage stage-" + ((deal.stage && deal.stage.kind) || "open") }, deal.stage ? deal.stage.name : ""),
          deal.amount ? el("span", { class: "muted" }, " · " + money(deal.amount, deal.currency)) : null,
        ),
      );
    }
    const open = el("button", { type: "button", class: "link deals-open" }, t("deal.open_tools"));
    open.addEventListener("click", () => section.replaceWith(dealsSection(el, card, contactId, say, false)));
    section.append(list, open);
    return section;
  }
  const status = el("p", { class: "deal-status", role: "status", "aria-live": "polite", hidden: true });
  const says = (text, isError) => {
    status.textContent = text;
    status.hidden = !text;
    status.classList.toggle("error", Boolean(isError));
    if (say) say(text, isError);
  };
  const list = el("ul", { class: "plain deals" });
  const deals = card.deals || [];
  if (!deals.length) list.append(el("li", { class: "muted none" }, t("text.none")));
  for (const deal of deals) list.append(dealItem(el, deal, says));
  section.append(list, newDealForm(el, card, contactId, list, says), status);
  return section;
}
