"""The triggers' words for people: a refused rule as the admin reads it, in their language
(`Действие 1, заголовок: шаблон не годится — unexpected end of template`), and the labels
of events, fields, operators and actions for `/admin/triggers`. Russian in
web/locale/ru/LC_MESSAGES/rules.po.
"""

from __future__ import annotations

from collections.abc import Callable

from kernel.errors import DomainError
from web.i18n import N_

EVENTS = {
    "call.missed": N_("A call was missed"),
    "call.answered": N_("A call was answered"),
    "call.ended": N_("A call ended"),
    "contact.created": N_("A contact was created"),
    "contact.updated": N_("A contact was changed"),
    "deal.created": N_("A deal was created"),
    "deal.stage_changed": N_("A deal moved to another stage"),
    "task.overdue": N_("A task is overdue"),
    "email.received": N_("A letter came from a contact"),
    "schedule.deal_idle": N_("Every day: deals without activity"),
    "schedule.task_overdue": N_("Every day: overdue tasks"),
    "schedule.contact_idle": N_("Every day: contacts without a call"),
}
ACTIONS = {
    "create_task": N_("Create a task"),
    "assign_owner": N_("Assign the owner"),
    "add_tag": N_("Add a tag"),
    "remove_tag": N_("Remove a tag"),
    "move_stage": N_("Move the deal to a stage"),
    "notify": N_("Notify a user in the panel"),
    "webhook": N_("Call a webhook"),
    "send_email": N_("Send an e-mail"),
    "callback_task": N_("A callback task (one per customer per day)"),
}
PARTS = {
    "name": N_("name"),
    "event": N_("event"),
    "enabled": N_("on/off"),
    "conditions": N_("conditions"),
    "actions": N_("actions"),
    "field": N_("field"),
    "op": N_("operator"),
    "value": N_("value"),
    "type": N_("type"),
    "title": N_("title"),
    "description": N_("description"),
    "text": N_("text"),
    "tag": N_("tag"),
    "assignee": N_("assignee"),
    "user_id": N_("user"),
    "due_hours": N_("due in hours"),
    "due_minutes": N_("due in minutes"),
    "stage_id": N_("stage"),
    "webhook_id": N_("webhook"),
    "call_id": N_("call"),
    "id": N_("rule"),
    "schedule": N_("schedule"),
    "at": N_("time"),
    "weekdays_only": N_("weekdays only"),
    "days": N_("days without activity"),
}


def field_text(field: str, gettext: Callable[[str], str]) -> str:
    """`actions.0.title` → "Action 1, title" in the reader's language."""
    words: list[str] = []
    parts = field.split(".")
    index = 0
    while index < len(parts):
        part = parts[index]
        following = parts[index + 1] if index + 1 < len(parts) else None
        if part in ("actions", "conditions") and following is not None and following.isdigit():
            label = gettext("Action %(n)s") if part == "actions" else gettext("Condition %(n)s")
            words.append(label % {"n": int(following) + 1})
            index += 2
            continue
        if part.isdigit():
            words.append(str(int(part) + 1))
        else:
            words.append(gettext(PARTS[part]) if part in PARTS else part)
        index += 1
    return ", ".join(words)


def problem(exc: DomainError, gettext: Callable[[str], str]) -> str:
    """The refusal as one sentence naming the field (and Jinja2's words for a template)."""
    text = gettext(exc.message)
    if exc.field:
        text = f"{field_text(exc.field, gettext)}: {text}"
    detail = exc.details.get("detail")
    if detail:
        text = f"{text} — {detail}"
    return text


# What `crm.rules` says when it refuses a rule or cannot do an action (English msgids,
# translated when shown: `problem`, the run log).
REFUSALS = (
    N_("a built-in rule keeps its event"),
    N_("a built-in rule cannot be deleted: switch it off instead"),
    N_("a condition is {field, op, value}"),
    N_("a list of values is expected"),
    N_("a number is expected"),
    N_("a tag of 1 to 64 characters"),
    N_("a text of 1 to 200 characters is expected"),
    N_("a text of at most 2000 characters is expected"),
    N_("a time of day is expected as HH:MM"),
    N_("a user id is expected"),
    N_("a whole number is expected"),
    N_("add at least one action"),
    N_("an action is an object with a type"),
    N_("at most 20 actions"),
    N_("at most 20 conditions"),
    N_("at most 200 rules"),
    N_("at most a week"),
    N_("between takes two times: from and to"),
    N_("choose who: owner, agent, routed, supervisor or user"),
    N_("enter a text"),
    N_("give an event or a call_id"),
    N_("hours: a number, 0 or more"),
    N_("hours: at most a year"),
    N_("no such call"),
    N_("no such rule"),
    N_("only a deal's rule can move its stage"),
    N_("the actions must be a list"),
    N_("the call did not make this rule's event"),
    N_("the conditions must be a list"),
    N_("the name must be 1 to 200 characters long"),
    N_("the rule changed meanwhile"),
    N_("the template is not valid"),
    N_("this event has no such field"),
    N_("this operator does not apply to the field"),
    N_("this rule is not about calls"),
    N_("true or false is expected"),
    N_("unknown action"),
    N_("unknown event"),
    # crm.rules.schedule
    N_("only a schedule's event has a schedule"),
    N_("a schedule is expected: at HH:MM"),
    N_("this schedule has no such part"),
    N_("days: a whole number from 1 to 365"),
)
# The built-in rule's name and what it does (`crm.rules.builtin`; a test checks they match).
BUILTIN_NAME = N_("Missed call: a callback task")
BUILTIN_SAYS = N_(
    "An inbound call nobody answered, from a known contact or company, on a line whose "
    "routing rules have callback_tasks on: one callback task per customer per day, to the "
    "manager the call was routed to, else the owner, else the line's supervisor."
)
