"""A rule's "then": the actions, in order. Each is validated at save time (`validate`),
planned against an event (`plan`: what it would do — all a dry run shows) and applied in
the session of its own transaction (`apply`), next to its key in `rule_action_keys`.

| type | fields |
|---|---|
| `create_task` | `title`, `description` (templates), `assignee`, `user_id`, `due_hours`, |
| | `working_hours` |
| `assign_owner` | `assignee`, `user_id` |
| `add_tag`, `remove_tag` | `tag` |
| `move_stage` | `stage_id` (deal events) |
| `notify` | `assignee`, `user_id`, `text` (template): a notice stored for the user |
| | (`crm.notices`) and pushed to their panel after the commit |
| `webhook` | `webhook_id`: the event (with the rule) queued for that webhook in the outbox |
| `send_email` | `mailbox_id`, `template_id` (a named letter template) and/or `subject`, |
| | `body`: a letter to the contact over SMTP, kept in its timeline (`crm.rules.email_action`) |
| `callback_task` | `due_minutes` (null: the line's routing rules): the built-in |
| | missed-call rule, run by `crm.callbacks` |

Assignees: `owner` (the contact's owner; the deal's on deal events), `agent` (who answered
the call), `routed` (the manager the call was routed to), `supervisor` (the line's
supervisor in the routing rules), `user` (`user_id`); the first one who is an active user.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.contacts import contact_search_text, contact_views
from crm.deals import deal_views
from crm.errors import InvalidInput
from crm.hooks.models import PENDING, Webhook, WebhookDelivery, WebhookEvent
from crm.hooks.outbox import emit, event_body, order_key
from crm.models import (
    Company,
    Contact,
    ContactTag,
    Deal,
    DealEvent,
    Stage,
    StageKind,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from crm.notices import MAX_TEXT, Notice
from crm.rules.batch import Batch, HookRow
from crm.rules.due import due_at
from crm.rules.email_action import (
    LOGGED_BODY,
    EmailActionError,
    Mailer,
    plan_email,
    validate_email,
)
from crm.rules.fields import CALL_EVENTS, DEALS, now
from crm.rules.templates import check, render
from crm.users import UserDirectory
from routing.rules import RoutingRules

ASSIGNEES = ("owner", "agent", "routed", "supervisor", "user")
TYPES = (
    "create_task",
    "assign_owner",
    "add_tag",
    "remove_tag",
    "move_stage",
    "notify",
    "webhook",
    "send_email",
)
BUILTIN_TYPES = ("callback_task",)
MAX_ACTIONS = 20
NAMESPACE = uuid.UUID("0b0f4f55-7c0a-4bd7-9d0e-3f9d1b2a6c21")


# --- validation ---------------------------------------------------------------------
def _int(value: Any, where: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInput("a whole number is expected", field=where)
    return value


def _assignee(item: dict[str, Any], where: str) -> dict[str, Any]:
    who = item.get("assignee")
    if not isinstance(who, list) or not who or any(w not in ASSIGNEES for w in who):
        raise InvalidInput(
            "choose who: owner, agent, routed, supervisor or user", field=f"{where}.assignee"
        )
    out: dict[str, Any] = {"assignee": list(dict.fromkeys(who))}
    if "user" in who:
        out["user_id"] = _int(item.get("user_id"), f"{where}.user_id")
    return out


def validate(
    event: str, actions: Any, sample: dict[str, Any], *, builtin: bool = False
) -> list[dict[str, Any]]:
    """The actions, checked and normalized (templates rendered with `sample`)."""
    if not isinstance(actions, list):
        raise InvalidInput("the actions must be a list", field="actions")
    if not actions:
        raise InvalidInput("add at least one action", field="actions")
    if len(actions) > MAX_ACTIONS:
        raise InvalidInput("at most 20 actions", field="actions")
    out = []
    for index, item in enumerate(actions):
        where = f"actions.{index}"
        if not isinstance(item, dict):
            raise InvalidInput("an action is an object with a type", field=where)
        kind = item.get("type")
        allowed = BUILTIN_TYPES if builtin else TYPES
        if kind not in allowed:
            raise InvalidInput("unknown action", field=f"{where}.type")
        spec: dict[str, Any] = {"type": kind}
        if kind == "create_task":
            spec["title"] = check(item.get("title"), sample, f"{where}.title")
            spec["description"] = check(
                item.get("description"), sample, f"{where}.description", required=False
            )
            spec.update(_assignee(item, where))
            hours = item.get("due_hours", 1)
            if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours >= 0:
                raise InvalidInput("hours: a number, 0 or more", field=f"{where}.due_hours")
            if hours > 24 * 365:
                raise InvalidInput("hours: at most a year", field=f"{where}.due_hours")
            spec["due_hours"] = hours
            spec["working_hours"] = bool(item.get("working_hours", False))
        elif kind == "assign_owner":
            spec.update(_assignee(item, where))
        elif kind in ("add_tag", "remove_tag"):
            tag = item.get("tag")
            if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 64:
                raise InvalidInput("a tag of 1 to 64 characters", field=f"{where}.tag")
            spec["tag"] = " ".join(tag.split())
        elif kind == "move_stage":
            if event not in DEALS:
                raise InvalidInput("only a deal's rule can move its stage", field=f"{where}.type")
            spec["stage_id"] = _int(item.get("stage_id"), f"{where}.stage_id")
        elif kind == "notify":
            spec["text"] = check(item.get("text"), sample, f"{where}.text")
            spec.update(_assignee(item, where))
        elif kind == "webhook":
            spec["webhook_id"] = _int(item.get("webhook_id"), f"{where}.webhook_id")
        elif kind == "send_email":
            spec = validate_email(item, where, sample)
        elif kind == "callback_task":
            minutes = item.get("due_minutes")
            spec["due_minutes"] = (
                None if minutes is None else _int(minutes, f"{where}.due_minutes", low=0)
            )
            if spec["due_minutes"] is not None and spec["due_minutes"] > 7 * 24 * 60:
                raise InvalidInput("at most a week", field=f"{where}.due_minutes")
        out.append(spec)
    return out


# --- running --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventRef:
    id: int | None  # None in a dry run of an event that was never stored
    uid: str
    event: str
    occurred_at: datetime
    data: dict[str, Any]
    contact_id: int | None
    depth: int
    replay: bool = False  # taken before by a worker that did not finish it


@dataclass
class Context:
    session: AsyncSession
    event: EventRef
    facts: dict[str, Any]
    rule_id: int
    rule_name: str
    directory: UserDirectory
    routing: Callable[[], RoutingRules]
    dialect: str
    notices: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    hooks_queued: int = 0
    # the worker's round (`crm.rules.batch`): tasks and webhook rows are written at its
    # end, the rows it reads are loaded once
    batch: Batch | None = None
    mailer: Mailer | None = None  # sends the `send_email` letters (crm.mail.letters)


class ActionError(Exception):
    """An action that cannot be done for this event (logged in the run, not retried)."""


class OneByOne(Exception):
    """An action a worker's round does not do together with others: the round goes event
    by event, action by action (`crm.rules.engine.run`)."""


async def _user(ctx: Context, user_id: int | None) -> int | None:
    ref = await ctx.directory.by_id(user_id) if user_id else None
    return ref.user_id if ref else None


async def resolve(ctx: Context, spec: dict[str, Any]) -> tuple[int | None, str | None]:
    """The first active user of the action's assignees, and which one it was."""
    for who in spec.get("assignee", ()):
        user_id: int | None = None
        if who == "owner":
            user_id = await _user(ctx, ctx.facts.get("owner_id"))
        elif who == "agent":
            user_id = await _user(ctx, ctx.facts.get("agent_id"))
        elif who == "routed":
            user_id = await _user(ctx, ctx.facts.get("routed_agent_id"))
        elif who == "user":
            user_id = await _user(ctx, spec.get("user_id"))
        elif who == "supervisor":
            policy = ctx.routing().for_call(ctx.facts.get("did"), ctx.facts.get("queue"))
            if policy.supervisor and ctx.batch is not None:
                user_id = await ctx.batch.supervisor(ctx.session, policy.supervisor)
            elif policy.supervisor:
                found = await ctx.session.scalar(
                    select(User.id).where(User.login == policy.supervisor, User.active.is_(True))
                )
                user_id = int(found) if found is not None else None
        if user_id is not None:
            return user_id, who
    return None, None


