"""`GET /api/live`: the supervisor's live view (the WebSocket feed pushes the same)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from web.api.access import SUPERVISOR_ONLY
from web.api.reports import get_supervisor
from web.deps import get_services

router = APIRouter(prefix="/api", tags=["live"], dependencies=SUPERVISOR_ONLY)


@router.get("/live")
async def live_view(request: Request) -> dict[str, Any]:
    return await current_live_view(request)


async def current_live_view(request: Request, waiting_limit: int | None = None) -> dict[str, Any]:
    """The live view document: this node's, or, while another node of a cluster consumes
    AMI, the one that node pushed (each queue's first 50 waiting callers)."""
    services = get_services(request)
    cluster = services.cluster
    mirrored = cluster.live_document() if cluster is not None else None
    if mirrored is not None:
        return mirrored
    return await get_supervisor(request).live_view(services.live, waiting_limit=waiting_limit)
