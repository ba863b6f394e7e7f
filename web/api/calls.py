"""`/api/calls`: stored call records, filtered by who is asking (`crm.call_access`).

- `GET /api/calls?since=&until=&queue=&disposition=&contact_id=&agent_id=&number=&before=&limit=`
  → `{"items": [call record + "agent" + "recording"], "next": cursor | null}`, newest
  first; pass `next` as `before` for the next page.
- `GET /api/calls/<id>` → the call record with `timeline` (its steps) and `recording`;
  403 `forbidden` for an agent the call is hidden from.

The call record is the one of docs/architecture.md ("Call record"), what
`trubka calls --json` prints, plus `id`, `company_id`, `agent` (`{"id", "name"}` of the
answering user) and `recording`
(see `recordings.views`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from crm.call_list import CallFilter, CallQuery
from kernel.phones import normalize
from recordings.views import calls_in, fill_recordings
from web.api.views import ERRORS, CallDetail, CallPage
from web.auth import CurrentUser, current_user, require_json
from web.deps import get_services
from web.params import PathId, QueryId

router = APIRouter(
    responses=ERRORS,
    prefix="/api/calls",
    tags=["calls"],
    dependencies=[Depends(require_json), Depends(current_user)],
)


def call_query(request: Request) -> CallQuery:
    services = get_services(request)
    return CallQuery(services.db, services.crm.directory)


@router.get("", response_model=CallPage)
async def list_calls(
    request: Request,
    user: CurrentUser,
    since: datetime | None = None,
    until: datetime | None = None,
    queue: Annotated[str | None, Query(max_length=80)] = None,
    disposition: Annotated[str | None, Query(max_length=16)] = None,
    contact_id: QueryId = None,
    agent_id: QueryId = None,
    number: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Calls newest first (times are ISO 8601; without a zone, UTC)."""
    services = get_services(request)
    region = services.settings.default_region
    filters = CallFilter(
        since=_utc(since),
        until=_utc(until),
        queue=queue,
        disposition=disposition,
        contact_id=contact_id,
        agent_id=agent_id,
        number=normalize(number, region) if number else None,
    )
    page = await call_query(request).list(user, filters, before=before, limit=limit)
    await fill_recordings(services.db, page["items"])
    return page


@router.get("/{call_id}", response_model=CallDetail)
async def get_call(call_id: PathId, request: Request, user: CurrentUser) -> dict[str, Any]:
    services = get_services(request)
    call = await call_query(request).get(user, call_id)
    await fill_recordings(services.db, [call])
    return call


async def with_recordings(request: Request, payload: dict[str, Any]) -> dict[str, Any]:
    """Fill the `recording` of every call in a timeline page or a card (the CRM leaves it
    null); returns `payload`."""
    await fill_recordings(get_services(request).db, calls_in(payload))
    return payload


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