def _when(ctx: Context) -> datetime:
    return now() if ctx.event.depth or ctx.event.id is None else ctx.event.occurred_at


async def plan(ctx: Context, index: int, spec: dict[str, Any]) -> dict[str, Any]:
    """What the action would do for this event (no writes); `ActionError` if it cannot."""
    kind = spec["type"]
    contact_id = ctx.facts.get("contact_id")
    if kind == "create_task":
        assignee, by = await resolve(ctx, spec)
        policy = ctx.routing().for_call(ctx.facts.get("did"), ctx.facts.get("queue"))
        due = due_at(
            _when(ctx), spec["due_hours"], working=spec["working_hours"], line=policy.hours
        )
        return {
            "title": render(spec["title"], ctx.facts)[:255],
            "description": render(spec["description"], ctx.facts) if spec["description"] else "",
            "assignee_id": assignee,
            "assigned_by": by,
            "due_at": due.isoformat(),
            "contact_id": contact_id,
        }
    if kind == "assign_owner":
        if contact_id is None:
            raise ActionError("the event has no contact")
        owner, by = await resolve(ctx, spec)
        if owner is None:
            raise ActionError("nobody to assign")
        return {"contact_id": contact_id, "owner_id": owner, "assigned_by": by}
    if kind in ("add_tag", "remove_tag"):
        if contact_id is None:
            raise ActionError("the event has no contact")
        return {"contact_id": contact_id, "tag": spec["tag"]}
    if kind == "move_stage":
        deal_id = ctx.facts.get("deal_id")
        deal = await ctx.session.get(Deal, deal_id) if deal_id else None
        stage = await ctx.session.get(Stage, spec["stage_id"])
        if deal is None:
            raise ActionError("the deal no longer exists")
        if stage is None or stage.pipeline_id != deal.pipeline_id:
            raise ActionError("the stage is not in the deal's pipeline")
        return {"deal_id": deal.id, "stage_id": stage.id, "stage": stage.name}
    if kind == "notify":
        user_id, by = await resolve(ctx, spec)
        if user_id is None:
            raise ActionError("nobody to notify")
        return {"user_id": user_id, "assigned_by": by, "text": render(spec["text"], ctx.facts)}
    if kind == "webhook":
        hook = (
            await ctx.batch.webhook(ctx.session, spec["webhook_id"])
            if ctx.batch is not None
            else await ctx.session.get(Webhook, spec["webhook_id"])
        )
        if hook is None:
            raise ActionError("no such webhook")
        if not hook.enabled:
            raise ActionError("the webhook is disabled")
        return {"webhook_id": hook.id, "url": hook.url, "event": ctx.event.event}
    if kind == "send_email":
        if ctx.batch is not None:
            raise OneByOne("a letter is sent in the action's own transaction")
        try:
            return await plan_email(ctx.session, spec, ctx.facts)
        except EmailActionError as exc:
            raise ActionError(str(exc)) from exc
    if kind == "callback_task":
        return {"note": "the missed-call callback task (crm.callbacks)"}
    raise ActionError(f"unknown action {kind}")


