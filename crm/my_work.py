"""An agent's day in one place ("My work", `GET /api/my-work`, the `/my` page): their open
tasks and callbacks by due time (overdue, due today, later), the calls they took today,
and the recent missed calls of the customers they own.

"Today" is the call center's day (`TRUBKA_TIMEZONE`). A task is the agent's when it is
assigned to them; a call is theirs when one of their interfaces answered or placed it
(the rule of the calls list's `agent_id` filter); a customer is theirs when they are the
contact's responsible manager (`owner_id`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crm.call_records import CallRow
from crm.database import Database
from crm.models import Contact, Task, TaskStatus
from crm.tasks import task_views
from crm.timeline import call_json, call_select
from crm.users import UserDirectory, UserInfo
from kernel.agents import agent_key
from kernel.call_record import Disposition

MISSED_DAYS = 7
LIMIT = 100


def local_day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC start and end of the local day `now` falls in."""
    local = now.astimezone(tz)
    start = datetime(local.year, local.month, local.day, tzinfo=tz)
    following = (start + timedelta(days=1, hours=3)).replace(hour=0)  # DST-proof
    return start.astimezone(UTC), following.astimezone(UTC)


class MyWork:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.directory = directory

    async def for_user(
        self, user: UserInfo, tz: ZoneInfo, now: datetime | None = None
    ) -> dict[str, Any]:
        moment = now or datetime.now(UTC)
        day_start, day_end = local_day_bounds(moment, tz)
        agents, _ = await self.directory.snapshot()
        keys = sorted({agent_key(i) for i in user.interfaces})
        async with self.db.session() as session:
            tasks = list(
                (
                    await session.scalars(
                        select(Task)
                        .where(Task.assignee_id == user.id, Task.status == TaskStatus.OPEN.value)
                        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
                        .limit(LIMIT)
                    )
                ).all()
            )
            views = await task_views(session, tasks)
            calls: list[Any] = []
            if keys:
                answered = func.lower(CallRow.agent_interface)
                calls = list(
                    (
                        await session.execute(
                            call_select()
                            .where(answered.in_(keys + [f"{k}/n" for k in keys]))
                            .where(CallRow.started_at >= day_start, CallRow.started_at < day_end)
                            .order_by(CallRow.started_at.desc(), CallRow.id.desc())
                            .limit(LIMIT)
                        )
                    ).all()
                )
            missed = list(
                (
                    await session.execute(
                        call_select()
                        .join(Contact, Contact.id == CallRow.contact_id)
                        .where(Contact.owner_id == user.id)
                        .where(CallRow.direction == "inbound")
                        .where(CallRow.disposition != Disposition.ANSWERED.value)
                        .where(CallRow.started_at >= day_start - timedelta(days=MISSED_DAYS - 1))
                        .order_by(CallRow.started_at.desc(), CallRow.id.desc())
                        .limit(LIMIT)
                    )
                ).all()
            )
            contact_ids = {t["contact_id"] for t in views if t["contact_id"]}
            contact_ids |= {row.contact_id for row in [*calls, *missed] if row.contact_id}
            names: dict[int, str] = {}
            if contact_ids:
                found = await session.execute(
                    select(Contact.id, Contact.name).where(Contact.id.in_(sorted(contact_ids)))
                )
                names = {int(i): str(n) for i, n in found}

        def contact(contact_id: int | None) -> dict[str, Any] | None:
            if contact_id is None or contact_id not in names:
                return None
            return {"id": contact_id, "name": names[contact_id]}

        overdue, today, later = [], [], []
        for task in views:
            task["contact"] = contact(task["contact_id"])
            due = datetime.fromisoformat(task["due_at"]) if task["due_at"] else None
            if due is not None and due < moment:
                overdue.append(task)
            elif due is not None and due < day_end:
                today.append(task)
            else:
                later.append(task)

        def call_view(row: Any) -> dict[str, Any]:
            data = call_json(row, agents)
            data["contact"] = contact(row.contact_id)
            return data

        return {
            "day": moment.astimezone(tz).date().isoformat(),
            "generated_at": moment.isoformat(),
            "tasks": {"overdue": overdue, "today": today, "later": later},
            "calls_today": [call_view(row) for row in calls],
            "missed": [call_view(row) for row in missed],
            "missed_days": MISSED_DAYS,
        }
