"""The fields a rule's conditions and templates see, per event type, and how an event's
stored data becomes them (`facts`).

Every event carries the record the API returns (`data`: a call as `GET /api/calls/{id}`,
a contact, a deal, a task); the facts add what a rule asks about and the record does not
hold: the contact's tags and owner, the users behind the call's agent and the manager it
was routed to, the local time of day. They are read when the rule runs (the tags are the
contact's tags then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Contact, ContactTag, Deal, Stage
from crm.users import UserDirectory

CALL_EVENTS = ("call.missed", "call.answered", "call.ended")
CONTACT_EVENTS = ("contact.created", "contact.updated")
DEAL_EVENTS = ("deal.created", "deal.stage_changed")
TASK_EVENTS = ("task.overdue",)
# the schedule's events (crm.rules.schedule): one per item its selector finds, each day
DEAL_IDLE = "schedule.deal_idle"
TASK_LATE = "schedule.task_overdue"
CONTACT_IDLE = "schedule.contact_idle"
SCHEDULE_EVENTS = (DEAL_IDLE, TASK_LATE, CONTACT_IDLE)
EMAIL_EVENTS = ("email.received",)  # crm.mail.events
EVENT_TYPES: tuple[str, ...] = (
    CALL_EVENTS + CONTACT_EVENTS + DEAL_EVENTS + TASK_EVENTS + SCHEDULE_EVENTS + EMAIL_EVENTS
)
ALL = frozenset(EVENT_TYPES)

# field kinds and the operators each allows
TEXT, NUMBER, TAGS, TIME, USER = "text", "number", "tags", "time", "user"
OPERATORS: dict[str, tuple[str, ...]] = {
    TEXT: ("eq", "ne", "in", "not_in", "contains", "empty", "not_empty"),
    NUMBER: ("eq", "ne", "gt", "ge", "lt", "le"),
    TAGS: ("has", "has_not", "has_any"),
    TIME: ("before", "after", "between"),
    USER: ("eq", "ne", "in", "not_in", "empty", "not_empty"),
}


@dataclass(frozen=True, slots=True)
class Field:
    kind: str
    events: frozenset[str]
    sample: Any  # what a template sees at save time (the check renders with it)


def _f(kind: str, events: tuple[str, ...] | frozenset[str], sample: Any) -> Field:
    return Field(kind, frozenset(events), sample)


CALLS = frozenset(CALL_EVENTS)
DEALS = frozenset((*DEAL_EVENTS, DEAL_IDLE))
TASKS = frozenset((*TASK_EVENTS, TASK_LATE))
WITH_CONTACT = (
    frozenset((*CALL_EVENTS, *CONTACT_EVENTS, *EMAIL_EVENTS, CONTACT_IDLE)) | DEALS | TASKS
)
FIELDS: dict[str, Field] = {
    "event": _f(TEXT, ALL, "call.missed"),
    "time": _f(TIME, ALL, "09:30"),
    "weekday": _f(NUMBER, ALL, 1),
    # calls
    "call_id": _f(NUMBER, CALLS, 1),
    "linkedid": _f(TEXT, CALLS, "1700000000.1"),
    "direction": _f(TEXT, CALLS, "inbound"),
    "disposition": _f(TEXT, CALLS, "abandoned"),
    "queue": _f(TEXT, CALLS, "support"),
    "did": _f(TEXT, CALLS, "+74951110001"),
    "caller_number": _f(TEXT, CALLS, "+79161234567"),
    "caller_name": _f(TEXT, CALLS, "Ivan"),
    "talk_seconds": _f(NUMBER, CALLS, 0),
    "wait_seconds": _f(NUMBER, CALLS, 12),
    "agent_id": _f(USER, CALLS, None),
    "agent_name": _f(TEXT, CALLS, ""),
    "routed_agent_id": _f(USER, CALLS, None),
    # the contact (of the call, deal, task, or the contact itself)
    "contact_id": _f(NUMBER, WITH_CONTACT, 1),
    "contact_name": _f(TEXT, WITH_CONTACT, "Ivan Petrov"),
    "contact_tags": _f(TAGS, WITH_CONTACT, ["vip"]),
    "contact_owner_id": _f(USER, WITH_CONTACT, 1),
    "owner_id": _f(USER, WITH_CONTACT, 1),  # the deal's owner on deal events
    # deals
    "deal_id": _f(NUMBER, DEALS, 1),
    "deal_title": _f(TEXT, DEALS, "Delivery"),
    "deal_stage": _f(TEXT, DEALS, "New"),
    "deal_stage_id": _f(NUMBER, DEALS, 1),
    "deal_amount": _f(NUMBER, DEALS, 1000),
    # tasks
    "task_id": _f(NUMBER, TASKS, 1),
    "task_title": _f(TEXT, TASKS, "Call back"),
    "assignee_id": _f(USER, TASKS, 1),
    # schedules: how long the deal has been idle, the task overdue
    "idle_days": _f(NUMBER, (DEAL_IDLE, CONTACT_IDLE), 14),
    "overdue_hours": _f(NUMBER, (TASK_LATE,), 2),
    # letters
    "letter_id": _f(NUMBER, EMAIL_EVENTS, 1),
    "from_address": _f(TEXT, EMAIL_EVENTS, "ivan@example.com"),
    "from_name": _f(TEXT, EMAIL_EVENTS, "Ivan Petrov"),
    "subject": _f(TEXT, EMAIL_EVENTS, "Price list"),
    "mailbox": _f(TEXT, EMAIL_EVENTS, "sales@example.com"),
    "mailbox_id": _f(NUMBER, EMAIL_EVENTS, 1),
    "has_attachments": _f(NUMBER, EMAIL_EVENTS, 0),  # 1 or 0
    "attachments": _f(NUMBER, EMAIL_EVENTS, 0),
}


def fields_of(event: str) -> dict[str, Field]:
    return {name: f for name, f in FIELDS.items() if event in f.events}


def sample_facts(event: str) -> dict[str, Any]:
    """What a template of a rule for `event` sees at save time."""
    facts = {name: f.sample for name, f in fields_of(event).items()}
    facts["event"] = event
    facts["data"] = {}
    return facts


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


async def facts(
    session: AsyncSession,
    event: str,
    data: dict[str, Any],
    occurred_at: datetime,
    *,
    directory: UserDirectory,
    timezone: ZoneInfo,
    tags: dict[int, list[str]] | None = None,
    contacts: Mapping[int, Contact] | None = None,
) -> dict[str, Any]:
    """The event's fields as the conditions and templates see them (`tags`: contacts'
    tags read before, by contact id; `contacts`: contacts read before, by id)."""
    local = occurred_at.astimezone(timezone) if occurred_at.tzinfo else occurred_at
    out: dict[str, Any] = {
        "event": event,
        "time": f"{local:%H:%M}",
        "weekday": local.isoweekday(),
        "data": data,
    }
    contact_id: int | None = None
    if event in CALL_EVENTS:
        contact_id = data.get("contact_id")
        agent = await directory.by_interface(data.get("agent_interface"))
        routed = await directory.by_interface(data.get("routed_agent"))
        out.update(
            call_id=data.get("id"),
            linkedid=data.get("linkedid"),
            direction=data.get("direction"),
            disposition=data.get("disposition"),
            queue=data.get("queue"),
            did=data.get("called_number"),
            caller_number=data.get("caller_number"),
            caller_name=data.get("caller_name"),
            talk_seconds=_number(data.get("talk_seconds")) or 0.0,
            wait_seconds=_number(data.get("wait_seconds")) or 0.0,
            agent_id=agent.user_id if agent else None,
            agent_name=data.get("agent_name") or (agent.name if agent else None),
            routed_agent_id=routed.user_id if routed else None,
        )
    elif event in CONTACT_EVENTS or event == CONTACT_IDLE:
        contact_id = data.get("id")
    elif event in DEALS:
        contact_id = data.get("contact_id")
        deal = await session.get(Deal, data.get("id")) if data.get("id") else None
        stage = await session.get(Stage, deal.stage_id) if deal else None
        out.update(
            deal_id=data.get("id"),
            deal_title=data.get("title"),
            deal_stage=stage.name if stage else None,
            deal_stage_id=deal.stage_id if deal else None,
            deal_amount=(deal.amount_minor / 100) if deal and deal.amount_minor else 0.0,
        )
    elif event in TASKS:
        contact_id = data.get("contact_id")
        out.update(
            task_id=data.get("id"),
            task_title=data.get("title"),
            assignee_id=data.get("assignee_id"),
        )
    elif event in EMAIL_EVENTS:
        contact_id = data.get("contact_id")
        sender = data.get("from") or {}
        out.update(
            letter_id=data.get("id"),
            from_address=sender.get("address"),
            from_name=sender.get("name"),
            subject=data.get("subject"),
            mailbox=data.get("mailbox"),
            mailbox_id=data.get("mailbox_id"),
            has_attachments=1 if data.get("attachments") else 0,
            attachments=len(data.get("attachments") or []),
        )
    contact = (
        (contacts.get(contact_id) if contacts is not None else None)
        or (await session.get(Contact, contact_id))
        if contact_id
        else None
    )
    known = tags.get(contact.id) if tags is not None and contact else None
    contact_tags = (
        list(known)
        if known is not None
        else list(
            (
                await session.scalars(
                    select(ContactTag.tag)
                    .where(ContactTag.contact_id == contact.id)
                    .order_by(ContactTag.tag)
                )
            ).all()
        )
        if contact
        else []
    )
    out.update(
        contact_id=contact.id if contact else None,
        contact_name=contact.name if contact else None,
        contact_tags=contact_tags,
        contact_owner_id=contact.owner_id if contact else None,
        owner_id=contact.owner_id if contact else None,
    )
    if event in (DEAL_IDLE, CONTACT_IDLE):
        out["idle_days"] = _number(data.get("idle_days")) or 0.0
    elif event == TASK_LATE:
        out["overdue_hours"] = _number(data.get("overdue_hours")) or 0.0
    if event in DEALS:
        deal_owner = data.get("owner_id")
        out["owner_id"] = deal_owner if deal_owner is not None else out["owner_id"]
    return out


def now() -> datetime:
    return datetime.now(UTC)
