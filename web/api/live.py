"""`GET /api/live`: the supervisor's live view (the WebSocket feed pushes the same);
`?pbx=NAME` keeps one PBX's queues and agents (web/pbxes.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from web.api.access import SUPERVISOR_ONLY
from web.api.reports import get_supervisor
from web.deps import get_services
from web.pbxes import live_of_pbxes

router = APIRouter(prefix="/api", tags=["live"], dependencies=SUPERVISOR_ONLY)


@router.get("/live")
async def live_view(
    request: Request,
    pbx: Annotated[
        str | None, Query(max_length=64, description="only this PBX (TRUBKA_PBXES' name)")
    ] = None,
) -> dict[str, Any]:
    return await live_of_pbxes(get_services(request), get_supervisor(request), pbx)
