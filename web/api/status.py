"""`GET /api/status`: this node's AMI link, its live calls and how many calls it stored.

The live calls follow the calls rule (`crm.call_access`): an agent sees the calls they took
part in and those linked to a contact, as on `/api/calls`; supervisors and admins see all.
The `/status` page (`web.pages.status`) shows the same rows. On a node that does not
consume AMI they come from the live view the node consuming AMI pushes, and
`live_source` says so (`web.api.status_mirror`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from crm.book_cursors import LAST_RECONCILE, BookCursors
from crm.call_access import may_see
from crm.models import Role
from crm.users import UserInfo
from kernel.phones import normalize
from telephony.records import iso
from web.api.status_mirror import live_source, mirrored, mirrored_calls, refresh
from web.auth import CurrentUser
from web.deps import get_services
from web.i18n import N_

router = APIRouter()


def live_calls(services: Any, user: UserInfo) -> list[dict[str, Any]]:
    document = mirrored(services)  # another node consumes AMI: its pushed live view
    if document is not None:
        return mirrored_calls(document, user)
    now = time.time()
    region = services.settings.default_region
    rows = []
    states = getattr(services, "pbx_states", None) or {"default": services.live}
    several = len(states) > 1
    for pbx, state in states.items():
        rows += _calls_of(state, user, now, region, pbx if several else None)
    rows.sort(key=lambda r: r["started_at"])
    return rows


def _calls_of(
    state: Any, user: UserInfo, now: float, region: str, pbx: str | None
) -> list[dict[str, Any]]:
    """One PBX's live calls the user may see (`pbx` named when there are several)."""
    rows = []
    for call in state.calls.values():
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
        if pbx is not None:
            rows[-1]["pbx"] = pbx
    return rows


def ami_status(services: Any) -> dict[str, Any] | None:
    """The AMI link for pages and metrics; None when this node does not consume AMI."""
    client = getattr(services, "ami", None)
    return client.status_json() if client is not None else None


async def books_status(services: Any, user: UserInfo) -> dict[str, Any] | None:
    """Asterisk's books (queue_log, CDR) for supervisors and admins: whether they are
    read, the last backfill run (and the books it could not read), the last
    `trubka reconcile`. None for agents."""
    if user.role not in (Role.SUPERVISOR, Role.ADMIN):
        return None
    backfill = getattr(services, "backfill", None)
    last = backfill.last if backfill is not None else None
    reconcile = await BookCursors(services.db).load(LAST_RECONCILE)
    return {
        "configured": backfill is not None,
        "last_backfill": last.to_json() if last is not None else None,
        "unreachable": list(last.unreachable) if last is not None else [],
        "last_reconcile": reconcile,
    }


@router.get("/api/status")
async def status_json(
    services: Annotated[Any, Depends(get_services)], user: CurrentUser
) -> dict[str, Any]:
    await refresh(services)  # a node without AMI: the live view pushed now
    return {
        "live_calls": live_calls(services, user),
        "stored_calls": services.call_writer.saved,
        "ami": ami_status(services),
        "books": await books_status(services, user),
        "cluster": cluster_status(services),
        "live_source": live_source(services),
        **pbx_links(services),
    }


def cluster_status(services: Any) -> dict[str, Any] | None:
    """This node among several (TRUBKA_CLUSTER); None when it runs alone."""
    cluster = getattr(services, "cluster", None)
    return cluster.status() if cluster is not None else None


def pbx_links(services: Any) -> dict[str, Any]:
    """With several PBXes (TRUBKA_PBXES): `pbxes`, each other PBX's AMI link by name
    (`ami` is the first PBX's); nothing with one."""
    edges = getattr(services, "pbx_edges", None)
    if edges is None or not edges.extras:
        return {}
    return {"pbxes": {str(row["pbx"]): row for row in edges.status()}}
