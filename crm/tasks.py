"""Tasks: call back, meet, send documents — with a due time, an assignee and a status.

An agent creates tasks for themselves and sees the tasks assigned to or created by them;
supervisors see and assign all. `create_callback` is for automation (a missed call
becomes a call-back task for the contact's owner).

Who may read a task (`may_read`, and `readable_clause` in SQL, one rule for the list and
for one task): supervisors and admins every task; an agent the tasks assigned to or
created by them, and the tasks of a contact or a company, whose card and timeline every
signed-in user reads. Another agent's task about no one stays theirs: not listed, and
"not found" by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.contacts import iso, now, require_user
from crm.database import Database
from crm.errors import Forbidden, InvalidInput, NotFound
from crm.models import Company, Contact, Deal, Task, TaskStatus
from crm.schemas import TaskCreate, TaskUpdate, changes
from crm.users import user_names
from crm.versioned import Entity

TASKS = Entity(Task, "task", "this task was changed by someone else")


async def task_views(session: AsyncSession, tasks: list[Task]) -> list[dict[str, Any]]:
    user_ids = {i for t in tasks for i in (t.assignee_id, t.created_by_id) if i is not None}
    users = await user_names(session, user_ids)
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "title": t.title,
            "description": t.description,
            "status": t.status,
            "due_at": iso(t.due_at),
            "assignee_id": t.assignee_id,
            "assignee": {"id": t.assignee_id, "name": users.get(t.assignee_id)}
            if t.assignee_id
            else None,
            "created_by_id": t.created_by_id,
            "contact_id": t.contact_id,
            "company_id": t.company_id,
            "deal_id": t.deal_id,
            "call_linkedid": t.call_linkedid,
            "created_at": iso(t.created_at),
            "updated_at": iso(t.updated_at),
            "completed_at": iso(t.completed_at),
            "completed_by_id": t.completed_by_id,
            "version": t.version,
        }
        for t in tasks
    ]


def may_read(actor: Actor, task: Task) -> bool:
    """The task is open to this actor (the same rule as `readable_clause`)."""
    if actor.is_manager or actor.user_id in (task.assignee_id, task.created_by_id):
        return True
    return task.contact_id is not None or task.company_id is not None


def readable_clause(actor: Actor) -> ColumnElement[bool] | None:
    """A WHERE clause on tasks with the outcome of `may_read` (None: every task)."""
    if actor.is_manager:
        return None
    return or_(
        Task.assignee_id == actor.user_id,
        Task.created_by_id == actor.user_id,
        Task.contact_id.is_not(None),
        Task.company_id.is_not(None),
    )


class TaskService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, data: TaskCreate, actor: Actor) -> dict[str, Any]:
        assignee_id = data.assignee_id if "assignee_id" in data.model_fields_set else actor.user_id
        if not actor.is_manager and assignee_id != actor.user_id:
            raise Forbidden(
                "only a supervisor can assign tasks to someone else", field="assignee_id"
            )
        async with self.db.transaction() as session:
            await require_user(session, assignee_id, "assignee_id")
            await self._require_subjects(session, data.contact_id, data.company_id, data.deal_id)
            stamp = now()
            task = Task(
                kind=data.kind.value,
                title=data.title,
                description=data.description,
                status=TaskStatus.OPEN.value,
                due_at=data.due_at,
                assignee_id=assignee_id,
                created_by_id=actor.user_id,
                contact_id=data.contact_id,
                company_id=data.company_id,
                deal_id=data.deal_id,
                call_linkedid=data.call_linkedid,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(task)
            await session.flush()
            return (await task_views(session, [task]))[0]

    async def _require_subjects(
        self,
        session: AsyncSession,
        contact_id: int | None,
        company_id: int | None,
        deal_id: int | None,
    ) -> None:
        for model, value, field in (
            (Contact, contact_id, "contact_id"),
            (Company, company_id, "company_id"),
            (Deal, deal_id, "deal_id"),
        ):
            if value is not None and await session.get(model, value) is None:
                raise InvalidInput(
                    f"{field.removesuffix('_id')} {value} does not exist", field=field
                )

    async def get(self, task_id: int, actor: Actor | None = None) -> dict[str, Any]:
        """One task (`actor`: as they may read it, else NotFound, as the list hides it)."""
        async with self.db.session() as session:
            task = await TASKS.get(session, task_id)
            if actor is not None and not may_read(actor, task):
                raise NotFound(f"task {task_id} not found")
            return (await task_views(session, [task]))[0]

    async def list(
        self,
        actor: Actor,
        *,
        status: str | None = TaskStatus.OPEN.value,
        assignee_id: int | None = None,
        contact_id: int | None = None,
        due_before: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Tasks by due time (undated last). Agents see only theirs unless filtering by contact."""
        query = select(Task)
        readable = readable_clause(actor)
        if readable is not None:
            query = query.where(readable)
        if status:
            query = query.where(Task.status == status)
        if assignee_id is not None:
            query = query.where(Task.assignee_id == assignee_id)
        if contact_id is not None:
            query = query.where(Task.contact_id == contact_id)
        elif not actor.is_manager:
            query = query.where(
                or_(Task.assignee_id == actor.user_id, Task.created_by_id == actor.user_id)
            )
        if due_before is not None:
            query = query.where(Task.due_at < due_before)
        query = query.order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit)
        async with self.db.session() as session:
            return await task_views(session, list((await session.scalars(query)).all()))

    async def update(self, task_id: int, data: TaskUpdate, actor: Actor) -> dict[str, Any]:
        fields = changes(data)
        async with TASKS.updating(self.db, task_id, data.version) as (session, task):
            if not actor.is_manager and actor.user_id not in (
                task.assignee_id,
                task.created_by_id,
            ):
                raise Forbidden(
                    "only the assignee, the author or a supervisor can change this task"
                )
            if "assignee_id" in fields and data.assignee_id != task.assignee_id:
                if not actor.is_manager and data.assignee_id != actor.user_id:
                    raise Forbidden(
                        "only a supervisor can assign tasks to someone else",
                        field="assignee_id",
                    )
                await require_user(session, data.assignee_id, "assignee_id")
                task.assignee_id = data.assignee_id
            if data.title is not None:
                task.title = data.title
            if data.kind is not None:
                task.kind = data.kind.value
            if data.description is not None:
                task.description = data.description
            if "due_at" in fields:
                task.due_at = data.due_at
            if data.status is not None and data.status.value != task.status:
                task.status = data.status.value
                task.completed_at = now() if data.status == TaskStatus.DONE else None
                task.completed_by_id = actor.user_id if data.status == TaskStatus.DONE else None
            task.updated_at = now()
            await session.flush()
            return (await task_views(session, [task]))[0]

    async def delete(self, task_id: int, actor: Actor) -> None:
        async with self.db.transaction() as session:
            task = await TASKS.get(session, task_id)
            if not actor.is_manager and task.created_by_id != actor.user_id:
                raise Forbidden("only the author or a supervisor can delete this task")
            await session.delete(task)
