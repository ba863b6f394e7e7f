// @ts-check
// /admin/triggers: a point-and-click editor of a rule's conditions and actions over the
// form's JSON text areas (`conditions`, `actions`), which stay what the form posts. Every
// change here rewrites the JSON (pretty-printed); editing the JSON by hand and leaving
// the field draws the editor again (invalid JSON: a message, the text left alone).
// The catalogue and the words come from <script type="application/json"
// id="rule-builder-data"> (web/pages/admin/rule_builder.py). Values go in through
// textContent and value only.

/** @typedef {{[key: string]: any}} Item */

const dataNode = document.getElementById("rule-builder-data");
/** @type {{[key: string]: any}} */
const data = dataNode ? JSON.parse(dataNode.textContent || "{}") : {};
/** @type {Record<string, string>} */
const words = data.strings || {};
const lists = new Set(data.lists || []);
const noValue = new Set(data.no_value || []);
/** @type {Record<string, string>} */
const actionLabels = Object.fromEntries(data.actions || []);
const ACTION_KINDS = (data.actions || [])
  .map((/** @type {[string, string]} */ pair) => pair[0])
  .filter((/** @type {string} */ k) => k !== "callback_task");

/** @param {string} key */
function t(key) {
  return Object.prototype.hasOwnProperty.call(words, key) ? words[key] : key;
}

/**
 * @param {string} tag
 * @param {{[key: string]: string}} [attrs]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A labelled control: <label>text <control></label>.
 * @param {string} text
 * @param {HTMLElement} control
 * @param {string} [cls]
 */
function labelled(text, control, cls) {
  const label = el("label", cls ? { class: cls } : {});
  label.append(document.createTextNode(text + " "), control);
  return label;
}

/**
 * @param {Array<[string | number, string]>} options
 * @param {string} current
 * @param {string} role
 * @returns {HTMLSelectElement}
 */
function select(options, current, role) {
  const node = /** @type {HTMLSelectElement} */ (el("select", { "data-rb": role }));
  for (const [value, label] of options) {
    const option = /** @type {HTMLOptionElement} */ (el("option", {}, label));
    option.value = String(value);
    node.append(option);
  }
  if (!options.some(([value]) => String(value) === current)) {
    const option = /** @type {HTMLOptionElement} */ (el("option", {}, current || t("choose")));
    option.value = current;
    node.prepend(option);
  }
  node.value = current;
  return node;
}

/**
 * @param {string} role
 * @param {string} kind
 * @param {string} title
 */
function button(role, kind, title) {
  const node = /** @type {HTMLButtonElement} */ (el("button", { type: "button", "data-rb": role }, title));
  node.setAttribute("data-kind", kind);
  return node;
}

/** @param {unknown} value */
function asText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map((v) => String(v)).join(", ");
  return String(value);
}

/**
 * The text of a value input as the rule stores it (a number for number fields, a list
 * for the list operators).
 * @param {string} text
 * @param {string} kind
 * @param {string} op
 */
function parsedValue(text, kind, op) {
  /** @param {string} part */
  const one = (part) => {
    const trimmed = part.trim();
    if ((kind === "number" || kind === "user") && trimmed !== "" && !Number.isNaN(Number(trimmed))) {
      return Number(trimmed);
    }
    return trimmed;
  };
  if (lists.has(op)) {
    return text.split(",").map(one).filter((v) => v !== "");
  }
  return one(text);
}

/**
 * @param {HTMLFormElement} form
 * @param {HTMLElement} root
 */
