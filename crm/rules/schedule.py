"""Schedule triggers: a rule whose "when" is a time of day (docs/integrations.md,
"Triggers", "Schedules").

A `schedule.*` rule carries `schedule = {"at": "HH:MM", "weekdays_only": bool, "days": N}`
(`days` for `schedule.deal_idle` and `schedule.contact_idle`). Once a day, at or after
`at` in TRUBKA_TIMEZONE (Monday to Friday when `weekdays_only`), its selector finds the
items and each becomes one event of the rule's type in `rule_events`, carrying
`schedule_rule_id` (only that rule runs on it) and an id derived from (rule, item,
local day): queued twice, it is stored once — across restarts and nodes.

- `schedule.deal_idle`: deals in open stages with no change, stage move or task on them
  for `days` days (`idle_days` says how long);
- `schedule.task_overdue`: open tasks past their due time (`overdue_hours`);
- `schedule.contact_idle`: contacts made `days` days ago or earlier with no call since
  (`idle_days`: since the last call, else since the contact was made).

The day is taken with a conditional UPDATE of `rules.schedule_day` in the transaction
that queues the events, so one node runs a day's selection once; Trubka down at `at`
runs it once when it starts again the same day (a day already over is not caught up).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from crm.contacts import contact_views
from crm.database import Database
from crm.deals import deal_views
from crm.errors import InvalidInput
from crm.models import Contact, Deal, DealEvent, Stage, StageKind, Task, TaskStatus
from crm.rules.fields import CONTACT_IDLE, DEAL_IDLE, SCHEDULE_EVENTS, TASK_LATE
from crm.rules.models import Rule
from crm.rules.record import record
from crm.tasks import task_views

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("5b0e6c1d-8f3a-4a7e-9c2b-1d4e7f0a3b6c")
RULE_KEY = "schedule_rule_id"  # in the event's data: the one rule that runs on it
MAX_ITEMS = 1000  # per rule and day
Items = list[tuple[dict[str, Any], int | None, int]]  # (event data, contact id, item id)
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WITH_DAYS = (DEAL_IDLE, CONTACT_IDLE)


def validate(event: str, schedule: Any) -> dict[str, Any] | None:
    """The rule's schedule, checked: required for a `schedule.*` event, refused for the
    others; `InvalidInput` names the bad part (`schedule.at`)."""
    if event not in SCHEDULE_EVENTS:
        if schedule not in (None, {}):
            raise InvalidInput("only a schedule's event has a schedule", field="schedule")
        return None
    if not isinstance(schedule, dict):
        raise InvalidInput("a schedule is expected: at HH:MM", field="schedule.at")
    unknown = set(schedule) - {"at", "weekdays_only", "days"}
    if unknown:
        raise InvalidInput("this schedule has no such part", field=f"schedule.{min(unknown)}")
    at = schedule.get("at")
    if not isinstance(at, str) or not HHMM.match(at.strip()):
        raise InvalidInput("a time of day is expected as HH:MM", field="schedule.at")
    weekdays = schedule.get("weekdays_only", False)
    if not isinstance(weekdays, bool):
        raise InvalidInput("true or false is expected", field="schedule.weekdays_only")
    out: dict[str, Any] = {"at": at.strip(), "weekdays_only": weekdays}
    if event in WITH_DAYS:
        days = schedule.get("days", 14)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
            raise InvalidInput("days: a whole number from 1 to 365", field="schedule.days")
        out["days"] = days
    elif "days" in schedule and schedule["days"] not in (None, ""):
        raise InvalidInput("this schedule has no such part", field="schedule.days")
    return out


def due_day(schedule: dict[str, Any], local: datetime) -> date | None:
    """The local day whose run is due at `local` (its time reached, a weekday when asked),
    else None."""
    hours, minutes = (int(p) for p in str(schedule["at"]).split(":"))
    if local.time() < time(hours, minutes):
        return None
    if schedule.get("weekdays_only") and local.isoweekday() > 5:
        return None
    return local.date()


def event_uid(rule_id: int, item_id: int, day: date) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{rule_id}:{item_id}:{day.isoformat()}"))


async def idle_deals(session: AsyncSession, days: int, stamp: datetime) -> Items:
    """Deals in open stages untouched for `days` days: no change of the deal, no entry in
    its history, no task on it changed since. (data, contact, deal id)."""
    cutoff = stamp - timedelta(days=days)
    moved = exists().where(DealEvent.deal_id == Deal.id, DealEvent.at >= cutoff)
    tasked = exists().where(Task.deal_id == Deal.id, Task.updated_at >= cutoff)
    deals = list(
        (
            await session.scalars(
                select(Deal)
                .join(Stage, Stage.id == Deal.stage_id)
                .where(
                    Stage.kind == StageKind.OPEN.value,
                    Deal.updated_at < cutoff,
                    ~moved,
                    ~tasked,
                )
                .order_by(Deal.id)
                .limit(MAX_ITEMS)
            )
        ).all()
    )
    if not deals:
        return []
    last_moves = dict(
        (
            await session.execute(
                select(DealEvent.deal_id, func.max(DealEvent.at))
                .where(DealEvent.deal_id.in_([d.id for d in deals]))
                .group_by(DealEvent.deal_id)
            )
        ).all()
    )
    out: Items = []
    for deal, view in zip(deals, await deal_views(session, deals), strict=True):
        last = max(x for x in (deal.updated_at, last_moves.get(deal.id)) if x is not None)
        idle = round((stamp - last).total_seconds() / 86400, 1)
        out.append(({**view, "idle_days": idle}, deal.contact_id, deal.id))
    return out


async def idle_contacts(session: AsyncSession, days: int, stamp: datetime) -> Items:
    """Contacts made before the cutoff with no call since (one index probe each on
    `calls (contact_id, started_at)`). (data, contact, contact id)."""
    cutoff = stamp - timedelta(days=days)
    called = exists().where(CallRow.contact_id == Contact.id, CallRow.started_at >= cutoff)
    contacts = list(
        (
            await session.scalars(
                select(Contact)
                .where(Contact.created_at < cutoff, ~called)
                .order_by(Contact.id)
                .limit(MAX_ITEMS)
            )
        ).all()
    )
    if not contacts:
        return []
    last_calls = dict(
        (
            await session.execute(
                select(CallRow.contact_id, func.max(CallRow.started_at))
                .where(CallRow.contact_id.in_([c.id for c in contacts]))
                .group_by(CallRow.contact_id)
            )
        ).all()
    )
    out: Items = []
    for contact, view in zip(contacts, await contact_views(session, contacts), strict=True):
        last = last_calls.get(contact.id) or contact.created_at
        idle = round((stamp - last).total_seconds() / 86400, 1)
        out.append(({**view, "idle_days": idle}, contact.id, contact.id))
    return out


async def late_tasks(session: AsyncSession, stamp: datetime) -> Items:
    """Open tasks past their due time. (data, contact, task id)."""
    tasks = list(
        (
            await session.scalars(
                select(Task)
                .where(Task.status == TaskStatus.OPEN.value, Task.due_at < stamp)
                .order_by(Task.id)
                .limit(MAX_ITEMS)
            )
        ).all()
    )
    out: Items = []
    for task, view in zip(tasks, await task_views(session, tasks), strict=True):
        assert task.due_at is not None
        late = round((stamp - task.due_at).total_seconds() / 3600, 1)
        out.append(({**view, "overdue_hours": late}, task.contact_id, task.id))
    return out


async def run_due(db: Database, timezone: ZoneInfo, stamp: datetime) -> int:
    """Queue the events of every enabled schedule rule whose run is due at `stamp` and was
    not done today. How many events were queued."""
    local = stamp.astimezone(timezone)
    async with db.session() as session:
        rules = await session.execute(
            select(Rule.id, Rule.event, Rule.schedule, Rule.schedule_day).where(
                Rule.enabled.is_(True),
                Rule.builtin.is_(None),
                Rule.event.in_(list(SCHEDULE_EVENTS)),
            )
        )
        due = []
        for rule_id, event, schedule, ran in rules.all():
            if not schedule:
                continue
            day = due_day(schedule, local)
            if day is not None and ran != day.isoformat():
                due.append((rule_id, event, dict(schedule), day))
    queued = 0
    for rule_id, event, schedule, day in due:
        try:
            queued += await _run_rule(db, rule_id, event, schedule, day, stamp)
        except Exception:
            log.exception("schedule of rule %s on %s failed", rule_id, day)
    return queued


async def _run_rule(
    db: Database, rule_id: int, event: str, schedule: dict[str, Any], day: date, stamp: datetime
) -> int:
    async with db.transaction() as session:
        taken = await session.execute(
            update(Rule)
            .where(
                Rule.id == rule_id,
                Rule.enabled.is_(True),
                or_(Rule.schedule_day.is_(None), Rule.schedule_day != day.isoformat()),
            )
            .values(schedule_day=day.isoformat())
        )
        if not (getattr(taken, "rowcount", 0) or 0):
            return 0  # another node ran it (or the rule was switched off meanwhile)
        if event == DEAL_IDLE:
            items = await idle_deals(session, int(schedule.get("days", 14)), stamp)
        elif event == TASK_LATE:
            items = await late_tasks(session, stamp)
        elif event == CONTACT_IDLE:
            items = await idle_contacts(session, int(schedule.get("days", 14)), stamp)
        else:
            return 0
        queued = 0
        for data, contact_id, item_id in items:
            queued += await record(
                session,
                event,
                {**data, RULE_KEY: rule_id},
                contact_id=contact_id,
                uid=event_uid(rule_id, item_id, day),
                occurred_at=stamp,
                checked=True,
            )
        return queued
