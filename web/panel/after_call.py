"""`/api/panel/wrapups`: the wrap-ups the agent still owes, kept on the server.

- `GET    /api/panel/wrapups[?limit=50]` — `{"wrapups": [pending wrap-up …], "total": N,
  "hold": {…} | null}`: the answered calls of the user's whose wrap-up is neither saved
  nor skipped (the newest `limit`, oldest first; `total` counts them all), and the
  after-call hold (`linkedid`, `started_at`, `until`, `limit_seconds`)
  while Trubka holds the user out of the queues.
- `DELETE /api/panel/wrapups/{linkedid}` — skip that wrap-up (204, also when it was not
  owed): the hold that waited for it ends. A call that ended a moment ago is skipped once
  its record is stored (the wrap-up owed is written with it).

Saving a wrap-up (`POST /api/panel/wrapup`) removes it from the list too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from web.auth import CurrentUser, current_user, require_json
from web.deps import get_services
from web.panel.api import call_record_stored, calls_caught_up, was_on_call

router = APIRouter(
    prefix="/api/panel",
    tags=["panel"],
    dependencies=[Depends(require_json), Depends(current_user)],
)


@router.get("/wrapups")
async def pending_wrapups(
    request: Request,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The user's pending wrap-ups (the newest `limit`), how many in all, and their
    after-call hold."""
    services = get_services(request)
    after_call = services.after_call
    # a call that ended a moment ago is listed once its record (and the wrap-up owed,
    # written with it) is stored
    await calls_caught_up(services)
    wrapups, total = await after_call.pending(user.id, limit)
    return {"wrapups": wrapups, "total": total, "hold": after_call.hold_of(user.id)}


@router.delete("/wrapups/{linkedid}", status_code=204)
async def skip_wrapup(
    request: Request,
    user: CurrentUser,
    linkedid: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    """Skip a pending wrap-up; the hold waiting for it ends. A call of the user's that
    ended a moment ago is skipped once its record (with the wrap-up owed, written in the
    same transaction) is stored: skipped sooner, the wrap-up would be owed again after."""
    services = get_services(request)
    if await was_on_call(services, user, linkedid):
        await call_record_stored(services, linkedid)
    await services.after_call.done(user.id, linkedid)
    return Response(status_code=204)
