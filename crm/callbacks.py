"""Missed calls get a clear owner: one "call back" task per customer per day.

When a call from a known customer ends unanswered — abandoned in the queue, nobody
answered, or the manager it was routed to did not answer and the queue did not either —
the `CallsStored` consumer (:meth:`CallbackTasks.on_calls_saved`, run after the
calls were stored and linked to contacts) makes sure the customer has a callback task:

- assigned to the manager the call was routed to (``ROUTE_AGENT``), else the contact's
  (or its company's) owner, else the supervisor the routing rules name for the line
  (``supervisor = "login"``), else nobody (supervisors see unassigned tasks) — inactive
  users are skipped;
- due ``callback_due_minutes`` after the call ended, or after the line opens again when
  the call came after hours;
- linked to the contact (or the company, for a company number) and the first missed call.

One task per customer per day (the call center's day, ``TRUBKA_TIMEZONE``): the key
``contact:<id>:<day>`` is the primary key of ``callback_tasks`` and is inserted in the
same transaction as the task, so a restart that replays calls, or two nodes storing
calls at once, never make a second task. Every missed call of that day is recorded in
``callback_task_calls``; the supervisor's missed-calls report reads it
(:meth:`CallbackTasks.for_calls`). Unknown callers get no task (nobody to call back by
name; the missed-calls report lists them). Calls closed while the AMI connection was
down are skipped: whether they were answered is not known.

This is the built-in trigger `missed_call_callback` (`crm.rules.builtin`): admins see it
among the rules, switch it off (no task is made) or set its due time (`due_minutes`,
else each line's `callback_due_minutes`); it is read once per batch of calls.

A customer served later closes the task by itself: when an answered call with the same
customer ends — they called back (inbound) or were called (outbound) — every open
callback task of that customer whose missed call came before it is marked done, by the
agent who answered (when known), with a note naming the call (its linkedid and
`/calls/<id>`); ``callback_tasks.closed_by_linkedid`` keeps which call closed it, and
the missed-calls report shows "closed by call" with the link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, ForeignKey, Integer, String, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from crm.call_records import CallRow
from crm.database import Base, Database, UTCDateTime
from crm.events import CallsStored
from crm.models import Company, Contact, Task, TaskKind, TaskStatus, User
from crm.rules.builtin import callback_setting
from crm.users import UserDirectory
from kernel.call_record import CallRecord, Direction, Disposition
from routing.rules import Policy, RoutingRules

log = logging.getLogger(__name__)

TITLE_LIMIT = 255

_DISPOSITION_TEXT = {
    Disposition.ABANDONED: "абонент не дождался ответа",
    Disposition.NO_ANSWER: "никто не ответил",
    Disposition.BUSY: "занято",
    Disposition.FAILED: "не удалось соединить",
}
_ASSIGNED_TEXT = {
    "routed": "менеджер, к которому был направлен звонок",
    "owner": "ответственный менеджер",
    "supervisor": "супервизор линии",
}


class CallbackKey(Base):
    """The one callback task of a customer for a day (`contact:12:2026-11-26`)."""

    __tablename__ = "callback_tasks"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    company_id: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the answered call with the customer that closed the task (0008_callback_closed_by_call)
    closed_by_linkedid: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CallbackCall(Base):
    """A missed call and the callback task it belongs to."""

    __tablename__ = "callback_task_calls"

    linkedid: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class CallbackInfo:
    """The callback task of a missed call, as the reports show it."""

    task_id: int
    status: str
    due_at: datetime | None
    done_at: datetime | None
    done_by: str | None  # login of who marked it done
    assignee_id: int | None
    closed_by_call: str | None = None  # linkedid of the answered call that closed it
    closed_by_call_id: int | None = None  # that call's id (its page: /calls/<id>)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the hook did with one missed call (for tests and logs)."""

    linkedid: str
    task_id: int | None
    created: bool
    assigned_by: str | None = None  # "routed" | "owner" | "supervisor" | None


