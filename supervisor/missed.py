"""Missed calls, and whether each was called back.

A missed call is an inbound call nobody answered: a queue call that was abandoned or
left the queue unanswered, or an inbound call outside queues that no agent answered
(the same calls the reports count as `abandoned + unanswered`).

"Called back" is read two ways:

* `returned`: the first *answered* call with the same number after the missed one — an
  agent's outbound call to it, or the customer calling again and getting through —
  found in `calls` itself.
* `callback_task`: the CRM's callback task for the call (open, done, by whom), through
  the :class:`CallbackTasks` port. Until the CRM provides one, :class:`NoCallbackTasks`
  answers that no task is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select

from crm.call_records import CallRow
from crm.database import Database
from supervisor.config import ReportConfig
from supervisor.errors import ReportParameterError
from supervisor.periods import ReportPeriod
from supervisor.rollup_tables import ReportHour
from telephony.records import iso

MAX_LIMIT = 1000
RETURNED_SCAN = 20_000  # answered calls read to find the returns of one page


@dataclass(frozen=True, slots=True)
class CallbackTask:
    """The CRM's callback task for a missed call."""

    task_id: int | str
    status: str  # "open" | "done" | "cancelled"
    due_at: datetime | None = None
    done_at: datetime | None = None
    done_by: str | None = None  # the login of who closed it
    closed_by_call: str | None = None  # linkedid of the answered call that closed it
    closed_by_call_id: int | None = None  # that call's id (its page: /calls/<id>)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status,
            "due_at": iso(self.due_at.timestamp()) if self.due_at else None,
            "done_at": iso(self.done_at.timestamp()) if self.done_at else None,
            "done_by": self.done_by,
            "closed_by_call": self.closed_by_call,
            "closed_by_call_id": self.closed_by_call_id,
        }


class CallbackTasks(Protocol):
    """Port to the CRM: the callback tasks of missed calls, by the call's linkedid."""

    async def for_calls(self, linkedids: Sequence[str]) -> Mapping[str, CallbackTask]: ...


class NoCallbackTasks:
    """No CRM task store plugged in: no call has a task."""

    async def for_calls(self, linkedids: Sequence[str]) -> Mapping[str, CallbackTask]:
        return {}


def _missed_condition() -> Any:
    return and_(
        CallRow.disposition != "answered",
        or_(CallRow.queue.is_not(None), CallRow.direction == "inbound"),
    )


class MissedCalls:
    def __init__(
        self, db: Database, config: ReportConfig, tasks: CallbackTasks | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.tasks: CallbackTasks = tasks or NoCallbackTasks()

    async def list(
        self,
        period: ReportPeriod,
        *,
        queue: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Newest first: `{"total": N, "calls": [...]}` (the total from the rollups)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ReportParameterError("limit", f"must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise ReportParameterError("offset", "must not be negative")
        start, end = period.utc_bounds(self.config.timezone)
        query = (
            select(CallRow)
            .where(CallRow.started_at >= start, CallRow.started_at < end)
            .where(_missed_condition())
            .order_by(CallRow.started_at.desc(), CallRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if queue:
            query = query.where(CallRow.queue == queue)
        total_query = select(
            func.coalesce(func.sum(ReportHour.abandoned + ReportHour.unanswered), 0)
        ).where(ReportHour.day >= period.start, ReportHour.day <= period.end)
        if queue:
            total_query = total_query.where(ReportHour.queue == queue)
        async with self.db.session() as session:
            rows = list((await session.scalars(query)).all())
            total = int((await session.execute(total_query)).scalar_one())
            returned = await self._returned(session, rows)
        tasks = await self.tasks.for_calls([row.linkedid for row in rows]) if rows else {}
        calls = []
        for row in rows:
            back = returned.get(row.linkedid)
            task = tasks.get(row.linkedid)
            calls.append(
                {
                    "linkedid": row.linkedid,
                    "started_at": iso(row.started_at.timestamp()),
                    "caller_number": row.caller_number,
                    "caller_name": row.caller_name,
                    "queue": row.queue,
                    "disposition": row.disposition,
                    "wait_seconds": round(
                        float(
                            row.queue_hold_seconds
                            if row.queue_hold_seconds is not None
                            else row.wait_seconds
                        ),
                        1,
                    ),
                    "contact_id": row.contact_id,
                    "returned": back,
                    "callback_task": task.to_json() if task else None,
                }
            )
        return {"total": total, "calls": calls}

    async def _returned(self, session: Any, rows: Sequence[CallRow]) -> dict[str, dict[str, Any]]:
        """For each missed call, the first later answered call with that number."""
        numbers = {row.caller_number for row in rows if row.caller_number}
        if not numbers:
            return {}
        since = min(row.started_at for row in rows)
        later = (
            select(
                CallRow.linkedid,
                CallRow.direction,
                CallRow.caller_number,
                CallRow.called_number,
                CallRow.started_at,
                CallRow.agent_interface,
                CallRow.agent_name,
            )
            .where(CallRow.started_at > since, CallRow.disposition == "answered")
            .where(or_(CallRow.caller_number.in_(numbers), CallRow.called_number.in_(numbers)))
            .order_by(CallRow.started_at)
            .limit(RETURNED_SCAN)
        )
        answered = (await session.execute(later)).all()
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            for other in answered:
                number = (
                    other.called_number if other.direction == "outbound" else other.caller_number
                )
                if number != row.caller_number or other.started_at <= row.started_at:
                    continue
                found[row.linkedid] = {
                    "linkedid": other.linkedid,
                    "at": iso(other.started_at.timestamp()),
                    "how": "called_back" if other.direction == "outbound" else "called_again",
                    "agent_interface": other.agent_interface,
                    "agent_name": other.agent_name,
                }
                break
        return found