async def apply(ctx: Context, index: int, spec: dict[str, Any], planned: dict[str, Any]) -> None:
    """Do what `plan` said, in `ctx.session`; `planned` gets what was made (ids)."""
    kind = spec["type"]
    s = ctx.session
    stamp = now()
    if kind == "create_task":
        contact_id = planned["contact_id"]
        batch = ctx.batch
        contact = (
            (batch.contacts.get(contact_id) if batch is not None else None)
            or (await s.get(Contact, contact_id))
            if contact_id
            else None
        )
        company_id = contact.company_id if contact else None
        company = (
            (batch.companies.get(company_id) if batch is not None else None)
            or (await s.get(Company, company_id))
            if company_id
            else None
        )
        if ctx.batch is not None:  # written with the round's other tasks in one statement
            ctx.batch.tasks.append((planned, _task_row(ctx, planned, contact, company, stamp)))
            return
        task = Task(
            kind=(
                TaskKind.CALL_BACK.value if ctx.event.event in CALL_EVENTS else TaskKind.OTHER.value
            ),
            title=planned["title"],
            description=planned["description"],
            status=TaskStatus.OPEN.value,
            due_at=datetime.fromisoformat(planned["due_at"]),
            assignee_id=planned["assignee_id"],
            created_by_id=None,
            contact_id=contact.id if contact else None,
            company_id=company.id if company else None,
            deal_id=ctx.facts.get("deal_id"),
            call_linkedid=ctx.facts.get("linkedid"),
            created_at=stamp,
            updated_at=stamp,
        )
        s.add(task)
        await s.flush()
        planned["task_id"] = task.id
    elif kind in ("assign_owner", "add_tag", "remove_tag"):
        contact = await s.get(Contact, planned["contact_id"])
        if contact is None:
            raise ActionError("the contact no longer exists")
        await _change_contact(ctx, contact, kind, planned)
    elif kind == "move_stage":
        deal = await s.get(Deal, planned["deal_id"])
        stage = await s.get(Stage, planned["stage_id"])
        if deal is None or stage is None:
            raise ActionError("the deal or the stage no longer exists")
        if deal.stage_id == stage.id:
            planned["unchanged"] = True
            return
        old = await s.get(Stage, deal.stage_id)
        s.add(
            DealEvent(
                deal_id=deal.id,
                contact_id=deal.contact_id,
                company_id=deal.company_id,
                user_id=None,
                at=stamp,
                kind="stage",
                from_stage_id=deal.stage_id,
                to_stage_id=stage.id,
                detail={"from": old.name if old else None, "to": stage.name, "kind": stage.kind},
            )
        )
        deal.stage_id = stage.id
        deal.closed_at = stamp if stage.kind != StageKind.OPEN else None
        deal.updated_at = stamp
        await s.flush()
        view = (await deal_views(s, [deal]))[0]
        await emit(s, "deal.stage_changed", view, contact_id=deal.contact_id)
    elif kind == "notify":
        await _notice(ctx, index, planned, stamp)
    elif kind == "webhook":
        await _enqueue(ctx, index, planned)
    elif kind == "send_email":
        if ctx.mailer is None:
            raise ActionError("sending letters is not set up")
        planned["letter_id"] = await ctx.mailer(s, planned)
        planned["body"] = planned["body"][:LOGGED_BODY]