@dataclass(frozen=True, slots=True)
class Closure:
    """A callback task closed because the customer was served by an answered call."""

    task_id: int
    linkedid: str  # the answered call
    call_id: int


def is_served(record: CallRecord) -> bool:
    """An answered call with a customer: they called (back), or were called."""
    return (
        record.direction in (Direction.INBOUND, Direction.OUTBOUND)
        and record.disposition is Disposition.ANSWERED
        and not record.ended_during_outage
    )


def is_missed(record: CallRecord) -> bool:
    return (
        record.direction is Direction.INBOUND
        and record.disposition is not Disposition.ANSWERED
        and not record.ended_during_outage
    )


class CallbackTasks:
    def __init__(
        self,
        db: Database,
        directory: UserDirectory,
        rules: Callable[[], RoutingRules],
        timezone: ZoneInfo,
    ) -> None:
        self.db = db
        self.directory = directory
        self.rules = rules
        self.timezone = timezone
        self.created = 0
        self.closed = 0

    # --- the `CallsStored` consumer ----------------------------------------------------
    async def on_calls_saved(self, event: CallsStored) -> None:
        records = event.records
        if event.customers:  # linked just before: a call of no known customer needs nothing
            unknown = (None, None)
            records = tuple(
                r for r in records if event.customers.get((r.linkedid, r.pbx)) != unknown
            )
        await self.handle(records)
        await self.close_served(records)

    async def handle(self, records: Sequence[CallRecord]) -> list[Outcome]:
        missed = [r for r in records if is_missed(r)]
        if not missed:
            return []
        async with self.db.session() as session:
            setting = await callback_setting(session)  # the built-in rule, as admins set it
            if not setting.enabled:
                return []
            rows = {
                linkedid: (contact_id, company_id)
                for linkedid, contact_id, company_id in (
                    await session.execute(
                        select(CallRow.linkedid, CallRow.contact_id, CallRow.company_id).where(
                            CallRow.linkedid.in_([r.linkedid for r in missed])
                        )
                    )
                )
            }
        outcomes = []
        for record in missed:
            contact_id, company_id = rows.get(record.linkedid, (record.contact_id, None))
            if contact_id is None and company_id is None:
                continue  # not a known customer
            policy = self.rules().for_call(record.called_number, record.queue)
            if not policy.callback_tasks:
                continue
            if setting.due_minutes is not None:
                policy = policy.model_copy(update={"callback_due_minutes": setting.due_minutes})
            outcome = await self._one(record, contact_id, company_id, policy)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    async def close_served(self, records: Sequence[CallRecord]) -> list[Closure]:
        """Close the open callback tasks of the customers these answered calls served."""
        served = sorted((r for r in records if is_served(r)), key=lambda r: r.started_at)
        if not served:
            return []
        closures: list[Closure] = []
        async with self.db.transaction() as session:
            rows = {
                linkedid: (call_id, contact_id, company_id)
                for linkedid, call_id, contact_id, company_id in (
                    await session.execute(
                        select(
                            CallRow.linkedid, CallRow.id, CallRow.contact_id, CallRow.company_id
                        ).where(CallRow.linkedid.in_([r.linkedid for r in served]))
                    )
                )
            }
            for record in served:
                call_id, contact_id, company_id = rows.get(record.linkedid, (None, None, None))
                if call_id is None or (contact_id is None and company_id is None):
                    continue
                closures += await self._close_for(session, record, call_id, contact_id, company_id)
        for closure in closures:
            self.closed += 1
            log.info("callback task %s closed by call %s", closure.task_id, closure.linkedid)
        return closures

    async def _close_for(
        self,
        session: AsyncSession,
        record: CallRecord,
        call_id: int,
        contact_id: int | None,
        company_id: int | None,
    ) -> list[Closure]:
        missed = aliased(CallRow)
        started = datetime.fromtimestamp(record.started_at, UTC)
        whose = []
        if contact_id is not None:
            whose.append(CallbackKey.contact_id == contact_id)
        if company_id is not None:
            whose.append(CallbackKey.company_id == company_id)
        tasks = (
            await session.scalars(
                select(Task)
                .join(CallbackKey, CallbackKey.task_id == Task.id)
                .join(missed, missed.linkedid == Task.call_linkedid)
                .where(
                    or_(*whose),
                    Task.status == TaskStatus.OPEN.value,
                    missed.started_at < started,
                )
                .order_by(Task.id)
            )
        ).all()
        if not tasks:
            return []
        agent = await self.directory.by_interface(record.agent_interface)
        ended = datetime.fromtimestamp(record.ended_at, UTC)
        note = self._closing_note(record, call_id)
        for task in tasks:
            task.status = TaskStatus.DONE.value
            task.completed_at = ended
            task.completed_by_id = agent.user_id if agent else None
            task.updated_at = datetime.now(UTC)
            task.description = (task.description + "\n" + note).strip()
        await session.flush()
        await session.execute(
            update(CallbackKey)
            .where(CallbackKey.task_id.in_([t.id for t in tasks]))
            .values(closed_by_linkedid=record.linkedid)
        )
        return [Closure(t.id, record.linkedid, call_id) for t in tasks]

    def _closing_note(self, record: CallRecord, call_id: int) -> str:
        when = datetime.fromtimestamp(record.started_at, UTC).astimezone(self.timezone)
        how = (
            "клиент перезвонил" if record.direction is Direction.INBOUND else "клиенту дозвонились"
        )
        who = (
            f", ответил {record.agent_name or record.agent_interface}"
            if (record.agent_name or record.agent_interface)
            else ""
        )
        return (
            f"Закрыта автоматически: {how} {when:%d.%m.%Y %H:%M}{who} — "
            f"звонок {record.linkedid} (/calls/{call_id})."
        )

    async def _one(
        self,
        record: CallRecord,
        contact_id: int | None,
        company_id: int | None,
        policy: Policy,
    ) -> Outcome | None:
        started = datetime.fromtimestamp(record.started_at, UTC)
        day = started.astimezone(self.timezone).date()
        key = f"contact:{contact_id}:{day}" if contact_id else f"company:{company_id}:{day}"
        stamp = datetime.now(UTC)
        async with self.db.transaction() as session:
            insert = sqlite_insert if self.db.dialect == "sqlite" else pg_insert
            claimed = await session.execute(
                insert(CallbackKey)
                .values(
                    key=key,
                    task_id=None,
                    contact_id=contact_id,
                    company_id=company_id,
                    day=day,
                    created_at=stamp,
                )
                .on_conflict_do_nothing(index_elements=["key"])
            )
            created = (getattr(claimed, "rowcount", 0) or 0) > 0
            assigned_by: str | None = None
            if created:
                task, assigned_by = await self._new_task(
                    session, record, contact_id, company_id, policy, stamp
                )
                task_id: int | None = task.id
                await session.execute(
                    update(CallbackKey).where(CallbackKey.key == key).values(task_id=task.id)
                )
            else:
                task_id = await session.scalar(
                    select(CallbackKey.task_id).where(CallbackKey.key == key)
                )
            if task_id is None:
                log.warning("callback task %s has no task: call %s not added", key, record.linkedid)
                return Outcome(record.linkedid, None, False)
            await session.execute(
                insert(CallbackCall)
                .values(linkedid=record.linkedid, task_id=task_id, created_at=stamp)
                .on_conflict_do_nothing(index_elements=["linkedid"])
            )
        if created:
            self.created += 1
            log.info(
                "missed call %s from %s: callback task %s (%s)",
                record.linkedid,
                record.caller_number,
                task_id,
                assigned_by or "unassigned",
            )
        return Outcome(record.linkedid, task_id, created, assigned_by)

    async def _new_task(
        self,
        session: AsyncSession,
        record: CallRecord,
        contact_id: int | None,
        company_id: int | None,
        policy: Policy,
        stamp: datetime,
    ) -> tuple[Task, str | None]:
        contact = await session.get(Contact, contact_id) if contact_id else None
        company_key = company_id or (contact.company_id if contact else None)
        company = await session.get(Company, company_key) if company_key else None
        assignee, assigned_by = await self._assignee(session, record, contact, company, policy)
        ended = datetime.fromtimestamp(record.ended_at, UTC)
        opens = policy.hours.next_open(ended) if policy.hours is not None else ended
        due = (opens or ended) + timedelta(minutes=policy.callback_due_minutes)
        who = (contact.name if contact else None) or (company.name if company else None)
        title = f"Перезвонить: {who or record.caller_number or 'клиенту'}"
        task = Task(
            kind=TaskKind.CALL_BACK.value,
            title=title[:TITLE_LIMIT],
            description=self._description(record, assigned_by),
            status=TaskStatus.OPEN.value,
            due_at=due,
            assignee_id=assignee,
            created_by_id=None,
            contact_id=contact.id if contact else None,
            company_id=company.id if company else None,
            call_linkedid=record.linkedid,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(task)
        await session.flush()
        return task, assigned_by

    async def _assignee(
        self,
        session: AsyncSession,
        record: CallRecord,
        contact: Contact | None,
        company: Company | None,
        policy: Policy,
    ) -> tuple[int | None, str | None]:
        routed = await self.directory.by_interface(record.routed_agent)
        if routed is not None:
            return routed.user_id, "routed"
        for owner_id in (
            contact.owner_id if contact else None,
            company.owner_id if company else None,
        ):
            owner = await self.directory.by_id(owner_id)
            if owner is not None:
                return owner.user_id, "owner"
        if policy.supervisor:
            user_id = await session.scalar(
                select(User.id).where(User.login == policy.supervisor, User.active.is_(True))
            )
            if user_id is not None:
                return int(user_id), "supervisor"
            log.warning(
                "routing rules name supervisor %r, who is not an active user", policy.supervisor
            )
        return None, None

    def _description(self, record: CallRecord, assigned_by: str | None) -> str:
        when = datetime.fromtimestamp(record.started_at, UTC).astimezone(self.timezone)
        parts = [
            f"Пропущенный звонок {when:%d.%m.%Y %H:%M} с номера {record.caller_number or '—'}"
            + (f" (очередь {record.queue})" if record.queue else "")
            + f": {_DISPOSITION_TEXT.get(record.disposition, record.disposition.value)}."
        ]
        if record.routing_reason:
            parts.append(f"Маршрут: {record.routing_reason}.")
        parts.append(
            "Назначено: " + (_ASSIGNED_TEXT[assigned_by] if assigned_by else "никому") + "."
        )
        return "\n".join(parts)

    # --- the supervisor's missed-calls report -----------------------------------------
    async def for_calls(self, linkedids: Sequence[str]) -> dict[str, CallbackInfo]:
        """The callback task of each of these calls that has one."""
        if not linkedids:
            return {}
        closing = aliased(CallRow)
        query: Any = (
            select(
                CallbackCall.linkedid,
                Task.id,
                Task.status,
                Task.due_at,
                Task.completed_at,
                User.login,
                Task.assignee_id,
                CallbackKey.closed_by_linkedid,
                closing.id,
            )
            .join(Task, Task.id == CallbackCall.task_id)
            .outerjoin(User, User.id == Task.completed_by_id)
            .outerjoin(CallbackKey, CallbackKey.task_id == Task.id)
            .outerjoin(closing, closing.linkedid == CallbackKey.closed_by_linkedid)
            .where(CallbackCall.linkedid.in_(list(linkedids)))
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        return {
            linkedid: CallbackInfo(
                task_id=task_id,
                status=status,
                due_at=due_at,
                done_at=done_at if status == TaskStatus.DONE.value else None,
                done_by=login if status == TaskStatus.DONE.value else None,
                assignee_id=assignee_id,
                closed_by_call=closed_by if status == TaskStatus.DONE.value else None,
                closed_by_call_id=closed_id if status == TaskStatus.DONE.value else None,
            )
            for (
                linkedid,
                task_id,
                status,
                due_at,
                done_at,
                login,
                assignee_id,
                closed_by,
                closed_id,
            ) in rows
        }
