"""/api/tasks: call-backs, meetings, documents to send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from crm.models import TaskStatus
from crm.schemas import TaskCreate, TaskUpdate
from web.api.views import ERRORS, TaskPage, TaskView
from web.auth import CurrentActor, crm_of
from web.params import PathId, QueryId

router = APIRouter(responses=ERRORS, prefix="/tasks", tags=["tasks"])


@router.get("", response_model=TaskPage)
async def list_tasks(
    request: Request,
    actor: CurrentActor,
    status: TaskStatus | None = TaskStatus.OPEN,
    assignee_id: QueryId = None,
    contact_id: QueryId = None,
    due_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Tasks by due time; agents get theirs (assigned to or created by them)."""
    items = await crm_of(request).tasks.list(
        actor,
        status=status.value if status else None,
        assignee_id=assignee_id,
        contact_id=contact_id,
        due_before=due_before,
        limit=limit,
    )
    return {"items": items}


@router.post("", status_code=201, response_model=TaskView)
async def create_task(body: TaskCreate, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return await crm_of(request).tasks.create(body, actor)


@router.get("/{task_id}", response_model=TaskView)
async def get_task(task_id: PathId, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """The task, if the list would show it to this user (404 otherwise)."""
    return await crm_of(request).tasks.get(task_id, actor)


@router.patch("/{task_id}", response_model=TaskView)
async def update_task(
    task_id: PathId, body: TaskUpdate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    return await crm_of(request).tasks.update(task_id, body, actor)


@router.delete("/{task_id}", status_code=204)
async def delete_task(task_id: PathId, request: Request, actor: CurrentActor) -> Response:
    await crm_of(request).tasks.delete(task_id, actor)
    return Response(status_code=204)
