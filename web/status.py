"""The status page: live calls and the most recent call records.

Both follow the calls rule (`crm.call_access`): an agent sees the calls they took part
in and those linked to a contact, as on `/api/calls`; supervisors and admins see all.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from crm.call_access import may_see
from crm.call_list import CallFilter, CallQuery
from crm.users import UserInfo
from kernel.phones import normalize
from telephony.records import iso
from web.auth import CurrentUser
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


def live_calls(services: Any, user: UserInfo) -> list[dict[str, Any]]:
    now = time.time()
    region = services.settings.default_region
    rows = []
    for call in services.live.calls.values():
        if call.partial or not may_see(user, call):
            continue
        rows.append(
            {
                "linkedid": call.linkedid,
                "caller_number": normalize(call.caller_num, region),
                "caller_name": call.caller_name,
                "queue": call.queue,
                "agent": call.agent_name or call.agent_interface,
                "state": N_("talking")
                if call.answered_at
                else (N_("queued") if call.queue else N_("ringing")),
                "started_at": iso(call.started_at),
                "seconds": round(now - call.started_at, 1),
            }
        )
    rows.sort(key=lambda r: r["started_at"])
    return rows


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(
    request: Request,
    services: Annotated[Any, Depends(get_services)],
    user: Annotated[UserInfo, Depends(page_user)],
) -> HTMLResponse:
    recent = await CallQuery(services.db, services.crm.directory).list(user, CallFilter(), limit=50)
    return render(
        request,
        "status.html",
        {
            "live": live_calls(services, user),
            "recent": recent["items"],
            "ami": ami_status(services),
        },
        user=user,
    )


def ami_status(services: Any) -> dict[str, Any] | None:
    """The AMI link for pages and metrics; None when this node does not consume AMI."""
    client = getattr(services, "ami", None)
    return client.status_json() if client is not None else None


@router.get("/api/status")
async def status_json(
    services: Annotated[Any, Depends(get_services)], user: CurrentUser
) -> dict[str, Any]:
    return {
        "live_calls": live_calls(services, user),
        "stored_calls": services.call_writer.saved,
        "ami": ami_status(services),
    }