async def _notice(ctx: Context, index: int, planned: dict[str, Any], stamp: datetime) -> None:
    """The notice stored for its user (`crm.notices`) in the action's transaction, and
    the `rule_notice` message pushed after the commit (`crm.rules.engine.after_commit`)
    with its id: in a round, the row is written with the round's others and the id
    filled in then (`crm.rules.batch`)."""
    row = {
        "user_id": planned["user_id"],
        "text": str(planned["text"])[:MAX_TEXT],
        "rule_id": ctx.rule_id,
        "rule": ctx.rule_name[:200],
        "event_id": ctx.event.id,
        "event_uid": ctx.event.uid,
        "action_index": index,
        "event": ctx.event.event,
        "contact_id": ctx.facts.get("contact_id"),
        "created_at": stamp,
        "read_at": None,
    }
    message: dict[str, Any] = {  # the WebSocket message (docs/architecture.md)
        "type": "rule_notice",
        "id": None,  # the stored notice's, known once it is written
        "rule_id": ctx.rule_id,
        "rule": ctx.rule_name,
        "text": row["text"],
        "contact_id": row["contact_id"],
        "event": ctx.event.event,
    }
    if ctx.batch is not None:
        ctx.batch.notices.append((planned, row, message))
        ctx.notices.append((planned["user_id"], message))
        return
    known = await ctx.session.scalar(
        select(Notice.id).where(
            Notice.rule_id == ctx.rule_id,
            Notice.event_uid == ctx.event.uid,
            Notice.action_index == index,
        )
    )
    if known is not None:  # stored before: neither stored nor pushed again
        planned["notice_id"] = int(known)
        return
    notice = Notice(**row)
    ctx.session.add(notice)
    await ctx.session.flush()
    planned["notice_id"] = message["id"] = notice.id
    ctx.notices.append((planned["user_id"], message))


