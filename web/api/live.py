"""`GET /api/live`: the supervisor's live view (the WebSocket feed pushes the same);
`?pbx=NAME` keeps one PBX's queues and agents (web/pbxes.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from web.api.access import SUPERVISOR_ONLY
from web.api.reports import get_supervisor
from web.deps import get_services
from web.pbxes import live_of_pbxes, pbx_states

router = APIRouter(prefix="/api", tags=["live"], dependencies=SUPERVISOR_ONLY)


@router.get("/live")
async def live_view(
    request: Request,
    pbx: Annotated[
        str | None, Query(max_length=64, description="only this PBX (TRUBKA_PBXES' name)")
    ] = None,
) -> dict[str, Any]:
    return await current_live_view(request, pbx=pbx)


async def current_live_view(
    request: Request, waiting_limit: int | None = None, *, pbx: str | None = None
) -> dict[str, Any]:
    """The live view document: this node's, or, while another node of a cluster consumes
    AMI, the one that node pushed (each queue's first 50 waiting callers). With several
    PBXes (or `pbx`), every PBX's view merged, or the one named (web/pbxes.py; pushed
    ones there too)."""
    services = get_services(request)
    cluster = services.cluster
    mirrored = cluster.live_document() if cluster is not None else None
    if mirrored is not None and pbx is None and len(pbx_states(services)) < 2:
        return mirrored
    return await live_of_pbxes(services, get_supervisor(request), pbx, waiting_limit=waiting_limit)
