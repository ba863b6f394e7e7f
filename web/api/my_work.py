"""`GET /api/my-work`: the signed-in user's day (`crm.my_work`) — open tasks and callbacks
by due time, today's calls, recent missed calls of the customers they own."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from crm.my_work import MyWork
from web.api.views import ERRORS, CallRecordView, Ref, TaskView, View
from web.auth import CurrentUser
from web.deps import get_services

router = APIRouter(responses=ERRORS, prefix="/my-work", tags=["my work"])


class MyTaskView(TaskView):
    """A task with its contact (`{"id", "name"}`, or null)."""

    contact: Ref | None


class MyTasks(View):
    overdue: list[MyTaskView]
    today: list[MyTaskView]
    later: list[MyTaskView]


class MyCallView(CallRecordView):
    """A call with its contact (`{"id", "name"}`, or null)."""

    contact: Ref | None


class MyWorkView(View):
    """The user's day; `day` is the call center's local date."""

    day: str
    generated_at: str
    tasks: MyTasks
    calls_today: list[MyCallView]
    missed: list[MyCallView]
    missed_days: int


async def my_work(request: Request, user: Any) -> dict[str, Any]:
    services = get_services(request)
    work = MyWork(services.db, services.crm.directory)
    return await work.for_user(user, ZoneInfo(services.settings.timezone))


@router.get("", response_model=MyWorkView)
async def get_my_work(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Open tasks assigned to me (overdue, due today, later; callbacks are tasks of kind
    `call_back`), the calls I answered or placed today, and the unanswered inbound calls
    of the contacts I own in the last `missed_days` days — newest first."""
    return await my_work(request, user)