def _task_row(
    ctx: Context,
    planned: dict[str, Any],
    contact: Contact | None,
    company: Company | None,
    stamp: datetime,
) -> dict[str, Any]:
    return {
        "kind": (
            TaskKind.CALL_BACK.value if ctx.event.event in CALL_EVENTS else TaskKind.OTHER.value
        ),
        "title": planned["title"],
        "description": planned["description"],
        "status": TaskStatus.OPEN.value,
        "due_at": datetime.fromisoformat(planned["due_at"]),
        "assignee_id": planned["assignee_id"],
        "created_by_id": None,
        "contact_id": contact.id if contact else None,
        "company_id": company.id if company else None,
        "deal_id": ctx.facts.get("deal_id"),
        "call_linkedid": ctx.facts.get("linkedid"),
        "created_at": stamp,
        "updated_at": stamp,
    }


async def _change_contact(
    ctx: Context, contact: Contact, kind: str, planned: dict[str, Any]
) -> None:
    s = ctx.session
    if ctx.batch is not None:  # what later events of the round see is read again
        ctx.batch.tags.pop(contact.id, None)
    if kind == "assign_owner":
        if contact.owner_id == planned["owner_id"]:
            planned["unchanged"] = True
            return
        contact.owner_id = planned["owner_id"]
    else:
        tags = list(
            (
                await s.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact.id))
            ).all()
        )
        tag = planned["tag"]
        same = [t for t in tags if t.casefold() == tag.casefold()]
        if bool(same) == (kind == "add_tag"):
            planned["unchanged"] = True
            return
        if kind == "add_tag":
            s.add(ContactTag(contact_id=contact.id, tag=tag))
            tags.append(tag)
        else:
            await s.execute(
                delete(ContactTag).where(
                    ContactTag.contact_id == contact.id, ContactTag.tag.in_(same)
                )
            )
            tags = [t for t in tags if t not in same]
        company = await s.get(Company, contact.company_id) if contact.company_id else None
        contact.search_text = contact_search_text(
            contact.name, company.name if company else None, tags, contact.emails
        )
    contact.updated_at = now()
    await s.flush()
    view = (await contact_views(s, [contact]))[0]
    await emit(s, "contact.updated", view, contact_id=contact.id)


async def _enqueue(ctx: Context, index: int, planned: dict[str, Any]) -> None:
    """The event, with the rule that sent it, into the webhook outbox for one webhook.
    Its id is derived from (rule, event, action): queued once whatever happens."""
    uid = str(uuid.uuid5(NAMESPACE, f"{ctx.rule_id}:{ctx.event.uid}:{index}"))
    if ctx.batch is not None:
        _defer(ctx, uid, planned)
        return
    if await ctx.session.scalar(select(WebhookEvent.id).where(WebhookEvent.uid == uid)):
        planned["event_id"] = uid
        return
    stamp = now()
    data = dict(ctx.event.data)
    data["rule"] = {"id": ctx.rule_id, "name": ctx.rule_name}
    row = WebhookEvent(
        uid=uid,
        event=ctx.event.event,
        occurred_at=stamp,
        body=event_body(uid, ctx.event.event, stamp, data),
    )
    ctx.session.add(row)
    await ctx.session.flush()
    ctx.session.add(
        WebhookDelivery(
            webhook_id=planned["webhook_id"],
            event_id=row.id,
            order_key=order_key(ctx.event.contact_id),
            status=PENDING,
            attempts=0,
            created_at=stamp,
            next_at=stamp,
        )
    )
    await ctx.session.flush()
    planned["event_id"] = uid
    ctx.hooks_queued += 1


def _defer(ctx: Context, uid: str, planned: dict[str, Any]) -> None:
    """The webhook rows of `_enqueue`, written at the end of the round (queued once: a
    uid already in the outbox is skipped then)."""
    assert ctx.batch is not None
    planned["event_id"] = uid
    stamp = now()
    data = dict(ctx.event.data)
    data["rule"] = {"id": ctx.rule_id, "name": ctx.rule_name}
    ctx.batch.queue(
        HookRow(
            uid=uid,
            event=ctx.event.event,
            occurred_at=stamp,
            body=event_body(uid, ctx.event.event, stamp, data),
            webhook_id=planned["webhook_id"],
            order_key=order_key(ctx.event.contact_id),
        )
    )
    ctx.hooks_queued += 1


def upsert(dialect: str) -> Any:
    return sqlite_insert if dialect == "sqlite" else pg_insert
