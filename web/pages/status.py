"""The status page `/status`: the AMI link, live calls and the most recent call records.

Both follow the calls rule (`crm.call_access`): an agent sees the calls they took part
in and those linked to a contact, as on `/api/calls`; supervisors and admins see all.
The live calls and the AMI link are the rows of `GET /api/status` (`web.api.status`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from crm.call_list import CallFilter, CallQuery
from crm.users import UserInfo
from web.api.status import ami_status, books_status, live_calls
from web.api.status_mirror import refresh
from web.deps import get_services
from web.i18n import N_
from web.pages import page_user, render

DISPOSITIONS = (N_("answered"), N_("abandoned"), N_("no-answer"), N_("busy"), N_("failed"))
AMI_STATES = (
    N_("stopped"),
    N_("connecting"),
    N_("logging_in"),
    N_("resyncing"),
    N_("connected"),
    N_("waiting"),
)

router = APIRouter()


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(
    request: Request,
    services: Annotated[Any, Depends(get_services)],
    user: Annotated[UserInfo, Depends(page_user)],
) -> HTMLResponse:
    recent = await CallQuery(services.db, services.crm.directory).list(user, CallFilter(), limit=50)
    await refresh(services)  # a node without AMI: the live view pushed now
    return render(
        request,
        "status.html",
        {
            "live": live_calls(services, user),
            "recent": recent["items"],
            "ami": ami_status(services),
            "books": await books_status(services, user),
        },
        user=user,
    )