function builder(form, root) {
  const condArea = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("conditions"));
  const actArea = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("actions"));
  const eventSelect = /** @type {HTMLSelectElement | null} */ (form.elements.namedItem("event"));
  /** @type {Item[]} */
  let conditions = [];
  /** @type {Item[]} */
  let actions = [];

  const hint = el("p", { class: "muted rb-hint" }, t("json_hint"));
  const condBox = el("fieldset", { "data-rb": "conditions" });
  condBox.append(el("legend", {}, t("conditions")));
  const condProblem = el("p", { class: "notice warning rb-problem", role: "alert", hidden: "" });
  const condList = el("ol", { "data-rb": "condition-list" });
  const addCond = button("add-condition", "", t("add_condition"));
  const condBody = el("div");
  condBody.append(condList, addCond);
  condBox.append(condProblem, condBody);

  const actBox = el("fieldset", { "data-rb": "actions" });
  actBox.append(el("legend", {}, t("actions")));
  const actProblem = el("p", { class: "notice warning rb-problem", role: "alert", hidden: "" });
  const actList = el("ol", { "data-rb": "action-list" });
  const addKind = select(
    ACTION_KINDS.map((k) => [k, actionLabels[k]]),
    ACTION_KINDS[0] || "",
    "new-action-kind",
  );
  const addAct = button("add-action", "", t("add_action"));
  const adder = el("div", { class: "rb-buttons" });
  adder.append(labelled(t("action_kind"), addKind), addAct);
  const actBody = el("div");
  actBody.append(actList, adder);
  actBox.append(actProblem, actBody);
  root.append(hint, condBox, actBox);

  function eventFields() {
    const event = eventSelect ? eventSelect.value : "";
    return /** @type {string[]} */ ((data.events || {})[event] || []);
  }

  function writeConditions() {
    condArea.value = JSON.stringify(conditions, null, 2);
  }
  function writeActions() {
    actArea.value = JSON.stringify(actions, null, 2);
  }

  /**
   * @param {HTMLTextAreaElement} area
   * @param {HTMLElement} problem
   * @param {HTMLElement} body the editing part, hidden while the JSON cannot be shown
   * @returns {Item[] | null}
   */
  function read(area, problem, body) {
    let parsed;
    try {
      parsed = JSON.parse(area.value.trim() || "[]");
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed)) {
      problem.textContent = t(parsed === undefined ? "bad_json" : "not_list");
      problem.hidden = false;
      body.hidden = true;
      return null;
    }
    body.hidden = false;
    problem.hidden = true;
    problem.textContent = "";
    return parsed.map((item) => (item && typeof item === "object" && !Array.isArray(item) ? item : {}));
  }

  /** @param {Item} item @param {number} index */
  function conditionRow(item, index) {
    const row = el("li", { class: "rb-row", "data-rb": "condition" });
    const fields = eventFields();
    const field = String(item.field || "");
    /** @type {Array<[string, string]>} */
    const fieldOptions = fields.map((name) => [name, name]);
    if (field && !fields.includes(field)) fieldOptions.unshift([field, `${field} ${t("not_for_event")}`]);
    const fieldSelect = select(fieldOptions, field, "field");
    const kind = String((data.fields || {})[field] || "text");
    /** @type {string[]} */
    const ops = (data.operators || {})[kind] || [];
    const op = String(item.op || "");
    const opSelect = select(
      ops.map((o) => [o, (data.operator_labels || {})[o] || o]),
      op,
      "op",
    );
    row.append(labelled(t("field"), fieldSelect), labelled(t("operator"), opSelect));
    if (!noValue.has(op)) {
      /** @type {HTMLInputElement | HTMLSelectElement} */
      let valueInput;
      if (kind === "user" && !lists.has(op) && (data.users || []).length) {
        valueInput = select(data.users, asText(item.value), "value");
      } else {
        valueInput = /** @type {HTMLInputElement} */ (el("input", { "data-rb": "value" }));
        valueInput.value = asText(item.value);
        if (lists.has(op)) valueInput.title = t("values_hint");
        if (kind === "time" && !lists.has(op)) valueInput.placeholder = "09:00";
      }
      valueInput.addEventListener(valueInput instanceof HTMLSelectElement ? "change" : "input", () => {
        item.value = parsedValue(valueInput.value, kind, op);
        writeConditions();
      });
      row.append(labelled(t("value"), valueInput));
    }
    const remove = button("remove", "condition", t("remove"));
    remove.addEventListener("click", () => {
      conditions.splice(index, 1);
      writeConditions();
      drawConditions();
    });
    row.append(remove);
    fieldSelect.addEventListener("change", () => {
      item.field = fieldSelect.value;
      const newKind = String((data.fields || {})[item.field] || "text");
      /** @type {string[]} */
      const newOps = (data.operators || {})[newKind] || [];
      if (!newOps.includes(String(item.op))) item.op = newOps[0] || "";
      if (newKind !== kind) item.value = noValue.has(item.op) ? null : lists.has(item.op) ? [] : "";
      writeConditions();
      drawConditions();
    });
    opSelect.addEventListener("change", () => {
      const before = String(item.op || "");
      item.op = opSelect.value;
      if (noValue.has(item.op)) item.value = null;
      else if (lists.has(item.op) && !lists.has(before)) item.value = parsedValue(asText(item.value), kind, item.op);
      else if (!lists.has(item.op) && lists.has(before)) item.value = parsedValue(asText((item.value || [])[0]), kind, item.op);
      writeConditions();
      drawConditions();
    });
    return row;
  }

  function drawConditions() {
    condList.replaceChildren(...conditions.map(conditionRow));
    if (!conditions.length) condList.append(el("li", { class: "muted" }, t("no_conditions")));
  }

  /**
   * A text or number parameter of an action.
   * @param {Item} item
   * @param {string} key
   * @param {string} label
   * @param {"text" | "number" | "area"} type
   */
  function param(item, key, label, type) {
    /** @type {HTMLInputElement | HTMLTextAreaElement} */
    let input;
    if (type === "area") {
      input = /** @type {HTMLTextAreaElement} */ (el("textarea", { rows: "2", "data-rb": key }));
      input.placeholder = t("template_hint");
    } else {
      input = /** @type {HTMLInputElement} */ (el("input", { "data-rb": key }));
      if (type === "number") {
        input.type = "number";
        input.min = "0";
        input.step = "any";
        input.className = "rb-number";
      }
    }
    input.value = asText(item[key]);
    input.addEventListener("input", () => {
      const text = input.value.trim();
      if (type === "number") item[key] = text === "" ? null : Number(text);
      else item[key] = input.value;
      writeActions();
    });
    return labelled(label, input, type === "number" ? "" : "rb-wide");
  }

  /**
   * A choice from a list the page offers (else a number input).
   * @param {Item} item
   * @param {string} key
   * @param {string} label
   * @param {Array<[number, string]>} options
   */
  function pick(item, key, label, options) {
    if (!options.length) return param(item, key, label, "number");
    const node = select(options, asText(item[key]), key);
    node.addEventListener("change", () => {
      item[key] = node.value === "" ? null : Number(node.value);
      writeActions();
    });
    return labelled(label, node);
  }

  /** @param {Item} item @param {HTMLElement} box */
  function assignee(item, box) {
    const chosen = Array.isArray(item.assignee) ? item.assignee.map(String) : [];
    const group = el("fieldset", { class: "rb-who", "data-rb": "assignee" });
    group.append(el("legend", {}, t("assignee")));
    /** @type {Array<[string, string]>} */
    const all = data.assignees || [];
    const ordered = [
      ...chosen.map((who) => all.find(([code]) => code === who) || [who, who]),
      ...all.filter(([code]) => !chosen.includes(code)),
    ];
    for (const [code, label] of ordered) {
      const check = /** @type {HTMLInputElement} */ (el("input", { type: "checkbox", "data-who": code }));
      check.checked = chosen.includes(code);
      check.addEventListener("change", () => {
        const now = Array.isArray(item.assignee) ? item.assignee.map(String) : [];
        item.assignee = check.checked ? [...now.filter((w) => w !== code), code] : now.filter((w) => w !== code);
        if (!item.assignee.includes("user")) delete item.user_id;
        writeActions();
        drawActions();
      });
      const line = el("label");
      line.append(check, document.createTextNode(" " + label));
      group.append(line);
    }
    box.append(group);
    if (chosen.includes("user")) box.append(pick(item, "user_id", t("user"), data.users || []));
  }

  /** @param {Item} item @param {number} index */
  function actionRow(item, index) {
    const row = el("li", { class: "rb-row", "data-rb": "action" });
    const kind = String(item.type || "");
    row.setAttribute("data-kind", kind);
    const heading = el("strong", {}, `${index + 1}. ${actionLabels[kind] || kind}`);
    const buttons = el("div", { class: "rb-buttons" });
    const up = button("up", "action", t("up"));
    const down = button("down", "action", t("down"));
    const remove = button("remove", "action", t("remove"));
    up.disabled = index === 0;
    down.disabled = index === actions.length - 1;
    /** @param {number} to */
    const move = (to) => {
      const [moved] = actions.splice(index, 1);
      actions.splice(to, 0, moved);
      writeActions();
      drawActions();
    };
    up.addEventListener("click", () => move(index - 1));
    down.addEventListener("click", () => move(index + 1));
    remove.addEventListener("click", () => {
      actions.splice(index, 1);
      writeActions();
      drawActions();
    });
    buttons.append(up, down, remove);
    const params = el("div", { class: "rb-params" });
    if (kind === "create_task") {
      params.append(param(item, "title", t("title"), "text"), param(item, "description", t("description"), "area"));
      assignee(item, params);
      params.append(param(item, "due_hours", t("due_hours"), "number"));
      const working = /** @type {HTMLInputElement} */ (el("input", { type: "checkbox", "data-rb": "working_hours" }));
      working.checked = Boolean(item.working_hours);
      working.addEventListener("change", () => {
        item.working_hours = working.checked;
        writeActions();
      });
      const line = el("label", { class: "check" });
      line.append(working, document.createTextNode(" " + t("working_hours")));
      params.append(line);
    } else if (kind === "assign_owner") {
      assignee(item, params);
    } else if (kind === "add_tag" || kind === "remove_tag") {
      params.append(param(item, "tag", t("tag"), "text"));
    } else if (kind === "move_stage") {
      params.append(pick(item, "stage_id", t("stage"), data.stages || []));
    } else if (kind === "notify") {
      params.append(param(item, "text", t("text"), "area"));
      assignee(item, params);
    } else if (kind === "webhook") {
      params.append(pick(item, "webhook_id", t("webhook"), data.webhooks || []));
    } else if (kind === "send_email") {
      params.append(pick(item, "mailbox_id", t("mailbox"), data.mailboxes || []));
      params.append(pick(item, "template_id", t("mail_template"), [["", t("no_template")], ...(data.mail_templates || [])]));
      params.append(param(item, "subject", t("subject"), "text"), param(item, "body", t("body"), "area"));
    } else if (kind === "callback_task") {
      params.append(param(item, "due_minutes", t("due_minutes"), "number"));
    }
    row.append(heading, buttons, params);
    return row;
  }

  function drawActions() {
    actList.replaceChildren(...actions.map(actionRow));
    if (!actions.length) actList.append(el("li", { class: "muted" }, t("no_actions")));
  }

  /** A new action of `kind` with the parameters it needs. @param {string} kind */
  function fresh(kind) {
    /** @type {Item} */
    const item = { type: kind };
    if (kind === "create_task") Object.assign(item, { title: "", assignee: ["owner"], due_hours: 1, working_hours: true });
    else if (kind === "assign_owner" ) item.assignee = ["owner"];
    else if (kind === "notify") Object.assign(item, { text: "", assignee: ["owner"] });
    else if (kind === "add_tag" || kind === "remove_tag") item.tag = "";
    else if (kind === "move_stage") item.stage_id = (data.stages || [])[0] ? data.stages[0][0] : null;
    else if (kind === "webhook") item.webhook_id = (data.webhooks || [])[0] ? data.webhooks[0][0] : null;
    else if (kind === "send_email") {
      Object.assign(item, { mailbox_id: (data.mailboxes || [])[0] ? data.mailboxes[0][0] : null, subject: "", body: "" });
      item.template_id = (data.mail_templates || [])[0] ? data.mail_templates[0][0] : null;
    }
    return item;
  }

  addCond.addEventListener("click", () => {
    const field = eventFields().find((name) => name !== "event") || "time";
    const kind = String((data.fields || {})[field] || "text");
    const op = ((data.operators || {})[kind] || [""])[0];
    conditions.push({ field, op, value: lists.has(op) ? [] : "" });
    writeConditions();
    drawConditions();
  });
  addAct.addEventListener("click", () => {
    actions.push(fresh(addKind.value));
    writeActions();
    drawActions();
  });
  condArea.addEventListener("change", () => {
    const parsed = read(condArea, condProblem, condBody);
    if (parsed) {
      conditions = parsed;
      drawConditions();
    }
  });
  actArea.addEventListener("change", () => {
    const parsed = read(actArea, actProblem, actBody);
    if (parsed) {
      actions = parsed;
      drawActions();
    }
  });
  if (eventSelect) eventSelect.addEventListener("change", drawConditions);

  conditions = read(condArea, condProblem, condBody) || [];
  actions = read(actArea, actProblem, actBody) || [];
  drawConditions();
  drawActions();
  root.hidden = false;
}

for (const root of document.querySelectorAll("[data-rule-builder]")) {
  const form = root.closest("form");
  if (form && root instanceof HTMLElement) builder(form, root);
}
