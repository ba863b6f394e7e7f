"""What the point-and-click rule editor of `/admin/triggers` needs on the page
(`static/js/admin/rule-builder.js`): the events and the fields each offers, the operators
per field kind, the actions with their labels, the people, webhooks and deal stages a rule
may name, and the editor's words in the admin's language. Rendered as JSON into
`<script type="application/json" id="rule-builder-data">`; the JSON text areas stay what
the form posts. Russian in web/locale/ru/LC_MESSAGES/rulebuilder.po.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from crm.rules.actions import ASSIGNEES
from crm.rules.conditions import LISTS, NO_VALUE
from crm.rules.fields import FIELDS, OPERATORS
from crm.users import UserInfo
from web.auth import crm_of
from web.i18n import N_
from web.pages.admin.posting import page_gettext
from web.rule_texts import ACTIONS, EVENTS

OPERATOR_LABELS = {
    "eq": N_("equals"),
    "ne": N_("does not equal"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "contains": N_("contains"),
    "empty": N_("is empty"),
    "not_empty": N_("is not empty"),
    "gt": N_("is greater than"),
    "ge": N_("is at least"),
    "lt": N_("is less than"),
    "le": N_("is at most"),
    "has": N_("has the tag"),
    "has_not": N_("has not the tag"),
    "has_any": N_("has any of the tags"),
    "before": N_("is before"),
    "after": N_("is after"),
    "between": N_("is between"),
}
ASSIGNEE_LABELS = {
    "owner": N_("the contact's owner"),
    "agent": N_("the call's agent"),
    "routed": N_("the manager the call was routed to"),
    "supervisor": N_("the queue's supervisor"),
    "user": N_("this user:"),
}
STRINGS = {
    "conditions": N_("Conditions"),
    "actions": N_("Actions"),
    "no_conditions": N_("No conditions: the rule runs on every such event."),
    "no_actions": N_("No actions: add one below."),
    "add_condition": N_("Add a condition"),
    "add_action": N_("Add an action"),
    "remove": N_("Remove"),
    "up": N_("Move up"),
    "down": N_("Move down"),
    "field": N_("Field"),
    "operator": N_("Operator"),
    "value": N_("Value"),
    "values_hint": N_("several values: separate with commas"),
    "action_kind": N_("Action"),
    "title": N_("Title"),
    "description": N_("Description"),
    "assignee": N_("To whom (the first who is active)"),
    "user": N_("User"),
    "due_hours": N_("Due in hours"),
    "working_hours": N_("Working hours only"),
    "tag": N_("Tag"),
    "stage": N_("Stage"),
    "text": N_("Text"),
    "webhook": N_("Webhook"),
    "due_minutes": N_("Due in minutes"),
    "mailbox": N_("Send from"),
    "mail_template": N_("Letter template"),
    "no_template": N_("— no template: the subject and text below —"),
    "subject": N_("Subject"),
    "body": N_("Text"),
    "choose": N_("— choose —"),
    "not_for_event": N_("(not for this event)"),
    "bad_json": N_("This JSON is not valid, so the editor cannot show it: fix the text."),
    "not_list": N_("A list […] is expected here."),
    "template_hint": N_("Jinja2 template, e.g. {{ contact_name }}"),
    "json_hint": N_("The JSON below is what is saved; you may also edit it by hand."),
}


async def builder_data(request: Request, user: UserInfo) -> dict[str, Any]:
    """The editor's catalogue, in the admin's language."""
    gettext = page_gettext(request, user)
    crm = crm_of(request)
    users = [[u.id, u.name] for u in await crm.users.list(include_inactive=False)]
    webhooks = [[w["id"], w["url"]] for w in await crm.webhooks.list()]
    mailboxes = [[m["id"], f"{m['name']} <{m['address']}>"] for m in await crm.mailboxes.list()]
    mail_templates = [[t["id"], t["name"]] for t in await crm.mail_templates.list()]
    stages = [
        [stage["id"], f"{pipeline['name']}: {stage['name']}"]
        for pipeline in await crm.pipelines.list()
        for stage in pipeline.get("stages", [])
    ]
    return {
        "events": {
            code: [name for name, f in FIELDS.items() if code in f.events] for code in EVENTS
        },
        "fields": {name: f.kind for name, f in FIELDS.items()},
        "operators": {kind: list(ops) for kind, ops in OPERATORS.items()},
        "operator_labels": {op: gettext(label) for op, label in OPERATOR_LABELS.items()},
        "lists": sorted(LISTS),
        "no_value": sorted(NO_VALUE),
        "actions": [[kind, gettext(label)] for kind, label in ACTIONS.items()],  # in order
        "assignees": [[who, gettext(ASSIGNEE_LABELS[who])] for who in ASSIGNEES],
        "users": users,
        "webhooks": webhooks,
        "stages": stages,
        "mailboxes": mailboxes,
        "mail_templates": mail_templates,
        "strings": {key: gettext(text) for key, text in STRINGS.items()},
    }
